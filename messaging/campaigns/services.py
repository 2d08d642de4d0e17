"""Campaigns: create and edit drafts, launch (materialise one message per contact), pause,
resume, cancel. What a campaign reaches, its pre-flight and its progress are reads, in
`messaging.campaigns.selectors`.

Every state change takes the campaign's row lock, checks the transition table and records a
`CampaignTransition`. Launch writes every message row up front, in bulk, guarded by the
unique (campaign, contact) constraint, so a crash mid-launch followed by another launch adds
only what is missing, and the dispatcher drains the rows at the campaign's throttle. Pause
moves queued rows to `paused` (the dispatcher never claims them); resume moves them back.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.audit import audit_record
from core.errors import DomainError, InvalidTransition
from core.models import AuditAction
from crm.models import Contact
from crm.selectors import staff_profile_for
from messaging.campaigns.mapping import (
    CONTACT_COLUMNS,
    CONTACT_VALUES,
    mapping_contact,
    mapping_content,
    mapping_content_sql,
    mapping_has_tracked_items,
)
from messaging.campaigns.models import (
    Campaign,
    CampaignState,
    CampaignTestSend,
    CampaignTransition,
)
from messaging.campaigns.selectors import (
    HEALTH_PAUSE_PREFIX,
    budget_reason,
    campaign_audience,
    campaign_is_editable,
    campaign_message_problems,
    campaign_preflight,
    campaign_sample_contacts,
    campaign_sendable,
    channel_budget,
    channel_budget_room,
    header_media_asset_problem,
    header_media_link_problem,
)
from messaging.channels.health import HealthChange
from messaging.channels.models import Channel, TemplateCategory
from messaging.hooks_out.models import HookEvent
from messaging.hooks_out.services import event_emit
from messaging.links.services import TrackedLinkBatch
from messaging.providers.error_codes import QUALITY_CODES, error_code_info
from messaging.sending.models import Direction, Lane, Message, MessageType, Status
from messaging.sending.nudge import send_enqueue_on_commit
from messaging.sending.policy import SendRefused
from messaging.sending.send import message_send

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


class CampaignNotReady(DomainError):
    code = "campaign_not_ready"
    status_code = 422


class CampaignNotEditable(InvalidTransition):
    """An edit of a campaign that has been launched.

    Answered with 400, not InvalidTransition's 409: the API refused such edits with 400 and
    the code `invalid_transition` before edits became a service, and clients rely on both.
    """

    status_code = 400

    def __init__(self, state: str):
        super().__init__(f"A {state} campaign cannot be edited.", details={"state": state})


# --- Drafts ------------------------------------------------------------------------------------

# What staff and the API may set on a campaign; state, counters and timestamps belong to the
# transitions below.
CAMPAIGN_FIELDS = (
    "name", "description", "channel", "template", "parameter_mapping", "segment", "tags",
    "tags_match", "schedule_timezone", "throttle_mps", "spread_over_budget",
)  # fmt: skip


def _fields_check(fields: dict[str, Any]) -> None:
    unknown = set(fields) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise DomainError(f"Cannot set {', '.join(sorted(unknown))}.", code="invalid")


def _template_check(*, channel: Channel, template) -> None:
    """A campaign sends through its own channel, so its template must be that channel's."""
    if template is not None and template.channel_id != channel.pk:
        message = "The template belongs to another channel."
        raise DomainError(message, code="invalid", details={"template": [message]})


def _mapping_check(mapping: Any) -> None:
    """A parameter mapping is an object, and its header media link passes the SSRF guard."""
    if not isinstance(mapping, dict):
        message = "The parameter mapping must be an object."
        raise DomainError(message, code="invalid", details={"parameter_mapping": [message]})
    problem = header_media_link_problem(mapping)
    if problem:
        raise DomainError(
            problem, code="media_url_refused", details={"header_media_link": [problem]}
        )
    problem = header_media_asset_problem(mapping)
    if problem:
        raise DomainError(
            problem, code="media_asset_unknown", details={"header_media_asset": [problem]}
        )


def campaign_create(*, name: str, channel: Channel, created_by=None, **fields: Any) -> Campaign:
    """A new draft. `fields` are any other of CAMPAIGN_FIELDS (`tags` an iterable of Tag)."""
    _fields_check(fields)
    _template_check(channel=channel, template=fields.get("template"))
    if "parameter_mapping" in fields:
        _mapping_check(fields["parameter_mapping"])
    tags = fields.pop("tags", None)
    with transaction.atomic():
        campaign = Campaign.objects.create(
            name=name, channel=channel, created_by=created_by, **fields
        )
        if tags:
            campaign.tags.set(tags)
    logger.info("campaign %s created by %s", campaign.pk, getattr(created_by, "pk", None))
    return campaign


def campaign_update(*, campaign: Campaign, actor=None, **fields: Any) -> Campaign:
    """Change a draft or scheduled campaign (any of CAMPAIGN_FIELDS; only those given change).

    Raises CampaignNotEditable once the campaign has been launched. Edits are not recorded as
    transitions: the state does not change, and pre-flight checks the result again at launch.
    """
    _fields_check(fields)
    if "parameter_mapping" in fields:
        _mapping_check(fields["parameter_mapping"])
    tags = fields.pop("tags", None)
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if not campaign_is_editable(locked):
            raise CampaignNotEditable(locked.state)
        for name, value in fields.items():
            setattr(locked, name, value)
        if "channel" in fields or "template" in fields:
            _template_check(channel=locked.channel, template=locked.template)
        if fields:
            locked.save(update_fields=list(fields))
        if tags is not None:
            locked.tags.set(tags)
    logger.info("campaign %s edited by %s", locked.pk, getattr(actor, "pk", None))
    return locked


# --- Rendering ---------------------------------------------------------------------------------


def campaign_content(campaign: Campaign, contact: dict, links=None) -> dict[str, Any]:
    """The template object one contact (a dict of `mapping.CONTACT_VALUES`) receives from
    `campaign`, as `messaging.campaigns.mapping` renders its parameter mapping.

    Items marked `"track": true` have their links wrapped in tracked short links, booked in
    `links` (a TrackedLinkBatch the caller saves with the messages); without `links` (a
    preview, a test send) they are left as they are.
    """
    return mapping_content(
        template=campaign.template,
        mapping=campaign.parameter_mapping or {},
        contact=contact,
        links=links,
        campaign=campaign,
    )


# --- Test sends ----------------------------------------------------------------------------------


class CampaignTestRefused(DomainError):
    code = "test_send_refused"
    status_code = 422


def campaign_test_send(
    *, campaign: Campaign, sent_by, sample_contact_id: int | None = None
) -> CampaignTestSend:
    """Send the campaign's message to `sent_by`'s own number (their staff profile), rendered
    with the values of one contact of the audience (`sample_contact_id`, default the first
    the preview shows), through the real send path: the send policy decides, the dispatcher
    sends. The message belongs to no campaign, so it is not counted in the campaign's figures
    and needs no launch (`CampaignTestSend`).

    Raises CampaignTestRefused (no number, a contact outside the audience), CampaignNotReady (the
    message is not complete) or SendRefused (the policy's reason); nothing is written then.
    """
    profile = staff_profile_for(sent_by)
    if profile is None or not profile.phone:
        raise CampaignTestRefused(
            "Add your WhatsApp number on your profile to receive tests.",
            code="test_number_missing",
        )
    problems = campaign_message_problems(campaign)
    if problems:
        raise CampaignNotReady("The message is not ready: " + " ".join(problems))
    recipient = (
        Contact.objects.filter(Q(phone=profile.phone) | Q(wa_id=profile.phone.lstrip("+")))
        .order_by("pk")
        .first()
    )
    if recipient is None:
        raise CampaignTestRefused(
            "Your number is no contact any more: save it again on your profile.",
            code="test_number_missing",
        )
    if sample_contact_id is not None:
        sample = (
            campaign_audience(campaign).filter(pk=sample_contact_id).values(*CONTACT_VALUES).first()
        )
        if sample is None:
            raise CampaignTestRefused("That contact is not in the campaign's audience.")
    else:
        samples = campaign_sample_contacts(campaign, limit=1)
        sample = samples[0] if samples else mapping_contact(recipient)
    content = campaign_content(campaign, sample)
    try:
        with transaction.atomic():
            message = message_send(
                channel=campaign.channel, contact=recipient, type="template", content=content,
                sent_by=sent_by,
            )  # fmt: skip
            test = CampaignTestSend.objects.create(
                campaign=campaign,
                message=message,
                sent_by=sent_by,
                sample_contact_id=sample.get("pk"),
            )
    except SendRefused as exc:
        raise SendRefused(
            f"The test to {profile.phone} was refused: {exc.message}",
            code=exc.code,
            details=exc.details,
        ) from exc
    logger.info("campaign %s: test sent by %s", campaign.pk, getattr(sent_by, "pk", None))
    return test


# --- Transitions -------------------------------------------------------------------------------


def _transition(campaign: Campaign, to_state: str, *, actor=None, note: str = "") -> Campaign:
    """Lock the row, check the move, apply it. Must run inside a transaction."""
    locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if to_state not in TRANSITIONS[locked.state]:
        raise InvalidTransition(
            f"A {locked.state} campaign cannot become {to_state}.",
            details={"state": locked.state, "requested": to_state},
        )
    transition = CampaignTransition.objects.create(
        campaign=locked, from_state=locked.state, to_state=to_state, actor=actor, note=note[:300]
    )
    event_emit(
        event_type=HookEvent.CAMPAIGN_STATE,
        data={
            "campaign": {
                "id": locked.pk,
                "name": locked.name,
                "state": to_state,
                "previous_state": locked.state,
                "note": transition.note,
                "at": transition.created_at.isoformat(),
            }
        },
        ordering_key=f"campaign:{locked.pk}",
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


def campaign_launch(
    *, campaign: Campaign, launched_by=None, spread_over_budget: bool | None = None
) -> Campaign:
    """Pre-flight, then materialise one queued message per sendable contact and start sending.

    Raises CampaignNotReady (nothing written) when pre-flight finds a problem, an audience
    past the number's messaging budget included, unless the campaign is spread over the
    budget (`spread_over_budget`, given here or set before): then only what the budget
    allows is queued, the rest is held, and `campaigns_budget_check` sends it as the moving
    24-hour window frees room (pausing the campaign while there is none).
    """
    if spread_over_budget is not None:
        campaign.spread_over_budget = spread_over_budget
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
        locked.spread_over_budget = campaign.spread_over_budget
        locked.save(
            update_fields=[
                "state", "launched_by", "launched_at", "audience_size", "excluded",
                "spread_over_budget",
            ]
        )  # fmt: skip
        created = campaign_materialise(campaign=locked)
        if locked.spread_over_budget and preflight.budget_left is not None:
            held = _hold_beyond(locked, preflight.budget_left)
            if created and held == created:
                locked = _budget_pause(locked)
            created -= held
        send_enqueue_on_commit(channel_id=locked.channel_id, fanout=_fanout(created))
        # The messages were written in bulk (no model signals): one event for all of them.
        audit_record(
            AuditAction.LAUNCH, obj=locked, actor=launched_by,
            details={"messages": created, "audience": preflight.sendable},
        )  # fmt: skip
    logger.info("campaign %s launched: %d messages", locked.pk, created)
    return locked


def _fanout(count: int) -> int:
    return max(1, min(settings.CAMPAIGN_MAX_DRAINERS, count // 1000 + 1))


def campaign_materialise(*, campaign: Campaign, batch_size: int = 5000) -> int:
    """Write the queued message rows in bulk; contacts that already have one are skipped.

    The unique (campaign, contact) constraint is the guarantee (`ignore_conflicts`); the
    `Exists` filter only keeps the returned count honest on a re-run.
    """
    if connection.vendor == "postgresql" and not mapping_has_tracked_items(
        campaign.parameter_mapping
    ):
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
        .values(*CONTACT_VALUES)
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


def _materialise_in_sql(campaign: Campaign) -> int:
    """PostgreSQL: one INSERT ... SELECT writes every row, rendering each contact's
    parameters in SQL (`mapping.mapping_content_sql`).

    About ten times faster than rendering and inserting from Python; the result is the same
    (a test compares both paths).
    """
    template = campaign.template
    try:
        content_sql, params = mapping_content_sql(
            template=template, mapping=campaign.parameter_mapping or {}
        )
    except ValueError as exc:
        raise CampaignNotReady(str(exc)) from exc

    already = Message.objects.filter(campaign=campaign, contact=OuterRef("pk"))
    audience = (
        campaign_sendable(campaign)
        .exclude(Exists(already))
        .values("id", "attributes", *CONTACT_COLUMNS)
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


def campaign_pause(
    *, campaign: Campaign, actor=None, reason: str = "", auto=False, budget=False
) -> Campaign:
    """Stop new sends: queued rows become `paused`; a batch already in flight (at most about
    a second of sending) finishes. `budget`: paused because the number's budget is used, so
    it resumes by itself when room frees (`campaigns_budget_check`)."""
    with transaction.atomic():
        locked = _transition(campaign, CampaignState.PAUSED, actor=actor, note=reason)
        locked.paused_at = timezone.now()
        locked.pause_reason = reason[:300]
        locked.auto_paused = auto
        locked.budget_paused = budget
        locked.save(
            update_fields=["state", "paused_at", "pause_reason", "auto_paused", "budget_paused"]
        )
        held = Message.objects.filter(campaign=locked, status=Status.QUEUED).update(
            status=Status.PAUSED
        )
        audit_record(
            AuditAction.PAUSE, obj=locked, actor=actor,
            details={"reason": reason[:300], "automatic": auto, "messages_held": held},
        )  # fmt: skip
    if auto:
        logger.warning("campaign %s paused automatically: %s", locked.pk, reason)
    return locked


def campaign_resume(*, campaign: Campaign, actor=None) -> Campaign:
    """Continue exactly where it stopped: paused rows are queued again, nothing else.

    A campaign spread over the budget queues only what the number's budget has room for;
    with no room it stays paused, waiting for the budget, and resumes by itself.
    """
    room = channel_budget_room(campaign.channel) if campaign.spread_over_budget else None
    with transaction.atomic():
        if room == 0:
            return _budget_wait(campaign)
        locked = _transition(campaign, CampaignState.RUNNING, actor=actor, note="resumed")
        locked.pause_reason = ""
        locked.auto_paused = False
        locked.budget_paused = False
        locked.save(update_fields=["state", "pause_reason", "auto_paused", "budget_paused"])
        resumed = _release(locked, room)
        send_enqueue_on_commit(channel_id=locked.channel_id, fanout=_fanout(resumed))
        audit_record(
            AuditAction.RESUME, obj=locked, actor=actor, details={"messages_queued": resumed}
        )
    return locked


# --- The number's budget -----------------------------------------------------------------------


def _budget_text(channel: Channel) -> str:
    reason = budget_reason(channel, channel_budget(channel))
    return f"{reason} Resumes by itself as the 24-hour window frees room."


def _hold_beyond(campaign: Campaign, room: int) -> int:
    """Keep the first `room` queued rows (by id) queued and hold the rest as paused."""
    queued = Message.objects.filter(campaign=campaign, status=Status.QUEUED)
    first_held = queued.order_by("pk").values_list("pk", flat=True)[room : room + 1].first()
    if first_held is None:
        return 0
    return queued.filter(pk__gte=first_held).update(status=Status.PAUSED)


def _release(campaign: Campaign, count: int | None) -> int:
    """Queue `count` held rows (by id; None: all) again."""
    held = Message.objects.filter(campaign=campaign, status=Status.PAUSED)
    if count is not None:
        if count <= 0:
            return 0
        last = held.order_by("pk").values_list("pk", flat=True)[count - 1 : count].first()
        if last is not None:  # else fewer are held: all of them
            held = held.filter(pk__lte=last)
    return held.update(status=Status.QUEUED, next_attempt_at=timezone.now())


def _budget_pause(campaign: Campaign) -> Campaign:
    """Pause a running campaign that has used the number's budget (within a transaction)."""
    return campaign_pause(
        campaign=campaign, reason=_budget_text(campaign.channel), auto=True, budget=True
    )


def _budget_wait(campaign: Campaign) -> Campaign:
    """A paused campaign asked to resume with no room: it waits for the budget instead."""
    locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if locked.state != CampaignState.PAUSED:
        raise InvalidTransition(
            f"A {locked.state} campaign cannot become running.",
            details={"state": locked.state, "requested": CampaignState.RUNNING},
        )
    locked.budget_paused = True
    locked.auto_paused = True
    locked.pause_reason = _budget_text(locked.channel)[:300]
    locked.save(update_fields=["budget_paused", "auto_paused", "pause_reason"])
    return locked


def campaigns_budget_check() -> dict[str, int]:
    """Campaigns spread over their number's budget (beat, with `campaigns_tick`).

    Per number, oldest launch first: held messages are queued as the moving 24-hour window
    frees room; a running campaign whose queued messages are gone while it still holds some
    and there is no room pauses itself (with the reason); one paused for the budget resumes
    as soon as there is room. Campaigns paused by a person or a health alarm are left alone.
    """
    counts = {"released": 0, "paused": 0, "resumed": 0}
    campaigns = (
        Campaign.objects.filter(spread_over_budget=True)
        .filter(Q(state=CampaignState.RUNNING) | Q(state=CampaignState.PAUSED, budget_paused=True))
        .select_related("channel")
        .order_by("channel_id", "launched_at", "pk")
    )
    rooms: dict[int, int | None] = {}
    for campaign in campaigns:
        held = Message.objects.filter(campaign=campaign, status=Status.PAUSED).count()
        if not held:
            continue
        if campaign.channel_id not in rooms:
            rooms[campaign.channel_id] = channel_budget_room(campaign.channel)
        room = rooms[campaign.channel_id]
        take = held if room is None else min(room, held)
        try:
            with transaction.atomic():
                if campaign.state == CampaignState.PAUSED and take:
                    locked = _transition(campaign, CampaignState.RUNNING, note="budget freed")
                    locked.pause_reason, locked.auto_paused, locked.budget_paused = "", False, False
                    locked.save(
                        update_fields=["state", "pause_reason", "auto_paused", "budget_paused"]
                    )
                    counts["resumed"] += 1
                    counts["released"] += _release(locked, take)
                elif campaign.state == CampaignState.RUNNING and take:
                    counts["released"] += _release(campaign, take)
                elif (
                    campaign.state == CampaignState.RUNNING
                    and not Message.objects.filter(
                        campaign=campaign, status__in=[Status.QUEUED, Status.SENDING]
                    ).exists()
                ):
                    _budget_pause(campaign)
                    counts["paused"] += 1
                if take:
                    send_enqueue_on_commit(channel_id=campaign.channel_id, fanout=_fanout(take))
        except InvalidTransition:
            continue  # changed by someone else meanwhile: the next run sees it
        if room is not None:
            rooms[campaign.channel_id] = room - take
    return counts


# --- The number's health -----------------------------------------------------------------------


def campaigns_pause_for_number(*, channel: Channel, change: HealthChange) -> list[int]:
    """A quality drop to RED, a flag, a restriction or a ban on a number pauses its running
    MARKETING campaigns (and turns those waiting for budget into health pauses, so that
    room in the budget does not resume them), with the reason, and tells staff: an error
    in the log, which the operations centre's error log keeps. Registered as a
    `channels.hooks` listener, so it runs in the transaction that recorded the change.
    """
    alarm = change.alarm
    if not alarm:
        return []
    reason = f"{HEALTH_PAUSE_PREFIX}{channel.name}: {alarm} (from {change.source})."
    marketing = Campaign.objects.filter(
        channel=channel, template__category=TemplateCategory.MARKETING
    )
    paused = []
    for campaign in marketing.filter(state=CampaignState.RUNNING):
        try:
            campaign_pause(campaign=campaign, reason=reason, auto=True)
        except InvalidTransition:
            continue
        paused.append(campaign)
    waiting = marketing.filter(state=CampaignState.PAUSED, budget_paused=True)
    for campaign in waiting:
        paused.append(campaign)
    waiting.update(budget_paused=False, pause_reason=reason[:300])
    if paused:
        names = ", ".join(f"{c.name} (#{c.pk})" for c in paused)
        logger.error("marketing campaigns paused on %s: %s; %s", channel.name, names, alarm)
    return [c.pk for c in paused]


def campaign_cancel(*, campaign: Campaign, actor=None, reason: str = "") -> Campaign:
    """Stop for good: every unsent message is marked cancelled."""
    now = timezone.now()
    with transaction.atomic():
        locked = _transition(campaign, CampaignState.CANCELLED, actor=actor, note=reason)
        locked.cancelled_at = now
        locked.save(update_fields=["state", "cancelled_at"])
        cancelled = Message.objects.filter(
            campaign=locked, status__in=[Status.QUEUED, Status.PAUSED]
        ).update(status=Status.CANCELLED, failed_at=now, error_title="Campaign cancelled")
        audit_record(
            AuditAction.CANCEL, obj=locked, actor=actor,
            details={"reason": reason[:300], "messages_cancelled": cancelled},
        )  # fmt: skip
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
        # Messages the send policy refused at send time were never sent: they say nothing
        # about the campaign's health (an opt-out is not a delivery failure).
        recent = list(
            Message.objects.filter(campaign=campaign, refusal="")
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
