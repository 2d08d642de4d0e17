"""Reads over campaigns: the list, who a campaign reaches, pre-flight and progress.

Each selector decides its own joins; views, the API and the services call these rather than
querying campaigns, their audience or their messages themselves.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.ssrf import url_public_problem
from crm.models import Contact
from crm.selectors import segment_contacts
from messaging.campaigns.mapping import CONTACT_VALUES, mapping_item_problem
from messaging.campaigns.models import (
    Campaign,
    CampaignState,
    CampaignTestSend,
    CampaignTransition,
)
from messaging.channels.health import BLOCKED_STATUSES
from messaging.channels.models import Channel
from messaging.channels.selectors import (
    channel_budget_left,
    channel_recipients_24h,
    channel_unique_recipient_limit,
    channels_with_health,
)
from messaging.media.content import asset_ref_id
from messaging.media.models import MediaAsset
from messaging.providers.error_codes import error_code_info
from messaging.sending.models import UNCONFIRMED, Message, MessageType, Status
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


def campaign_test_sends(campaign: Campaign, *, limit: int = 10) -> list[CampaignTestSend]:
    """The campaign's latest test sends with their message (its status), who sent them and
    whose values they showed."""
    return list(
        campaign.test_sends.select_related(
            "message", "message__contact", "sent_by", "sample_contact"
        ).order_by("-created_at", "-pk")[:limit]
    )


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


def campaign_sample_contacts(campaign: Campaign, *, limit: int = 3) -> list[dict[str, Any]]:
    """A few real contacts of the audience, as the values a mapping reads (`CONTACT_VALUES`),
    for previews and test sends: those the campaign would send to first, then (when fewer
    can be sent to) any the audience targets. Two short queries on the primary key."""
    sample = list(campaign_sendable(campaign).order_by("pk").values(*CONTACT_VALUES)[:limit])
    if len(sample) < limit:
        seen = [row["pk"] for row in sample]
        sample += list(
            campaign_audience(campaign)
            .exclude(pk__in=seen)
            .order_by("pk")
            .values(*CONTACT_VALUES)[: limit - len(sample)]
        )
    return sample


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
    unique_recipient_limit: int | None = None  # None: unlimited
    budget_left: int | None = None  # None: unlimited
    over_budget: int = 0  # sendable contacts beyond the budget
    spread_over_budget: bool = False
    budget_problem: str = ""  # why the audience does not fit (a problem unless spread)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def spread_would_launch(self) -> bool:
        """The budget is the only problem: spreading the campaign would let it launch."""
        return bool(self.budget_problem) and self.problems == [self.budget_problem]


def campaign_message_problems(campaign: Campaign) -> list[str]:
    """What stops the campaign's message from going out as mapped (empty: it can): its
    template, every variable mapped, the header media link. Pre-flight and test sends."""
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
    header_format = str(header.get("format", "")).upper()
    if header_format in {"IMAGE", "VIDEO", "DOCUMENT"} and not (
        mapping.get("header_media_link") or mapping.get("header_media_asset")
    ):
        problems.append("The template's header needs a media library file or a media link.")
    media_problem = header_media_link_problem(mapping) or header_media_asset_problem(
        mapping, header_format.lower()
    )
    if media_problem:
        problems.append(media_problem)
    return problems


def header_media_asset_problem(mapping: Any, kind: str | None = None) -> str | None:
    """Why a mapping's `header_media_asset` (a media library id) cannot go out, or None: it
    must name a library file, of the header's kind when `kind` is known."""
    ref = mapping.get("header_media_asset") if isinstance(mapping, dict) else None
    if ref in (None, ""):
        return None
    asset_id = asset_ref_id(ref)
    asset = MediaAsset.objects.filter(pk=asset_id).first() if asset_id else None
    if asset is None:
        return f"Header media file {ref} is not in the media library."
    if kind and asset.kind != kind:
        return f"Header media file {asset.name} is a {asset.kind} file; the header needs {kind}."
    return None


def header_media_link_problem(mapping: Any) -> str | None:
    """Why a mapping's `header_media_link` may not go out, or None (none set, or public).

    The link is sent to WhatsApp with every message of the campaign, so it passes the same
    SSRF guard as a single send (`core.ssrf`): http(s) on a standard port, no credentials,
    and a host whose every address is public (not private, loopback, link-local such as the
    cloud metadata address 169.254.169.254, or reserved). Checked when the mapping is saved,
    again at pre-flight and so at launch, since DNS may have changed in between.
    """
    link = mapping.get("header_media_link") if isinstance(mapping, dict) else None
    problem = url_public_problem(link) if link else None
    return f"Header media link refused: {problem}" if problem else None


def _valid_source(item) -> bool:
    return mapping_item_problem(item) is None


def campaign_preflight(campaign: Campaign) -> Preflight:
    """Everything a launcher should know before pressing the button.

    Two queries (the audience's counts, the number's budget) for a campaign from
    `campaign_list`, whose channel, template, segment and tags are already loaded.
    """
    problems = campaign_message_problems(campaign)
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
    # The number's state; its budget is weighed below, where spreading can answer it.
    number = send_policy_check_number(
        channel=campaign.channel, kind=campaign_kind(campaign), count=0
    )
    if number is not None:
        problems.append(number.message)
    if not campaign.segment_id and not _tag_ids(campaign):
        problems.append("Choose an audience: a segment or tags.")
    elif sendable == 0:
        problems.append("Nobody in the audience can be sent to.")
    budget = channel_budget(campaign.channel)
    room = budget.room
    over = max(0, sendable - room) if room is not None else 0
    budget_problem = ""
    if over:
        budget_problem = (
            budget_reason(campaign.channel, budget)
            + f" This campaign would reach {sendable:,}: send to fewer, or spread it over"
            " the budget."
        )
        if not campaign.spread_over_budget:
            problems.append(budget_problem)
    return Preflight(
        ok=not problems,
        problems=problems,
        audience=total,
        sendable=sendable,
        excluded=excluded,
        recipients_last_24h=budget.recipients_24h,
        unique_recipient_limit=budget.limit,
        budget_left=room,
        over_budget=over,
        spread_over_budget=campaign.spread_over_budget,
        budget_problem=budget_problem,
    )


# --- The number's budget -----------------------------------------------------------------------

# Sends that will count against the budget once accepted: queued, being sent, or sent with the
# answer lost. Held (paused) messages do not: they wait for room.
_PENDING_SENDS = [Status.QUEUED, Status.SENDING, Status.UNKNOWN]


@dataclass(frozen=True)
class NumberBudget:
    """A number's messaging budget as campaigns see it."""

    recipients_24h: int
    limit: int | None  # None: unlimited
    budget_left: int | None  # the limit less the recipients (`channel_budget_left`)
    room: int | None  # what campaigns may still queue: the budget less the sends on their way


def channel_budget(channel: Channel) -> NumberBudget:
    """The number's recipients of 24 hours, limit, budget left and room, in one query.

    The room is the budget less the template messages already on their way; conservative: a
    queued message to someone reached today counts although Meta would not count it again.
    """
    pending = (
        Message.objects.filter(
            channel=OuterRef("pk"), type=MessageType.TEMPLATE, status__in=_PENDING_SENDS
        )
        .order_by()
        .values("channel_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    counted = (
        channels_with_health(Channel.objects.filter(pk=channel.pk))
        .annotate(pending_sends=Coalesce(Subquery(pending, output_field=IntegerField()), 0))
        .get()
    )
    left = channel_budget_left(counted)
    return NumberBudget(
        recipients_24h=channel_recipients_24h(counted),
        limit=channel_unique_recipient_limit(counted),
        budget_left=left,
        room=None if left is None else max(0, left - counted.pending_sends),
    )


def channel_budget_room(channel: Channel) -> int | None:
    """How many more contacts campaigns may queue on `channel` now; None when unlimited."""
    return channel_budget(channel).room


def budget_reason(channel: Channel, budget: NumberBudget) -> str:
    """The words staff read when a number's budget stops a campaign."""
    if channel.number_status in BLOCKED_STATUSES:
        return f"Number {channel.name} is {channel.number_status}: no business-initiated messages."
    return (
        f"Messaging limit of {channel.name}: {budget.recipients_24h:,} of {budget.limit or 0:,} "
        f"unique recipients reached in the last 24 hours, room for {budget.room or 0:,} more."
    )


# --- Progress ----------------------------------------------------------------------------------


# Messages still on their way: what a campaign's progress has yet to do.
PROGRESS_PENDING = (Status.QUEUED, Status.SENDING, Status.PAUSED)


def progress_percent(*, total: int, pending: int) -> float:
    """How far a campaign is: the share of its messages no longer on their way."""
    return round(100 * (total - pending) / total, 1) if total else 0.0


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
        .annotate(
            n=Count("pk"),
            last_minute=Count("pk", filter=Q(accepted_at__gte=minute_ago)),
            unconfirmed=Count("pk", filter=UNCONFIRMED),
        )
        .order_by()
    )
    by_status: dict[int, int] = {}
    errors: dict[int | None, int] = {}
    refused: dict[str, int] = {}
    last_minute = unconfirmed = 0
    for status, code, refusal, n, recent, unconfirmed_n in rows:
        last_minute += recent
        unconfirmed += unconfirmed_n
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
    pending = sum(by_status.get(s, 0) for s in PROGRESS_PENDING)
    rate = last_minute / 60
    delivered = sum(by_status.get(s, 0) for s in (Status.DELIVERED, Status.READ))
    return {
        "state": campaign.state,
        "total": total,
        "counts": counts,
        "pending": pending,
        "done": total - pending,
        "percent": progress_percent(total=total, pending=pending),
        "delivered": delivered,
        # Unknown sends no webhook settled within SEND_UNKNOWN_SETTLE_HOURS (among `unknown`).
        "unconfirmed": unconfirmed,
        "excluded": excluded,
        "excluded_at_send": refused,
        "rate_per_second": round(rate, 2),
        "seconds_remaining": round(pending / rate) if rate and pending else None,
        "errors": [
            {"code": code, "meaning": error_code_info(code).meaning, "count": n}
            for code, n in sorted(errors.items(), key=lambda kv: -kv[1])
        ],
    }


# --- The operations board -----------------------------------------------------------------------

HEALTH_PAUSE_PREFIX = "Number health: "  # how a pause for a number's health alarm is noted


def campaigns_paused_for_health(*, start, end) -> QuerySet[CampaignTransition]:
    """Pauses for a number's health alarm recorded between `start` and `end`."""
    return CampaignTransition.objects.filter(
        to_state=CampaignState.PAUSED,
        note__startswith=HEALTH_PAUSE_PREFIX,
        created_at__gte=start,
        created_at__lt=end,
    )


def campaigns_waiting_for_budget() -> QuerySet[Campaign]:
    """Campaigns paused until their number's messaging budget frees room."""
    return Campaign.objects.filter(state=CampaignState.PAUSED, budget_paused=True)


def campaign_unconfirmed(campaign: Campaign, *, limit: int = 200) -> list[Message]:
    """The campaign's unconfirmed messages, oldest send first, with their contact and what
    sent them again: also those a late webhook settled after they were sent again, so the
    page still shows both."""
    return list(
        Message.objects.filter(campaign=campaign, unconfirmed_at__isnull=False)
        .filter(Q(status=Status.UNKNOWN) | Q(resent_as__isnull=False))
        .select_related("contact", "resent_as")
        .order_by("claimed_at", "pk")[:limit]
    )


def campaign_messages_resendable(campaign: Campaign) -> QuerySet[Message]:
    """The campaign's unconfirmed messages nobody has sent again yet."""
    return Message.objects.filter(UNCONFIRMED, campaign=campaign, resent_as__isnull=True)


# --- The campaign manager's home ----------------------------------------------------------------

IN_FLIGHT_STATES = (CampaignState.RUNNING, CampaignState.PAUSED)


def campaigns_in_flight(*, limit: int = 10) -> list[Campaign]:
    """Running and paused campaigns, latest launch first, each with `progress_total`,
    `progress_pending` and `progress_percent` (as `campaign_progress` counts them): two
    queries, the counts in one GROUP BY over the listed campaigns' messages."""
    campaigns = list(
        Campaign.objects.filter(state__in=IN_FLIGHT_STATES)
        .select_related("channel", "template")
        .order_by("-launched_at", "-pk")[:limit]
    )
    counts = {
        row["campaign_id"]: row
        for row in Message.objects.filter(campaign_id__in=[c.pk for c in campaigns])
        .order_by()
        .values("campaign_id")
        .annotate(
            total=Count("pk"),
            pending=Count("pk", filter=Q(status__in=PROGRESS_PENDING, refusal="")),
        )
    }
    for campaign in campaigns:
        row = counts.get(campaign.pk, {})
        campaign.progress_total = row.get("total", 0)
        campaign.progress_pending = row.get("pending", 0)
        campaign.progress_percent = progress_percent(
            total=campaign.progress_total, pending=campaign.progress_pending
        )
    return campaigns


# What a campaign's messages have reached, for its progress metrics: accepted counts as sent.
PROGRESS_SENT = (Status.ACCEPTED, Status.SENT, Status.DELIVERED, Status.READ)


def campaigns_in_flight_counts(*, limit: int = 50) -> list[dict[str, Any]]:
    """Running and paused campaigns (the latest `limit` launched) with their message counts:
    `targeted` (every message), `sent` (accepted by the provider or further), `delivered`
    (delivered or read), `failed` (failed, refusals at send time left out, as
    `campaign_progress` counts them) and `pending` (still on their way). Two queries; the
    counts in one GROUP BY over the campaigns' messages (`campaign_id` index)."""
    campaigns = list(
        Campaign.objects.filter(state__in=IN_FLIGHT_STATES)
        .order_by("-launched_at", "-pk")
        .values("pk", "state", "channel_id")[:limit]
    )
    if not campaigns:
        return []
    counts = {
        row["campaign_id"]: row
        for row in Message.objects.filter(campaign_id__in=[c["pk"] for c in campaigns])
        .order_by()
        .values("campaign_id")
        .annotate(
            targeted=Count("pk"),
            sent=Count("pk", filter=Q(status__in=PROGRESS_SENT)),
            delivered=Count("pk", filter=Q(status__in=(Status.DELIVERED, Status.READ))),
            failed=Count("pk", filter=Q(status=Status.FAILED, refusal="")),
            pending=Count("pk", filter=Q(status__in=PROGRESS_PENDING, refusal="")),
        )
    }
    stages = ("targeted", "sent", "delivered", "failed", "pending")
    return [
        {**campaign, **{stage: counts.get(campaign["pk"], {}).get(stage, 0) for stage in stages}}
        for campaign in campaigns
    ]


def campaigns_scheduled(*, limit: int = 10) -> list[Campaign]:
    """Scheduled campaigns, next to go first."""
    return list(
        Campaign.objects.filter(state=CampaignState.SCHEDULED)
        .select_related("channel", "template")
        .order_by(F("scheduled_at").asc(nulls_last=True), "pk")[:limit]
    )


def campaigns_using_asset(asset) -> list[str]:
    """Names of the campaigns not finished yet whose header is media library file `asset`
    (it may not be deleted while they may still send it)."""
    unfinished = Campaign.objects.exclude(
        state__in=[CampaignState.COMPLETED, CampaignState.CANCELLED]
    )
    return list(
        unfinished.filter(parameter_mapping__header_media_asset=asset.pk)
        .order_by("name")
        .values_list("name", flat=True)
    )
