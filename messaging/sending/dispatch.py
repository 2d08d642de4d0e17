"""The back of the send path: claim queued messages, pace them, call the provider, record.

One `send_batch_run` loops for a channel while there is due work (up to a time budget):
claim a batch (priority lane before bulk), book tokens from the channel's shared rate limiter
(one round trip per batch), send concurrently over pooled connections at the booked pace,
then record every outcome in a few bulk statements. Several workers can run it for the same
channel at once: claims skip each other's rows and the limiter is shared.

Outcome rules (DESIGN.md section 4): accepted -> wamid stored; temporary -> queued again
with backoff and jitter, up to SEND_MAX_ATTEMPTS; permanent -> failed with the code; ambiguous
(the request may have arrived) -> `unknown`, never re-sent automatically, settled by the
status webhook that carries our UUID; auth -> the channel is paused and its messages wait.

`unknown` means only that a request may have reached the provider. Claimed messages are
marked (`request_started_at`), a tenth of a second of the pace at a time, just before their
requests may leave, so a batch stopped before that point (the rate limiter's Redis down, say)
goes straight back to the queue, and the sweeper tells a dead worker's unsent claims from
those it may have sent.
Just before the provider call the send policy is asked again for the batch: a message it
refuses (the contact opted out, the window closed, the template was paused) fails with the
policy's reason in `refusal` and is never sent; a refusal of the number (inactive, restricted,
over budget) puts the batch back in the queue to wait.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NoReturn

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Value, When
from django.utils import timezone

from core.bulk import update_from_values
from core.metrics import messages_count, provider_errors_count
from crm.models import Contact
from messaging.channels import ratelimit
from messaging.channels.clients import ChannelMisconfigured, provider_for_channel
from messaging.channels.models import Channel
from messaging.channels.services import channel_pause
from messaging.media.content import content_has_assets
from messaging.media.services import MediaResolver
from messaging.providers import (
    AmbiguousError,
    AuthError,
    InvalidMessage,
    PermanentError,
    Provider,
    ProviderError,
    SendResult,
    TemporaryError,
)
from messaging.providers.error_codes import error_code_label
from messaging.sending import hooks
from messaging.sending.events import message_statuses_emit
from messaging.sending.failures import failure_side_effects
from messaging.sending.models import Lane, Message, Status
from messaging.sending.nudge import send_enqueue, send_nudge_clear
from messaging.sending.policy import (
    Refusal,
    SendKind,
    send_policy_check_messages,
    send_policy_check_number,
)
from messaging.sending.retry import next_attempt_time
from messaging.sending.send import SendRequest, outbound_for
from messaging.sending.statuses import statuses_apply_parked

logger = logging.getLogger(__name__)

ERROR_FIELDS = ["error_code", "error_title", "error_detail"]
# The pace is marked as started this many seconds at a time (one UPDATE per stage).
SEND_STAGE_SECONDS = 0.1


# --- Enqueueing --------------------------------------------------------------------------------


# --- Claiming ----------------------------------------------------------------------------------


def messages_claim(*, channel_id: int, lane: int, limit: int) -> list[Message]:
    """Move up to `limit` due queued messages to `sending` and return them.

    PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent workers take disjoint batches. SQLite
    takes the database write lock when the (immediate) transaction begins, which serialises
    claims just as safely. The conditional update is the real guard either way.
    """
    now = timezone.now()
    with transaction.atomic():
        candidates = Message.objects.filter(
            channel_id=channel_id, status=Status.QUEUED, lane=lane, next_attempt_at__lte=now
        ).order_by("next_attempt_at", "id")
        held = hooks.held_q() if lane == Lane.BULK else None
        if held is not None:
            # A paused or cancelled campaign's rows are never claimed, whatever their status
            # says: a worker may put rows back in the queue just as a pause commits.
            candidates = candidates.exclude(held)
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True, of=("self",))
        ids = list(candidates.values_list("id", flat=True)[:limit])
        if not ids:
            return []
        Message.objects.filter(id__in=ids, status=Status.QUEUED).update(
            status=Status.SENDING, claimed_at=now, request_started_at=None
        )
    # Sent in the order they fell due: retries of one storm carry jittered due times, and
    # sending a batch of them in id order would line them up again.
    return list(
        Message.objects.filter(id__in=ids, status=Status.SENDING, claimed_at=now)
        .select_related("contact", "template")
        .order_by("next_attempt_at", "id")
    )


# --- Sending -----------------------------------------------------------------------------------


@dataclass
class Outcomes:
    accepted: list[tuple[Message, SendResult]] = field(default_factory=list)
    temporary: list[tuple[Message, TemporaryError]] = field(default_factory=list)
    permanent: list[tuple[Message, Exception]] = field(default_factory=list)
    ambiguous: list[tuple[Message, AmbiguousError]] = field(default_factory=list)
    auth: list[tuple[Message, AuthError]] = field(default_factory=list)
    refused: list[tuple[Message, Refusal]] = field(default_factory=list)  # by the send policy
    held: bool = False  # the policy refused the number: messages went back to wait
    rate_limited: bool = False  # nothing could be booked within the horizon

    def count(self) -> dict[str, int]:
        return {
            "accepted": len(self.accepted),
            "retrying": len(self.temporary),
            "failed": len(self.permanent),
            "unknown": len(self.ambiguous),
            "auth": len(self.auth),
            "refused": len(self.refused),
        }


def _send_one(provider: Provider, channel: Channel, message: Message, due: float):
    ratelimit.wait(due - time.monotonic())
    request = SendRequest(
        channel, message.contact, message.type, message.content, message.context_wamid
    )
    outbound = outbound_for(
        request, callback_data=str(message.uuid), content=getattr(message, "outbound_content", None)
    )
    try:
        return provider.send(outbound)
    except (TemporaryError, PermanentError, AmbiguousError, AuthError, InvalidMessage) as exc:
        return exc
    except Exception as exc:
        logger.exception("unexpected error sending message %s", message.uuid)
        return AmbiguousError(f"unexpected error: {type(exc).__name__}: {exc}")


def _hold_for_recipient_gap(messages: list[Message]) -> list[Message]:
    """Keep one message per recipient per gap; put the rest back in the queue briefly."""
    gap = settings.SEND_RECIPIENT_MIN_GAP_SECONDS
    seen: set[int] = set()
    first = []
    held = []
    for message in messages:
        (held if message.contact_id in seen else first).append(message)
        seen.add(message.contact_id)
    allowed = ratelimit.recipients_claim_gap([str(m.contact_id) for m in first], gap_seconds=gap)
    ready = [m for m in first if str(m.contact_id) in allowed]
    held += [m for m in first if str(m.contact_id) not in allowed]
    if held:
        Message.objects.filter(pk__in=[m.pk for m in held], status=Status.SENDING).update(
            status=Status.QUEUED, next_attempt_at=timezone.now() + timedelta(seconds=max(gap, 0.5))
        )
    return ready


def _queued_or_paused():
    """The status a claim goes back with: queued, or paused for a campaign paused meanwhile."""
    paused = hooks.paused_q()
    if paused is None:
        return Value(Status.QUEUED)
    return Case(When(paused, then=Value(Status.PAUSED)), default=Value(Status.QUEUED))


def _release(messages: list[Message], *, retry_at: datetime | None = None) -> int:
    """Put claimed messages whose request never started back in the queue (the rate had no
    room for them now, or the batch stopped before sending), due at `retry_at` if given.

    Only this claim's rows move (same `claimed_at`): should the sweeper have handed them to
    another worker meanwhile, that worker's claim stays its own.
    """
    if not messages:
        return 0
    fields: dict[str, object] = {"status": _queued_or_paused()}
    if retry_at is not None:
        fields["next_attempt_at"] = retry_at
    return Message.objects.filter(
        pk__in=[m.pk for m in messages],
        status=Status.SENDING,
        claimed_at__in={m.claimed_at for m in messages},
        request_started_at__isnull=True,
    ).update(**fields)


def _requests_start(messages: list[Message]) -> list[Message]:
    """Mark these claimed messages' requests as started, just before the first may leave;
    return the ones that are still this worker's to send.

    From here on a stale claim may have reached the provider, so the sweeper makes it
    `unknown` rather than queueing it again. One statement per stage, not one per request:
    the price is that a worker killed between this mark and the stage's last request leaves
    a few never-sent messages `unknown` too ("may have"), never one sent twice.
    """
    now = timezone.now()
    claimed_at = {m.claimed_at for m in messages}
    mine = Message.objects.filter(
        pk__in=[m.pk for m in messages],
        status=Status.SENDING,
        claimed_at__in=claimed_at,
        request_started_at__isnull=True,
    )
    if mine.update(request_started_at=now) == len(messages):
        return messages
    # Some were taken away meanwhile (the sweeper queued a claim it found stale): send only
    # the rows this mark reached.
    marked = set(
        Message.objects.filter(
            pk__in=[m.pk for m in messages], claimed_at__in=claimed_at, request_started_at=now
        ).values_list("pk", flat=True)
    )
    return [m for m in messages if m.pk in marked]


def _book(channel: Channel, messages: list[Message]) -> tuple[list[Message], float, float]:
    """Book send slots for claimed messages; return those that got one, the first slot's
    delay, and the pace.

    Limits apply from the narrowest out: each campaign's throttle, the bulk share of the
    channel, the channel's throughput. Only slots within SEND_RATE_HORIZON_SECONDS are booked
    and the rest go back to the queue, so no worker holds more than about a second of sends:
    that is what makes a pause take effect within a second, however many workers drain.
    """
    horizon = settings.SEND_RATE_HORIZON_SECONDS
    rate = float(channel.throughput_mps)
    start = 0.0
    kept = messages
    released: list[Message] = []

    def book(key: str, group: list[Message], group_rate: float) -> list[Message]:
        nonlocal start
        booking = ratelimit.reserve(key, len(group), rate=group_rate, horizon=horizon)
        start = max(start, booking.start)
        released.extend(group[booking.granted :])
        return group[: booking.granted]

    if messages[0].lane == Lane.BULK:
        campaign_ids = {m.campaign_id for m in messages if m.campaign_id}
        throttles = hooks.throttles(campaign_ids)
        if throttles:
            groups: dict[int | None, list[Message]] = {}
            for message in messages:
                groups.setdefault(message.campaign_id, []).append(message)
            kept = []
            for campaign_id, group in groups.items():
                limit = throttles.get(campaign_id)
                if limit:
                    group = book(f"campaign:{campaign_id}", group, float(limit))
                    rate = min(rate, float(limit))
                kept.extend(group)
        bulk_rate = float(channel.throughput_mps) * settings.SEND_BULK_SHARE
        kept = book(f"channel:{channel.pk}:bulk", kept, bulk_rate) if kept else kept
        rate = min(rate, bulk_rate)
    kept = book(f"channel:{channel.pk}", kept, float(channel.throughput_mps)) if kept else kept
    _release(released)
    return kept, start, rate


def _submit_in_stages(
    executor: ThreadPoolExecutor,
    provider: Provider,
    channel: Channel,
    messages: list[Message],
    t0: float,
    rate: float,
) -> list[tuple[Message, Future]]:
    """Hand the paced requests to the executor a stage (SEND_STAGE_SECONDS of the pace) at a
    time, marking each stage's requests as started just before the first of them is due.

    A worker that dies mid-batch thus leaves at most a stage of never-sent messages marked
    (they become `unknown`); the later stages were never marked and go back to the queue.
    """
    per_stage = max(1, int(rate * SEND_STAGE_SECONDS))
    submitted = []
    for first in range(0, len(messages), per_stage):
        ratelimit.wait(t0 + first / rate - time.monotonic())
        stage = messages[first : first + per_stage]
        started = {m.pk for m in _requests_start(stage)}
        for i, message in enumerate(stage, start=first):
            if message.pk in started:
                due = t0 + i / rate
                submitted.append(
                    (message, executor.submit(_send_one, provider, channel, message, due))
                )
    return submitted


def batch_send(
    *, channel: Channel, messages: list[Message], executor: ThreadPoolExecutor
) -> Outcomes:
    """Ask the send policy, then send what it allows at the channel's pace and record the
    outcomes."""
    outcomes = Outcomes()
    messages = _policy_apply(channel, messages, outcomes)
    messages = _hold_for_recipient_gap(messages)
    if not messages:
        return outcomes
    try:
        provider = provider_for_channel(channel)
    except ChannelMisconfigured as exc:  # nothing was sent: pause the channel, requeue
        outcomes.auth = [(message, exc) for message in messages]
        outcomes_record(channel=channel, outcomes=outcomes)
        return outcomes
    messages = _media_resolve(channel, provider, messages, outcomes)
    if not messages:
        outcomes_record(channel=channel, outcomes=outcomes)
        return outcomes
    messages, start, rate = _book(channel, messages)
    if not messages:
        outcomes.rate_limited = True
        outcomes_record(channel=channel, outcomes=outcomes)  # media outcomes, if any
        return outcomes
    t0 = time.monotonic() + start
    for message, future in _submit_in_stages(executor, provider, channel, messages, t0, rate):
        result = future.result()
        if isinstance(result, SendResult):
            outcomes.accepted.append((message, result))
        elif isinstance(result, TemporaryError):
            outcomes.temporary.append((message, result))
        elif isinstance(result, AmbiguousError):
            outcomes.ambiguous.append((message, result))
        elif isinstance(result, AuthError):
            outcomes.auth.append((message, result))
        else:
            outcomes.permanent.append((message, result))
    outcomes_record(channel=channel, outcomes=outcomes)
    return outcomes


def _media_resolve(
    channel: Channel, provider: Provider, messages: list[Message], outcomes: Outcomes
) -> list[Message]:
    """Put the number's media id in place of each library asset a message names (uploading
    the file when the number has no id, or its id expires soon), before any token is booked.

    The body sent is kept on the message in memory (`outbound_content`) and the id used in
    `media_id`; the stored body keeps the reference, so a retry resolves it again. An upload
    that fails is the message's outcome: temporary -> retried later, permanent (the file was
    deleted, the provider refuses it) -> failed with the reason, auth -> the number pauses.
    Nothing was sent for these messages, so none can be `unknown`.
    """
    kept: list[Message] = []
    used: dict[str, list[int]] = {}
    resolver = MediaResolver(channel=channel, provider=provider)
    for message in messages:
        if not content_has_assets(message.content, message.type):
            kept.append(message)
            continue
        try:
            resolved = resolver.resolve(content=message.content, kind=message.type)
        except AuthError as exc:
            outcomes.auth.append((message, exc))
        except TemporaryError as exc:
            outcomes.temporary.append((message, exc))
        except AmbiguousError as exc:
            # An upload whose answer was lost only wastes an id: nothing went to anyone.
            outcomes.temporary.append((message, TemporaryError(f"media upload: {exc}")))
        except PermanentError as exc:
            outcomes.permanent.append((message, exc))
        else:
            message.outbound_content = resolved.content
            if resolved.media_ids:
                message.media_id = resolved.media_ids[0]
                used.setdefault(message.media_id, []).append(message.pk)
            kept.append(message)
    for media_id, ids in used.items():
        Message.objects.filter(pk__in=ids).update(media_id=media_id)
    resolver.finish()
    return kept


def _policy_apply(channel: Channel, messages: list[Message], outcomes: Outcomes) -> list[Message]:
    """The send policy for a claimed batch, just before the provider call; returns what may go.

    The channel's state is read again first (another worker may have paused it). A message
    the policy refuses fails now with its reason, unsent; one refused for its number goes
    back to the queue and the run stops (the sweeper re-drives the channel).
    """
    channel.refresh_from_db(fields=CHANNEL_STATE_FIELDS)
    refusals = send_policy_check_messages(channel=channel, messages=messages)
    if not refusals:
        return messages
    held = [m for m in messages if m.pk in refusals and refusals[m.pk].holds]
    outcomes.refused = [(m, refusals[m.pk]) for m in messages if m.pk in refusals and m not in held]
    if held:
        _release(held)
        outcomes.held = True
    if outcomes.refused:
        _record_refused(outcomes.refused)
    return [m for m in messages if m.pk not in refusals]


# What the policy reads of a channel: refreshed before each batch. Number health joins it when
# channels record it (`Channel.status`).
CHANNEL_STATE_FIELDS = [
    name
    for name in ("is_active", "paused_reason", "status")
    if name in {f.name for f in Channel._meta.concrete_fields}
]


# --- Recording ---------------------------------------------------------------------------------


def _error_fields(message: Message, exc: Exception) -> None:
    code = getattr(exc, "code", None)
    try:
        message.error_code = int(code) if code is not None else None
    except (TypeError, ValueError):
        message.error_code = None
    message.error_title = (getattr(exc, "title", None) or getattr(exc, "reason", None) or "")[:300]
    if not message.error_title:
        message.error_title = str(exc)[:300]
    message.error_detail = (getattr(exc, "detail", None) or str(exc))[:2000]


_SENDING = f"m.status = {Status.SENDING}"


def _write(messages: list[Message], fields: list[str], **kwargs) -> None:
    """Write `fields` of in-memory messages in one statement (see `core.bulk`)."""
    update_from_values(
        Message, [(m.pk, {name: getattr(m, name) for name in fields}) for m in messages],
        fields=fields, **kwargs,
    )  # fmt: skip


def _record_refused(refused: list[tuple[Message, Refusal]]) -> None:
    """Fail messages the send policy refused at send time: never sent, so no error code (that
    marks provider failures), and the policy's reason code in `refusal`."""
    now = timezone.now()
    for message, refusal in refused:
        message.status = Status.FAILED
        message.failed_at = now
        message.refusal = str(refusal.code)
        message.error_code = None
        message.error_title = f"Refused at send time: {refusal.message}"[:300]
        message.error_detail = (
            f"The send policy refused this message just before sending ({refusal.code}); "
            "it was not sent."
        )
    with transaction.atomic():
        _write(
            [m for m, _ in refused],
            ["status", "failed_at", "refusal", *ERROR_FIELDS],
            where=_SENDING,
        )
        message_statuses_emit({m.pk: Status.SENDING for m, _ in refused})
    logger.info(
        "%d message(s) refused at send time: %s",
        len(refused),
        ", ".join(sorted({str(r.code) for _, r in refused})),
    )


# A status webhook may have matched an accepted message by our UUID and recorded its wamid
# (and moved it on) before this worker records the acceptance: such a row keeps what the
# webhook wrote, and a status only moves from `sending` to `accepted`.
_ACCEPTED_SQL = {
    "wamid": "COALESCE({old}, {new})",
    **dict.fromkeys(
        ("wa_id", "accepted_at", "attempts"), "CASE WHEN m.wamid IS NULL THEN {new} ELSE {old} END"
    ),
    "status": f"CASE WHEN {_SENDING} THEN {{new}} ELSE {{old}} END",
}


def outcomes_record(*, channel: Channel, outcomes: Outcomes) -> None:
    """Record a batch's outcomes: one UPDATE per kind of outcome, each guarded so that it
    only changes messages still `sending` (a sweeper or webhook may have moved one on)."""
    now = timezone.now()

    if outcomes.accepted:
        rows = []
        for message, result in outcomes.accepted:
            message.wamid = result.provider_message_id
            message.wa_id = result.wa_id or ""
            message.accepted_at = now
            message.attempts += 1
            message.status = Status.ACCEPTED
            rows.append(message)
        with transaction.atomic():  # the change and its event webhooks (an outbox)
            _write(
                rows,
                ["wamid", "wa_id", "accepted_at", "attempts", "status"],
                expressions=_ACCEPTED_SQL,
            )
            # A status webhook that beat this write moved the message on and told already.
            message_statuses_emit({m.pk: Status.SENDING for m in rows}, only=Status.ACCEPTED)
        Contact.objects.filter(pk__in={m.contact_id for m in rows}).update(last_outbound_at=now)
        _apply_parked([m.wamid for m in rows])

    if outcomes.temporary:
        rows = []
        for message, exc in outcomes.temporary:
            message.attempts += 1
            _error_fields(message, exc)
            if message.attempts >= settings.SEND_MAX_ATTEMPTS:
                message.status = Status.FAILED
                message.failed_at = now
            else:
                message.status = Status.QUEUED
                message.next_attempt_at = next_attempt_time(
                    message.attempts, retry_after=exc.retry_after
                )
            rows.append(message)
        with transaction.atomic():
            _write(
                rows,
                ["status", "attempts", "next_attempt_at", "failed_at", *ERROR_FIELDS],
                where=_SENDING,
            )
            message_statuses_emit({m.pk: Status.SENDING for m in rows if m.status == Status.FAILED})

    if outcomes.permanent:
        rows = []
        for message, exc in outcomes.permanent:
            message.attempts += 1
            message.status = Status.FAILED
            message.failed_at = now
            _error_fields(message, exc)
            rows.append(message)
        with transaction.atomic():
            _write(rows, ["status", "attempts", "failed_at", *ERROR_FIELDS], where=_SENDING)
            message_statuses_emit({m.pk: Status.SENDING for m in rows})
        failure_side_effects(messages=rows)
        hooks.failures_seen({m.campaign_id for m in rows if m.campaign_id})

    if outcomes.ambiguous:
        rows = []
        for message, exc in outcomes.ambiguous:
            message.attempts += 1
            message.status = Status.UNKNOWN
            _error_fields(message, exc)
            rows.append(message)
        _write(rows, ["status", "attempts", *ERROR_FIELDS], where=_SENDING)
        logger.warning(
            "%d message(s) on channel %s in unknown state (request may have arrived)",
            len(rows),
            channel.pk,
        )

    if outcomes.auth:
        _, exc = outcomes.auth[0]
        if isinstance(exc, ChannelMisconfigured):
            reason = str(exc)
        else:
            reason = f"Provider refused our credentials: {exc}"
        channel_pause(channel=channel, reason=reason[:300])
        Message.objects.filter(
            pk__in=[m.pk for m, _ in outcomes.auth], status=Status.SENDING
        ).update(status=Status.QUEUED)

    _metrics_record(channel, outcomes)


def _metrics_record(channel: Channel, outcomes: Outcomes) -> None:
    """Count a recorded batch (README "Metrics and error reports"): messages the provider
    accepted and those that failed here, and every error the provider answered, by code.
    Errors raised before any request (a message we could not build, a channel without
    credentials) are not the provider's and are not counted as such."""
    messages_count(channel_id=channel.pk, status="accepted", n=len(outcomes.accepted))
    failed = len(outcomes.permanent) + len(outcomes.refused)
    failed += sum(1 for m, _ in outcomes.temporary if m.status == Status.FAILED)
    messages_count(channel_id=channel.pk, status="failed", n=failed)
    codes = Counter(
        error_code_label(getattr(exc, "code", None))
        for kind in (outcomes.temporary, outcomes.permanent, outcomes.ambiguous, outcomes.auth)
        for _, exc in kind
        if isinstance(exc, ProviderError) and not isinstance(exc, ChannelMisconfigured)
    )
    for code, n in codes.items():
        provider_errors_count(code=code, source="send", n=n)


def _apply_parked(wamids: list[str]) -> None:
    statuses_apply_parked(wamids=wamids)


# --- The loop ----------------------------------------------------------------------------------


def send_batch_run(*, channel_id: int, max_seconds: float | None = None) -> dict[str, int]:
    """Drain a channel's due messages for up to `max_seconds`; return counts by outcome.

    Re-enqueues itself when work remains (time budget spent, or retries due later).
    """
    send_nudge_clear(channel_id=channel_id)
    channel = Channel.objects.filter(pk=channel_id).first()
    totals = {"accepted": 0, "retrying": 0, "failed": 0, "unknown": 0, "auth": 0, "refused": 0}
    # The number's state (a service send needs no budget): a refused number's messages wait.
    if channel is None or send_policy_check_number(channel=channel, kind=SendKind.SERVICE):
        return totals
    deadline = time.monotonic() + (max_seconds or settings.SEND_TASK_MAX_SECONDS)
    batch_size = max(
        1,
        min(
            settings.SEND_BATCH_SIZE,
            int(channel.throughput_mps * settings.SEND_RATE_HORIZON_SECONDS),
        ),
    )
    with ThreadPoolExecutor(max_workers=settings.SEND_CONCURRENCY) as executor:
        while time.monotonic() < deadline:
            messages = messages_claim(
                channel_id=channel_id, lane=Lane.PRIORITY, limit=batch_size
            ) or messages_claim(channel_id=channel_id, lane=Lane.BULK, limit=batch_size)
            if not messages:
                break
            try:
                outcomes = batch_send(channel=channel, messages=messages, executor=executor)
            except Exception as exc:
                _interrupted(channel_id, messages, exc)
            for key, value in outcomes.count().items():
                totals[key] += value
            if outcomes.auth or outcomes.held:
                return totals
            if outcomes.rate_limited:  # the limiter had no room within the horizon
                ratelimit.wait(min(0.1, settings.SEND_RATE_HORIZON_SECONDS / 4))
        else:
            send_enqueue(channel_id=channel_id)  # budget spent with work left
            return totals
    _schedule_next_retry(channel_id)
    hooks.queue_drained()
    return totals


class SendInterrupted(Exception):
    """A batch stopped on an unexpected error. Its messages whose requests had not started are
    back in the queue, due at `retry_at`; the task tries again then."""

    def __init__(self, message: str, *, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


def _interrupted(channel_id: int, messages: list[Message], exc: Exception) -> NoReturn:
    """A batch raised: what never left goes back to the queue at once, after a short jittered
    pause (the first retry's backoff, without counting an attempt: nothing was sent), rather
    than waiting in `sending` for the sweeper to call it unknown. What may have left stays
    `sending` and becomes `unknown` when its claim goes stale."""
    retry_at = next_attempt_time(1)
    requeued = _release(messages, retry_at=retry_at)
    unsent = Message.objects.filter(
        pk__in=[m.pk for m in messages], request_started_at__isnull=True
    ).exclude(status=Status.SENDING)
    ratelimit.recipients_release_gap([str(c) for c in unsent.values_list("contact_id", flat=True)])
    logger.warning(
        "send batch on channel %s stopped (%s: %s); %d of %d claimed message(s) had not been "
        "sent and are queued again",
        channel_id, type(exc).__name__, exc, requeued, len(messages),
    )  # fmt: skip
    raise SendInterrupted(
        f"{type(exc).__name__}: {exc}; {requeued} message(s) queued again", retry_at=retry_at
    ) from exc


def _schedule_next_retry(channel_id: int) -> None:
    upcoming = (
        Message.objects.filter(channel_id=channel_id, status=Status.QUEUED)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    if upcoming is not None:
        delay = max(0.0, (upcoming - timezone.now()).total_seconds())
        send_enqueue(channel_id=channel_id, countdown=delay)


def send_sweep() -> dict[str, int]:
    """Re-drive what lost broker messages or killed workers left behind.

    A claim stuck in `sending` past SEND_CLAIM_STALE_SECONDS belonged to a worker that died or
    hung. If its request had not started it never reached the provider: it goes back to the
    queue (paused if its campaign is). If it had, it may have arrived: it becomes `unknown`
    (never re-sent blindly), and a status webhook carrying its UUID settles it. Channels with
    due queued messages get a drainer. Expired per-recipient gaps of the embedded limiter are
    deleted.
    """
    now = timezone.now()
    stale_claims = Message.objects.filter(
        status=Status.SENDING,
        claimed_at__lt=now - timedelta(seconds=settings.SEND_CLAIM_STALE_SECONDS),
    )
    requeued = stale_claims.filter(request_started_at__isnull=True).update(
        status=_queued_or_paused(), next_attempt_at=now
    )
    unknown = stale_claims.filter(request_started_at__isnull=False).update(
        status=Status.UNKNOWN,
        error_title="Worker stopped while sending; waiting for the provider's status.",
    )
    channels = list(
        Message.objects.filter(status=Status.QUEUED, next_attempt_at__lte=now)
        .values_list("channel_id", flat=True)
        .distinct()
    )
    for channel_id in channels:
        send_enqueue(channel_id=channel_id)
    if requeued:
        logger.warning("sweeper queued %d stale claim(s) that had not been sent", requeued)
    if unknown:
        logger.warning("sweeper moved %d stale sending message(s) to unknown", unknown)
    return {
        "stale_requeued": requeued,
        "stale_to_unknown": unknown,
        "channels_redriven": len(channels),
        "recipient_gaps_purged": ratelimit.recipient_gaps_purge(),
    }
