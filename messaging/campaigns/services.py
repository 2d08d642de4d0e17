"""Campaigns: pre-flight, launch (materialise one message per contact), pause, resume, cancel.

Every state change takes the campaign's row lock, checks the transition table and records a
`CampaignTransition`. Launch writes every message row up front, in bulk, guarded by the
unique (campaign, contact) constraint, so a crash mid-launch followed by another launch adds
only what is missing, and the dispatcher drains the rows at the campaign's throttle. Pause
moves queued rows to `paused` (the dispatcher never claims them); resume moves them back.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.errors import DomainError, InvalidTransition
from crm.models import Consent, Contact
from crm.selectors import segment_contacts
from messaging.links.services import TrackedLinkBatch
from messaging.models import (
    Campaign,
    CampaignState,
    CampaignTransition,
    Direction,
    Lane,
    Message,
    MessageType,
    Status,
    TemplateCategory,
    TemplateStatus,
)
from messaging.providers.error_codes import QUALITY_CODES, error_code_info
from messaging.sending.send import template_content_build

logger = logging.getLogger(__name__)

TRANSITIONS: dict[str, set[str]] = {
    CampaignState.DRAFT: {CampaignState.SCHEDULED, CampaignState.RUNNING, CampaignState.CANCELLED},
    CampaignState.SCHEDULED: {
        CampaignState.DRAFT,
        CampaignState.RUNNING,
        CampaignState.CANCELLED,
    },
    CampaignState.RUNNING: {
        CampaignState.PAUSED,
        CampaignState.COMPLETED,
        CampaignState.CANCELLED,
    },
    CampaignState.PAUSED: {CampaignState.RUNNING, CampaignState.CANCELLED},
    CampaignState.COMPLETED: set(),
    CampaignState.CANCELLED: set(),
}
PENDING = [Status.QUEUED, Status.PAUSED, Status.SENDING]
CONTACT_FIELDS = ("name", "profile_name", "phone", "language", "wa_id")
EXCLUSION_LABELS = {
    "blocked": "blocked",
    "undeliverable": "undeliverable",
    "no_phone": "no phone number",
    "no_consent": "no marketing consent",
}


class CampaignNotReady(DomainError):
    code = "campaign_not_ready"
    status_code = 422


# --- Audience ----------------------------------------------------------------------------------


def campaign_audience(campaign: Campaign) -> QuerySet[Contact]:
    """Everyone the campaign targets, before exclusions."""
    if campaign.segment_id:
        return segment_contacts(campaign.segment)
    tag_ids = list(campaign.tags.values_list("pk", flat=True))
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


def campaign_sendable(campaign: Campaign, audience: QuerySet[Contact] | None = None):
    audience = campaign_audience(campaign) if audience is None else audience
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
    if template.status != TemplateStatus.APPROVED:
        problems.append(f"Template {template.name} is {template.status}, not APPROVED.")
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
    """Everything a launcher should know before pressing the button, in a few queries."""
    problems = _mapping_problems(campaign)
    if campaign.state not in (CampaignState.DRAFT, CampaignState.SCHEDULED):
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
    if not campaign.segment_id and not campaign.tags.exists():
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


# --- Rendering ---------------------------------------------------------------------------------


def _value(item: dict, contact: dict) -> str:
    source, key = item.get("source"), item.get("value", "")
    if source == "constant":
        return str(key)
    if source == "attribute":
        value = (contact.get("attributes") or {}).get(key)
    else:
        value = contact.get(key)
        if key == "name":
            value = value or contact.get("profile_name")
    if isinstance(value, bool):
        value = "true" if value else "false"  # as PostgreSQL's ->> renders JSON booleans
    return str(value if value not in (None, "") else item.get("fallback", ""))


def campaign_content(campaign: Campaign, contact: dict, links=None) -> dict[str, Any]:
    """The template body for one contact (a dict of Contact fields and attributes).

    Items marked `"track": true` have their links wrapped in tracked short links, booked in
    `links` (a TrackedLinkBatch the caller saves with the messages); without `links` (a
    preview) they are left as they are.
    """
    mapping = campaign.parameter_mapping or {}
    template = campaign.template
    named = (template.parameter_format or "") == "named"

    def render(item):
        value = _value(item, contact)
        if links is not None and item.get("track"):
            value = links.wrap_text(value, contact=contact.get("pk"), campaign=campaign)
        return value

    def values(part):
        items = mapping.get(part) or []
        if named:
            names = (template.parameters or {}).get(part) or []
            return {
                item.get("name") or names[i]: render(item)
                for i, item in enumerate(items)
                if i < len(names) or item.get("name")
            }
        return [render(item) for item in items]

    buttons = mapping.get("buttons") or {}
    return template_content_build(
        template=template,
        body=values("body") or None,
        header=values("header") or None,
        header_media_link=mapping.get("header_media_link") or None,
        button_url_values={i: _value(item, contact) for i, item in buttons.items()},
        button_payloads=mapping.get("button_payloads") or None,
    )


# --- Transitions -------------------------------------------------------------------------------


def _transition(campaign: Campaign, to_state: str, *, actor=None, note: str = "") -> Campaign:
    """Lock the row, check the move, apply it. Must run inside a transaction."""
    locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if to_state not in TRANSITIONS[locked.state]:
        raise InvalidTransition(
            f"A {locked.state} campaign cannot become {to_state}.",
            details={"state": locked.state, "requested": to_state},
        )
    CampaignTransition.objects.create(
        campaign=locked, from_state=locked.state, to_state=to_state, actor=actor, note=note[:300]
    )
    locked.state = to_state
    return locked


def campaign_schedule(*, campaign: Campaign, scheduled_at, scheduled_by) -> Campaign:
    if scheduled_at <= timezone.now():
        raise CampaignNotReady("Choose a time in the future, or launch now.")
    preflight = campaign_preflight(campaign)
    if not preflight.ok:
        raise CampaignNotReady(
            "The campaign is not ready: " + " ".join(preflight.problems),
            details=preflight.as_dict(),
        )
    with transaction.atomic():
        locked = _transition(campaign, CampaignState.SCHEDULED, actor=scheduled_by)
        locked.scheduled_at = scheduled_at
        locked.save(update_fields=["state", "scheduled_at"])
    return locked


def campaign_unschedule(*, campaign: Campaign, actor) -> Campaign:
    with transaction.atomic():
        locked = _transition(campaign, CampaignState.DRAFT, actor=actor)
        locked.save(update_fields=["state"])
    return locked


def campaign_launch(*, campaign: Campaign, launched_by=None) -> Campaign:
    """Pre-flight, then materialise one queued message per sendable contact and start sending.

    Raises CampaignNotReady (nothing written) when pre-flight finds a problem.
    """
    from messaging.sending.dispatch import send_enqueue_on_commit

    preflight = campaign_preflight(campaign)
    if not preflight.ok:
        raise CampaignNotReady(
            "The campaign is not ready: " + " ".join(preflight.problems),
            details=preflight.as_dict(),
        )
    with transaction.atomic():
        locked = _transition(campaign, CampaignState.RUNNING, actor=launched_by, note="launched")
        locked.launched_by = launched_by
        locked.launched_at = timezone.now()
        locked.audience_size = preflight.sendable
        locked.excluded = preflight.excluded
        locked.save(
            update_fields=["state", "launched_by", "launched_at", "audience_size", "excluded"]
        )
        created = campaign_materialise(campaign=locked)
        send_enqueue_on_commit(channel_id=locked.channel_id, fanout=_fanout(created))
    logger.info("campaign %s launched: %d messages", locked.pk, created)
    return locked


def _fanout(count: int) -> int:
    return max(1, min(settings.CAMPAIGN_MAX_DRAINERS, count // 1000 + 1))


def campaign_materialise(*, campaign: Campaign, batch_size: int = 5000) -> int:
    """Write the queued message rows in bulk; contacts that already have one are skipped.

    The unique (campaign, contact) constraint is the guarantee (`ignore_conflicts`); the
    `Exists` filter only keeps the returned count honest on a re-run.
    """
    if connection.vendor == "postgresql" and not _has_tracked_items(campaign):
        return _materialise_in_sql(campaign)
    return _materialise_in_python(campaign, batch_size=batch_size)


def _materialise_in_python(campaign: Campaign, *, batch_size: int = 5000) -> int:
    now = timezone.now()
    template = campaign.template
    marketing = template.category == TemplateCategory.MARKETING
    already = Message.objects.filter(campaign=campaign, contact=OuterRef("pk"))
    contacts = (
        campaign_sendable(campaign)
        .exclude(Exists(already))
        .values("pk", "attributes", *CONTACT_FIELDS)
        .order_by("pk")
        .iterator(chunk_size=batch_size)
    )
    created = 0
    batch: list[Message] = []
    links = TrackedLinkBatch()
    for contact in contacts:
        batch.append(
            Message(
                channel_id=campaign.channel_id,
                contact_id=contact["pk"],
                campaign=campaign,
                direction=Direction.OUTBOUND,
                type=MessageType.TEMPLATE,
                content=campaign_content(campaign, contact, links),
                template=template,
                is_marketing=marketing,
                lane=Lane.BULK,
                created_at=now,
                next_attempt_at=now,
            )
        )
        if len(batch) >= batch_size:
            created += len(Message.objects.bulk_create(batch, ignore_conflicts=True))
            links.save()
            batch = []
    if batch:
        created += len(Message.objects.bulk_create(batch, ignore_conflicts=True))
    links.save()
    return created


def _has_tracked_items(campaign: Campaign) -> bool:
    mapping = campaign.parameter_mapping or {}
    items = [*(mapping.get("header") or []), *(mapping.get("body") or [])]
    items += list((mapping.get("buttons") or {}).values())
    return any(isinstance(item, dict) and item.get("track") for item in items)


def _sql_value(item: dict, params: list) -> str:
    """SQL for one mapped parameter over the audience row `c` (mirrors `_value`)."""
    source, key = item.get("source"), item.get("value", "")
    fallback = str(item.get("fallback", ""))
    if source == "constant":
        params.append(str(key))
        return "%s::text"
    if source == "attribute":
        params.extend([key, fallback])
        return "COALESCE(NULLIF(c.attributes ->> %s, ''), %s)"
    if key not in CONTACT_FIELDS:
        raise CampaignNotReady(f"Unknown contact field {key!r}.")
    params.append(fallback)
    if key == "name":
        return "COALESCE(NULLIF(c.name, ''), NULLIF(c.profile_name, ''), %s)"
    return f"COALESCE(NULLIF(c.{key}::text, ''), %s)"


def _materialise_in_sql(campaign: Campaign) -> int:
    """PostgreSQL: one INSERT ... SELECT writes every row, rendering each contact's
    parameters in SQL into a JSON skeleton built by the same `template_content_build`.

    About ten times faster than rendering and inserting from Python; the result is the same
    (a test compares both paths).
    """
    mapping = campaign.parameter_mapping or {}
    placeholders: list[tuple[str, dict]] = []

    def slot(item):
        token = f"@@P{len(placeholders)}@@"
        placeholders.append((token, item))
        return token

    template = campaign.template
    named = (template.parameter_format or "") == "named"
    names = template.parameters or {}

    def values(part):
        items = mapping.get(part) or []
        if named:
            declared = names.get(part) or []
            return {
                item.get("name") or declared[i]: slot(item)
                for i, item in enumerate(items)
                if i < len(declared) or item.get("name")
            }
        return [slot(item) for item in items]

    skeleton = template_content_build(
        template=template,
        body=values("body") or None,
        header=values("header") or None,
        header_media_link=mapping.get("header_media_link") or None,
        button_url_values={i: slot(item) for i, item in (mapping.get("buttons") or {}).items()},
        button_payloads=mapping.get("button_payloads") or None,
    )
    # Each placeholder (a JSON string in the skeleton) is replaced by the contact's value,
    # JSON-encoded by PostgreSQL; parameters follow the order of the SQL text.
    params: list = [json.dumps(skeleton)]
    content_sql = "%s"
    for token, item in placeholders:
        item_params: list = []
        value_sql = _sql_value(item, item_params)
        content_sql = f"replace({content_sql}, %s, to_jsonb({value_sql})::text)"
        params = [*params, json.dumps(token), *item_params]

    already = Message.objects.filter(campaign=campaign, contact=OuterRef("pk"))
    audience = (
        campaign_sendable(campaign)
        .exclude(Exists(already))
        .values("id", "attributes", *CONTACT_FIELDS)
        .order_by()
    )
    audience_sql, audience_params = audience.query.sql_with_params()

    now = timezone.now()
    computed = {
        "uuid": ("gen_random_uuid()", []),
        "contact_id": ("c.id", []),
        "content": (f"({content_sql})::jsonb", params),
    }
    fixed = {
        "channel_id": campaign.channel_id,
        "campaign_id": campaign.pk,
        "direction": Direction.OUTBOUND.value,
        "type": MessageType.TEMPLATE.value,
        "template_id": template.pk,
        "is_marketing": template.category == TemplateCategory.MARKETING,
        "lane": int(Lane.BULK),
        "status": int(Status.QUEUED),
        "created_at": now,
        "next_attempt_at": now,
    }
    columns, select, select_params = [], [], []
    for f in Message._meta.concrete_fields:
        if f.primary_key:
            continue
        columns.append(connection.ops.quote_name(f.column))
        if f.attname in computed:
            sql, sql_params = computed[f.attname]
            select.append(sql)
            select_params.extend(sql_params)
            continue
        value = fixed[f.attname] if f.attname in fixed else f.get_default()
        select.append("%s")
        select_params.append(f.get_db_prep_save(value, connection))
    # Identifiers come from the model; every value is a bound parameter.
    sql = (
        f"INSERT INTO {Message._meta.db_table} ({', '.join(columns)}) "  # noqa: S608
        f"SELECT {', '.join(select)} FROM ({audience_sql}) AS c "
        "ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*select_params, *audience_params])
        return cursor.rowcount


def campaign_pause(*, campaign: Campaign, actor=None, reason: str = "", auto=False) -> Campaign:
    """Stop new sends: queued rows become `paused`; a batch already in flight (at most about
    a second of sending) finishes."""
    with transaction.atomic():
        locked = _transition(campaign, CampaignState.PAUSED, actor=actor, note=reason)
        locked.paused_at = timezone.now()
        locked.pause_reason = reason[:300]
        locked.auto_paused = auto
        locked.save(update_fields=["state", "paused_at", "pause_reason", "auto_paused"])
        Message.objects.filter(campaign=locked, status=Status.QUEUED).update(status=Status.PAUSED)
    if auto:
        logger.warning("campaign %s paused automatically: %s", locked.pk, reason)
    return locked


def campaign_resume(*, campaign: Campaign, actor=None) -> Campaign:
    """Continue exactly where it stopped: paused rows are queued again, nothing else."""
    from messaging.sending.dispatch import send_enqueue_on_commit

    with transaction.atomic():
        locked = _transition(campaign, CampaignState.RUNNING, actor=actor, note="resumed")
        locked.pause_reason = ""
        locked.auto_paused = False
        locked.save(update_fields=["state", "pause_reason", "auto_paused"])
        resumed = Message.objects.filter(campaign=locked, status=Status.PAUSED).update(
            status=Status.QUEUED, next_attempt_at=timezone.now()
        )
        send_enqueue_on_commit(channel_id=locked.channel_id, fanout=_fanout(resumed))
    return locked


def campaign_cancel(*, campaign: Campaign, actor=None, reason: str = "") -> Campaign:
    """Stop for good: every unsent message is marked cancelled."""
    now = timezone.now()
    with transaction.atomic():
        locked = _transition(campaign, CampaignState.CANCELLED, actor=actor, note=reason)
        locked.cancelled_at = now
        locked.save(update_fields=["state", "cancelled_at"])
        Message.objects.filter(campaign=locked, status__in=[Status.QUEUED, Status.PAUSED]).update(
            status=Status.CANCELLED, failed_at=now, error_title="Campaign cancelled"
        )
    return locked


def campaigns_complete_finished() -> int:
    """Running campaigns with nothing left to send become completed."""
    pending = Message.objects.filter(campaign=OuterRef("pk"), status__in=PENDING)
    done = 0
    for campaign in Campaign.objects.filter(state=CampaignState.RUNNING).exclude(Exists(pending)):
        with transaction.atomic():
            locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
            if (
                locked.state != CampaignState.RUNNING
                or Message.objects.filter(campaign=locked, status__in=PENDING).exists()
            ):
                continue
            locked = _transition(locked, CampaignState.COMPLETED, note="all messages sent")
            locked.completed_at = timezone.now()
            locked.save(update_fields=["state", "completed_at"])
            done += 1
    return done


def campaigns_launch_due() -> int:
    """Launch scheduled campaigns whose time has come (beat runs this every few seconds)."""
    launched = 0
    due = Campaign.objects.filter(state=CampaignState.SCHEDULED, scheduled_at__lte=timezone.now())
    for campaign in due:
        try:
            campaign_launch(campaign=campaign, launched_by=None)
            launched += 1
        except (CampaignNotReady, InvalidTransition) as exc:
            logger.warning("scheduled campaign %s not launched: %s", campaign.pk, exc)
            with transaction.atomic():
                locked = _transition(campaign, CampaignState.DRAFT, note=str(exc))
                locked.save(update_fields=["state"])
    return launched


def campaign_failures_check(*, campaign_ids) -> list[int]:
    """Auto-pause campaigns whose recent results are mostly failures or hit quality codes."""
    window = settings.CAMPAIGN_AUTOPAUSE_WINDOW
    share = settings.CAMPAIGN_AUTOPAUSE_FAILURE_SHARE
    paused = []
    for campaign in Campaign.objects.filter(pk__in=campaign_ids, state=CampaignState.RUNNING):
        # Newest results first, by when each result came (NULLs would sort first on
        # PostgreSQL and hide every failure behind the accepted messages).
        finished_at = Coalesce("failed_at", "accepted_at")
        recent = list(
            Message.objects.filter(campaign=campaign)
            .exclude(status__in=[*PENDING, Status.CANCELLED])
            .order_by(finished_at.desc(nulls_last=True), "-pk")
            .values_list("status", "error_code")[:window]
        )
        quality = sorted({code for _, code in recent if code in QUALITY_CODES})
        failures = sum(1 for status, _ in recent if status == Status.FAILED)
        reason = ""
        if quality:
            code = quality[0]
            reason = f"Quality warning from WhatsApp ({code}: {error_code_info(code).meaning})."
        elif len(recent) >= window and failures / len(recent) >= share:
            reason = (
                f"{failures} of the last {len(recent)} messages failed (threshold {share:.0%})."
            )
        if reason:
            try:
                campaign_pause(campaign=campaign, reason=reason, auto=True)
                paused.append(campaign.pk)
            except InvalidTransition:
                continue
    return paused


# --- Progress ----------------------------------------------------------------------------------


def campaign_progress(campaign: Campaign) -> dict[str, Any]:
    """Counts by status, current rate, time remaining and the error breakdown."""
    by_status = dict(
        Message.objects.filter(campaign=campaign)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts = {Status(s).name.lower(): n for s, n in by_status.items()}
    total = sum(by_status.values())
    pending = sum(by_status.get(s, 0) for s in (Status.QUEUED, Status.SENDING, Status.PAUSED))
    minute_ago = timezone.now() - timedelta(seconds=60)
    last_minute = Message.objects.filter(campaign=campaign, accepted_at__gte=minute_ago).count()
    rate = last_minute / 60
    errors = Counter(
        dict(
            Message.objects.filter(campaign=campaign, status=Status.FAILED)
            .values_list("error_code")
            .annotate(n=Count("pk"))
            .order_by()
        )
    )
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
            for code, n in errors.most_common()
        ],
    }
