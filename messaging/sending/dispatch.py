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
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Value, When
from django.utils import timezone

from core.bulk import update_from_values
from crm.models import Contact
from messaging.channels import ratelimit
from messaging.channels.clients import provider_for_channel
from messaging.channels.models import Channel
from messaging.channels.services import channel_pause
from messaging.providers import (
    AmbiguousError,
    AuthError,
    InvalidMessage,
    PermanentError,
    Provider,
    SendResult,
    TemporaryError,
)
from messaging.sending import hooks
from messaging.sending.failures import failure_side_effects
from messaging.sending.models import Lane, Message, Status
from messaging.sending.nudge import send_enqueue, send_nudge_clear
from messaging.sending.retry import next_attempt_time
from messaging.sending.send import SendRequest, contact_refusal, outbound_for
from messaging.sending.statuses import statuses_apply_parked

logger = logging.getLogger(__name__)

ERROR_FIELDS = ["error_code", "error_title", "error_detail"]


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
            status=Status.SENDING, claimed_at=now
        )
    # Sent in the order they fell due: retries of one storm carry jittered due times, and
    # sending a batch of them in id order would line them up again.
    return list(
        Message.objects.filter(id__in=ids, status=Status.SENDING, claimed_at=now)
        .select_related("contact")
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
    rate_limited: bool = False  # nothing could be booked within the horizon

    def count(self) -> dict[str, int]:
        return {
            "accepted": len(self.accepted),
            "retrying": len(self.temporary),
            "failed": len(self.permanent),
            "unknown": len(self.ambiguous),
            "auth": len(self.auth),
        }


def _send_one(provider: Provider, channel: Channel, message: Message, due: float):
    ratelimit.wait(due - time.monotonic())
    request = SendRequest(
        channel, message.contact, message.type, message.content, message.context_wamid
    )
    outbound = outbound_for(request, callback_data=str(message.uuid))
    try:
        return provider.send(outbound)
    except (TemporaryError, PermanentError, AmbiguousError, AuthError, InvalidMessage) as exc:
        return exc
    except Exception as exc:
        logger.exception("unexpected error sending message %s", message.uuid)
        return AmbiguousError(f"unexpected error: {type(exc).__name__}: {exc}")


def _refusal_at_send_time(message: Message) -> str | None:
    """Consent and blocks may have changed since the message was queued."""
    refusal = contact_refusal(message.contact, marketing=message.is_marketing, needs_window=False)
    return f"Refused at send time: {refusal.message}" if refusal else None


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


def _release(messages: list[Message]) -> None:
    """Put claimed messages back in the queue (the rate had no room for them now); rows of a
    campaign paused meanwhile go back as paused."""
    if messages:
        paused = hooks.paused_q()
        Message.objects.filter(pk__in=[m.pk for m in messages], status=Status.SENDING).update(
            status=Case(When(paused, then=Value(Status.PAUSED)), default=Value(Status.QUEUED))
            if paused is not None
            else Value(Status.QUEUED)
        )


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


def batch_send(
    *, channel: Channel, messages: list[Message], executor: ThreadPoolExecutor
) -> Outcomes:
    """Send claimed messages at the channel's pace and record the outcomes."""
    refused = [(m, reason) for m in messages if (reason := _refusal_at_send_time(m))]
    if refused:
        _record_cancelled(refused)
        refused_ids = {m.pk for m, _ in refused}
        messages = [m for m in messages if m.pk not in refused_ids]
    messages = _hold_for_recipient_gap(messages)
    outcomes = Outcomes()
    if not messages:
        return outcomes
    messages, start, rate = _book(channel, messages)
    if not messages:
        outcomes.rate_limited = True
        return outcomes
    t0 = time.monotonic() + start
    provider = provider_for_channel(channel)
    futures = [
        executor.submit(_send_one, provider, channel, message, t0 + i / rate)
        for i, message in enumerate(messages)
    ]
    for message, future in zip(messages, futures, strict=True):
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


def _record_cancelled(refused: list[tuple[Message, str]]) -> None:
    now = timezone.now()
    for message, reason in refused:
        message.status = Status.CANCELLED
        message.error_title = reason
        message.failed_at = now
    _write([m for m, _ in refused], ["status", "error_title", "failed_at"], where=_SENDING)


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
        _write(
            rows, ["wamid", "wa_id", "accepted_at", "attempts", "status"], expressions=_ACCEPTED_SQL
        )
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
        _write(
            rows,
            ["status", "attempts", "next_attempt_at", "failed_at", *ERROR_FIELDS],
            where=_SENDING,
        )

    if outcomes.permanent:
        rows = []
        for message, exc in outcomes.permanent:
            message.attempts += 1
            message.status = Status.FAILED
            message.failed_at = now
            _error_fields(message, exc)
            rows.append(message)
        _write(rows, ["status", "attempts", "failed_at", *ERROR_FIELDS], where=_SENDING)
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
        channel_pause(channel=channel, reason=f"Provider refused our credentials: {exc}")
        Message.objects.filter(
            pk__in=[m.pk for m, _ in outcomes.auth], status=Status.SENDING
        ).update(status=Status.QUEUED)


def _apply_parked(wamids: list[str]) -> None:
    statuses_apply_parked(wamids=wamids)


# --- The loop ----------------------------------------------------------------------------------


def send_batch_run(*, channel_id: int, max_seconds: float | None = None) -> dict[str, int]:
    """Drain a channel's due messages for up to `max_seconds`; return counts by outcome.

    Re-enqueues itself when work remains (time budget spent, or retries due later).
    """
    send_nudge_clear(channel_id=channel_id)
    channel = Channel.objects.filter(pk=channel_id).first()
    totals = {"accepted": 0, "retrying": 0, "failed": 0, "unknown": 0, "auth": 0}
    if channel is None or not channel.is_active or channel.paused_reason:
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
            outcomes = batch_send(channel=channel, messages=messages, executor=executor)
            for key, value in outcomes.count().items():
                totals[key] += value
            if outcomes.auth:
                return totals
            if outcomes.rate_limited:
                time.sleep(min(0.1, settings.SEND_RATE_HORIZON_SECONDS / 4))
        else:
            send_enqueue(channel_id=channel_id)  # budget spent with work left
            return totals
    _schedule_next_retry(channel_id)
    hooks.queue_drained()
    return totals


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

    Messages stuck in `sending` past SEND_CLAIM_STALE_SECONDS may or may not have reached the
    provider: they become `unknown` (never re-sent blindly), and a status webhook carrying
    their UUID settles them. Channels with due queued messages get a drainer. Expired
    per-recipient gaps of the embedded limiter are deleted.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.SEND_CLAIM_STALE_SECONDS)
    unknown = Message.objects.filter(status=Status.SENDING, claimed_at__lt=stale).update(
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
    if unknown:
        logger.warning("sweeper moved %d stale sending message(s) to unknown", unknown)
    return {
        "stale_to_unknown": unknown,
        "channels_redriven": len(channels),
        "recipient_gaps_purged": ratelimit.recipient_gaps_purge(),
    }
