"""Reads over campaigns: the list, who a campaign reaches, pre-flight and progress.

Each selector decides its own joins; views, the API and the services call these rather than
querying campaigns, their audience or their messages themselves.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from core.ssrf import UnsafeUrl, url_check_public
from crm.models import Consent, Contact
from crm.selectors import segment_contacts
from messaging.campaigns.models import Campaign, CampaignState, CampaignTransition
from messaging.channels.models import TemplateCategory
from messaging.channels.selectors import template_unsendable_reason
from messaging.providers.error_codes import error_code_info
from messaging.sending.models import Direction, Message, MessageType, Status

# Before launch nothing has been sent, so settings may still change and pre-flight applies.
EDITABLE_STATES = (CampaignState.DRAFT, CampaignState.SCHEDULED)
CONTACT_FIELDS = ("name", "profile_name", "phone", "language", "wa_id")
EXCLUSION_LABELS = {
    "blocked": "blocked",
    "undeliverable": "undeliverable",
    "no_phone": "no phone number",
    "no_consent": "no marketing consent",
}


def campaign_list() -> QuerySet[Campaign]:
    return (
        Campaign.objects.select_related("channel", "template__channel", "segment")
        .prefetch_related("tags")
        .order_by("-created_at")
    )


def campaign_is_editable(campaign: Campaign) -> bool:
    """Whether the campaign's settings, audience and mapping may still change.

    The one answer for pages, the API and the services: a draft or scheduled campaign has
    materialised no message yet; once launched, what was sent must stay explained by what the
    campaign says.
    """
    return campaign.state in EDITABLE_STATES


def campaign_transitions(campaign: Campaign) -> QuerySet[CampaignTransition]:
    """The campaign's history, oldest first, with who made each change."""
    return campaign.transitions.select_related("actor")


# --- Audience ----------------------------------------------------------------------------------


def campaign_audience(campaign: Campaign) -> QuerySet[Contact]:
    """Everyone the campaign targets, before exclusions."""
    if campaign.segment_id:
        return segment_contacts(campaign.segment)
    tag_ids = _tag_ids(campaign)
    if not tag_ids:
        return Contact.objects.none()
    if campaign.tags_match == "all":
        qs = Contact.objects.all()
        for tag_id in tag_ids:
            qs = qs.filter(
                Exists(
                    Contact.tags.through.objects.filter(contact_id=OuterRef("pk"), tag_id=tag_id)
                )
            )
        return qs
    return Contact.objects.filter(
        Exists(Contact.tags.through.objects.filter(contact_id=OuterRef("pk"), tag_id__in=tag_ids))
    )


def _tag_ids(campaign: Campaign) -> list[int]:
    """Through `.all()`, so tags prefetched by `campaign_list` cost no query."""
    return [tag.pk for tag in campaign.tags.all()]


def campaign_sample_contact(campaign: Campaign) -> dict[str, Any] | None:
    """The first targeted contact, as the fields and attributes a mapping can use (previews)."""
    return campaign_audience(campaign).values("attributes", *CONTACT_FIELDS).first()


def _exclusion_conditions(marketing: bool) -> dict[str, Q]:
    """Mutually exclusive reasons a targeted contact is not sent to, in order of precedence."""
    no_address = Q(phone__isnull=True, wa_id__isnull=True, bsuid__isnull=True)
    ok_so_far = Q(blocked=False, undeliverable=False) & ~no_address
    reasons = {
        "blocked": Q(blocked=True),
        "undeliverable": Q(blocked=False, undeliverable=True),
        "no_phone": Q(blocked=False, undeliverable=False) & no_address,
    }
    if marketing:
        reasons["no_consent"] = ok_so_far & ~Q(consent=Consent.OPTED_IN)
    return reasons


def campaign_sendable(campaign: Campaign) -> QuerySet[Contact]:
    """The audience less everyone an exclusion reason applies to: who launch writes rows for."""
    audience = campaign_audience(campaign)
    marketing = bool(campaign.template and campaign.template.category == TemplateCategory.MARKETING)
    excluded = Q()
    for condition in _exclusion_conditions(marketing).values():
        excluded |= condition
    return audience.exclude(excluded)


# --- Pre-flight --------------------------------------------------------------------------------


@dataclass
class Preflight:
    ok: bool
    problems: list[str] = field(default_factory=list)
    audience: int = 0
    sendable: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    recipients_last_24h: int = 0
    unique_recipient_limit: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _mapping_problems(campaign: Campaign) -> list[str]:
    template = campaign.template
    if template is None:
        return ["Choose a template."]
    problems = []
    unsendable = template_unsendable_reason(template)
    if unsendable:
        problems.append(unsendable)
    if template.channel_id != campaign.channel_id:
        problems.append("The template belongs to another channel.")
    mapping = campaign.parameter_mapping or {}
    declared = template.parameters or {}
    for part in ("header", "body"):
        expected = declared.get(part) or []
        given = mapping.get(part) or []
        if len(given) < len(expected) or any(not _valid_source(item) for item in given):
            problems.append(
                f"Map every {part} parameter ({len(expected)} needed, {len(given)} mapped)."
            )
    for index in declared.get("buttons") or {}:
        if not _valid_source((mapping.get("buttons") or {}).get(str(index))):
            problems.append(f"Map the parameter of button {index}.")
    header = next(
        (c for c in template.components if str(c.get("type", "")).upper() == "HEADER"), {}
    )
    if str(header.get("format", "")).upper() in {"IMAGE", "VIDEO", "DOCUMENT"} and not (
        mapping.get("header_media_link")
    ):
        problems.append("The template's header needs a media link.")
    media_problem = header_media_link_problem(mapping)
    if media_problem:
        problems.append(media_problem)
    return problems


def header_media_link_problem(mapping: Any) -> str | None:
    """Why a mapping's `header_media_link` may not go out, or None (none set, or public).

    The link is sent to WhatsApp with every message of the campaign, so it passes the same
    SSRF guard as a single send (`core.ssrf`): http(s) on a standard port, no credentials,
    and a host whose every address is public (not private, loopback, link-local such as the
    cloud metadata address 169.254.169.254, or reserved). Checked when the mapping is saved,
    again at pre-flight and so at launch, since DNS may have changed in between.
    """
    link = mapping.get("header_media_link") if isinstance(mapping, dict) else None
    if not link:
        return None
    if not isinstance(link, str):
        return "The header media link must be a URL."
    try:
        url_check_public(link)
    except UnsafeUrl as exc:
        return f"Header media link refused: {exc.message}"
    return None


def _valid_source(item) -> bool:
    return (
        isinstance(item, dict)
        and item.get("source") in {"field", "attribute", "constant"}
        and bool(str(item.get("value", "")).strip())
        and (item["source"] != "field" or item["value"] in CONTACT_FIELDS)
    )


def recipients_last_24h(channel_id: int) -> int:
    """Unique contacts reached with business-initiated (template) messages in 24 hours."""
    since = timezone.now() - timedelta(hours=24)
    return (
        Message.objects.filter(
            channel_id=channel_id,
            direction=Direction.OUTBOUND,
            type=MessageType.TEMPLATE,
            created_at__gte=since,
        )
        .exclude(status__in=[Status.FAILED, Status.CANCELLED])
        .values("contact_id")
        .distinct()
        .count()
    )


def campaign_preflight(campaign: Campaign) -> Preflight:
    """Everything a launcher should know before pressing the button.

    Two queries (the audience's counts, the channel's recent recipients) for a campaign from
    `campaign_list`, whose channel, template, segment and tags are already loaded.
    """
    problems = _mapping_problems(campaign)
    if not campaign_is_editable(campaign):
        problems.append(f"The campaign is {campaign.state}.")
    if not campaign.channel.is_active or campaign.channel.paused_reason:
        problems.append(f"Channel {campaign.channel.name} is not sending.")
    if campaign.throttle_mps and campaign.throttle_mps > campaign.channel.throughput_mps:
        problems.append(
            f"Throttle {campaign.throttle_mps}/s is above the channel's "
            f"{campaign.channel.throughput_mps}/s."
        )
    marketing = bool(campaign.template and campaign.template.category == TemplateCategory.MARKETING)
    audience = campaign_audience(campaign)
    counts = audience.aggregate(
        n_total=Count("pk"),
        **{
            f"n_{reason}": Count("pk", filter=condition)
            for reason, condition in _exclusion_conditions(marketing).items()
        },
    )
    total = counts.pop("n_total")
    excluded = {reason.removeprefix("n_"): n for reason, n in counts.items() if n}
    sendable = total - sum(excluded.values())
    if not campaign.segment_id and not _tag_ids(campaign):
        problems.append("Choose an audience: a segment or tags.")
    elif sendable == 0:
        problems.append("Nobody in the audience can be sent to.")
    recent = recipients_last_24h(campaign.channel_id)
    limit = settings.MESSAGING_UNIQUE_RECIPIENT_LIMIT
    if limit and recent + sendable > limit:
        problems.append(
            f"{recent:,} recipients in the last 24 h plus {sendable:,} would pass the business's "
            f"limit of {limit:,} unique recipients per 24 hours."
        )
    return Preflight(
        ok=not problems,
        problems=problems,
        audience=total,
        sendable=sendable,
        excluded=excluded,
        recipients_last_24h=recent,
        unique_recipient_limit=limit,
    )


# --- Progress ----------------------------------------------------------------------------------


def campaign_progress(campaign: Campaign) -> dict[str, Any]:
    """Counts by status, current rate, time remaining and the error breakdown, in one query.

    One GROUP BY (status, error code) over the campaign's messages carries everything: the
    status counts are its sums, the errors its failed rows, the rate a filtered count in it.
    """
    minute_ago = timezone.now() - timedelta(seconds=60)
    rows = (
        Message.objects.filter(campaign=campaign)
        .values_list("status", "error_code")
        .annotate(n=Count("pk"), last_minute=Count("pk", filter=Q(accepted_at__gte=minute_ago)))
        .order_by()
    )
    by_status: dict[int, int] = {}
    errors: dict[int | None, int] = {}
    last_minute = 0
    for status, code, n, recent in rows:
        by_status[status] = by_status.get(status, 0) + n
        last_minute += recent
        if status == Status.FAILED:
            errors[code] = errors.get(code, 0) + n
    counts = {Status(s).name.lower(): n for s, n in by_status.items()}
    total = sum(by_status.values())
    pending = sum(by_status.get(s, 0) for s in (Status.QUEUED, Status.SENDING, Status.PAUSED))
    rate = last_minute / 60
    delivered = sum(by_status.get(s, 0) for s in (Status.DELIVERED, Status.READ))
    return {
        "state": campaign.state,
        "total": total,
        "counts": counts,
        "pending": pending,
        "done": total - pending,
        "percent": round(100 * (total - pending) / total, 1) if total else 0.0,
        "delivered": delivered,
        "rate_per_second": round(rate, 2),
        "seconds_remaining": round(pending / rate) if rate and pending else None,
        "errors": [
            {"code": code, "meaning": error_code_info(code).meaning, "count": n}
            for code, n in sorted(errors.items(), key=lambda kv: -kv[1])
        ],
    }
