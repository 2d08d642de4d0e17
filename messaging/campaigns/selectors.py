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

from crm.models import Contact
from crm.selectors import segment_contacts
from messaging.campaigns.models import Campaign, CampaignState, CampaignTransition
from messaging.providers.error_codes import error_code_info
from messaging.sending.models import Direction, Message, MessageType, Status
from messaging.sending.policy import (
    Reason,
    SendKind,
    exclusion_key,
    send_kind,
    send_policy_audience_q,
    send_policy_check_number,
    send_policy_check_template,
)

# Before launch nothing has been sent, so settings may still change and pre-flight applies.
EDITABLE_STATES = (CampaignState.DRAFT, CampaignState.SCHEDULED)
CONTACT_FIELDS = ("name", "profile_name", "phone", "language", "wa_id")
# What each exclusion (a send policy reason, under its report key) reads as on the page.
EXCLUSION_LABELS = {
    exclusion_key(Reason.CONTACT_BLOCKED): "blocked",
    exclusion_key(Reason.CONTACT_UNDELIVERABLE): "undeliverable",
    exclusion_key(Reason.NO_ADDRESS): "no phone number",
    Reason.NO_CONSENT.value: "no marketing consent",
    Reason.WINDOW_CLOSED.value: "window closed at send time",
    Reason.TEMPLATE_PAUSED.value: "template paused at send time",
    Reason.TEMPLATE_NOT_APPROVED.value: "template not approved at send time",
    Reason.TEMPLATE_PARAMETERS_MISSING.value: "template parameters missing at send time",
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


def campaign_kind(campaign: Campaign) -> SendKind:
    """What the campaign's template is sent as (marketing needs consent)."""
    return send_kind(campaign.template) if campaign.template else SendKind.UTILITY


def _exclusion_conditions(campaign: Campaign) -> dict[str, Q]:
    """The send policy's reasons a targeted contact is not sent to, by report key: mutually
    exclusive, in order of precedence."""
    conditions = send_policy_audience_q(kind=campaign_kind(campaign))
    return {exclusion_key(code): condition for code, condition in conditions.items()}


def campaign_sendable(campaign: Campaign) -> QuerySet[Contact]:
    """The audience less everyone an exclusion reason applies to: who launch writes rows for."""
    excluded = Q()
    for condition in _exclusion_conditions(campaign).values():
        excluded |= condition
    return campaign_audience(campaign).exclude(excluded)


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
    unsendable = send_policy_check_template(template=template)
    if unsendable is not None:
        problems.append(unsendable.message)
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
    return problems


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
    if campaign.throttle_mps and campaign.throttle_mps > campaign.channel.throughput_mps:
        problems.append(
            f"Throttle {campaign.throttle_mps}/s is above the channel's "
            f"{campaign.channel.throughput_mps}/s."
        )
    audience = campaign_audience(campaign)
    counts = audience.aggregate(
        n_total=Count("pk"),
        **{
            f"n_{reason}": Count("pk", filter=condition)
            for reason, condition in _exclusion_conditions(campaign).items()
        },
    )
    total = counts.pop("n_total")
    excluded = {reason.removeprefix("n_"): n for reason, n in counts.items() if n}
    sendable = total - sum(excluded.values())
    # The number: its state, and its budget for everyone the campaign would send to.
    number = send_policy_check_number(
        channel=campaign.channel, kind=campaign_kind(campaign), count=max(sendable, 1)
    )
    if number is not None:
        problems.append(number.message)
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
    """Counts by status, current rate, time remaining, exclusions and the error breakdown, in
    one query.

    One GROUP BY (status, error code, refusal) over the campaign's messages carries
    everything: the status counts are its sums, the errors its failed rows, the rate a
    filtered count in it. A message the send policy refused at send time (the contact opted
    out, the template was paused...) was never sent: it counts as `excluded`, with the
    contacts excluded at launch, not as a failure.
    """
    minute_ago = timezone.now() - timedelta(seconds=60)
    rows = (
        Message.objects.filter(campaign=campaign)
        .values_list("status", "error_code", "refusal")
        .annotate(n=Count("pk"), last_minute=Count("pk", filter=Q(accepted_at__gte=minute_ago)))
        .order_by()
    )
    by_status: dict[int, int] = {}
    errors: dict[int | None, int] = {}
    refused: dict[str, int] = {}
    last_minute = 0
    for status, code, refusal, n, recent in rows:
        last_minute += recent
        if refusal:
            key = exclusion_key(refusal)
            refused[key] = refused.get(key, 0) + n
            continue
        by_status[status] = by_status.get(status, 0) + n
        if status == Status.FAILED:
            errors[code] = errors.get(code, 0) + n
    counts = {Status(s).name.lower(): n for s, n in by_status.items()}
    if refused:
        counts["excluded"] = sum(refused.values())
    excluded = dict(campaign.excluded or {})
    for key, n in refused.items():
        excluded[key] = excluded.get(key, 0) + n
    total = sum(by_status.values()) + sum(refused.values())
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
        "excluded": excluded,
        "excluded_at_send": refused,
        "rate_per_second": round(rate, 2),
        "seconds_remaining": round(pending / rate) if rate and pending else None,
        "errors": [
            {"code": code, "meaning": error_code_info(code).meaning, "count": n}
            for code, n in sorted(errors.items(), key=lambda kv: -kv[1])
        ],
    }
