"""Backoff for messages that will be tried again."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.retrying import retry_countdown
from messaging.sending.models import Direction, Message, Status
from messaging.sending.nudge import send_enqueue_on_commit


def backoff_delay(attempts: int, *, retry_after: float | None = None) -> float:
    """Seconds to wait before attempt `attempts + 1`: exponential with jitter, capped.

    A provider's Retry-After wins when it is longer, itself jittered upwards (up to a fifth
    more): every message refused in the same storm carries the same hint, and retrying them
    all at the same instant would only start the next storm.
    """
    delay = retry_countdown(
        attempts - 1,
        base=settings.SEND_RETRY_BASE_SECONDS,
        cap=settings.SEND_RETRY_MAX_DELAY_SECONDS,
    )
    if retry_after:
        delay = max(delay, retry_after * random.uniform(1.0, 1.2))
    return delay


def next_attempt_time(attempts: int, *, retry_after: float | None = None) -> datetime:
    return timezone.now() + timedelta(seconds=backoff_delay(attempts, retry_after=retry_after))


def messages_requeue(*, message_ids: list[int], code: int | None, reason: str) -> int:
    """Queue outbound messages again after a provider said "try later" in a status webhook.

    The wamid of the failed attempt is dropped (a new send gets a new one; the old one stays
    in the status history). Messages past SEND_MAX_ATTEMPTS are marked failed instead, and an
    unconfirmed message staff already sent again is left failed. Two statements whatever the
    count (a 130429 storm can re-queue thousands at once), and the affected channels' drainers
    are nudged for when the first retry is due.
    Returns how many were re-queued.
    """
    now = timezone.now()
    settled = [Status.DELIVERED, Status.READ, Status.CANCELLED]
    # A message staff already sent again (`resent_as`) stays failed: its resend carries it.
    base = Message.objects.filter(
        pk__in=message_ids, direction="out", resent_as__isnull=True
    ).exclude(status__in=settled)
    base.filter(attempts__gte=settings.SEND_MAX_ATTEMPTS).update(
        status=Status.FAILED, failed_at=now, error_code=code, error_title=reason[:300]
    )
    rows = list(
        base.filter(attempts__lt=settings.SEND_MAX_ATTEMPTS)
        .exclude(status=Status.QUEUED)
        .only("pk", "attempts", "channel_id", "status")
    )
    for message in rows:
        message.status = Status.QUEUED
        message.wamid = None
        message.next_attempt_at = next_attempt_time(message.attempts)
        message.error_code = code
        message.error_title = reason[:300]
    requeued = base.exclude(status=Status.QUEUED).bulk_update(
        rows, ["status", "wamid", "next_attempt_at", "error_code", "error_title"]
    )
    for channel_id in {m.channel_id for m in rows}:
        send_enqueue_on_commit(channel_id=channel_id)
    return requeued


def messages_failed_retry(*, message_ids: list[int]) -> int:
    """Staff send failed outbound messages again (the operations centre's retry job).

    Each goes back to the queue now with its attempts reset and its last refusal cleared: the
    send policy is asked again when it goes. A message already sent again by hand
    (`resent_as`) stays failed, so nobody gets it twice. The channels' drainers are nudged
    after commit. Returns how many were queued again.
    """
    with transaction.atomic():
        rows = Message.objects.filter(
            pk__in=message_ids,
            status=Status.FAILED,
            direction=Direction.OUTBOUND,
            resent_as__isnull=True,
        )
        channels = set(rows.values_list("channel_id", flat=True).distinct())
        requeued = rows.update(
            status=Status.QUEUED,
            attempts=0,
            wamid=None,
            claimed_at=None,
            failed_at=None,
            refusal="",
            next_attempt_at=timezone.now(),
        )
    for channel_id in sorted(channels):
        send_enqueue_on_commit(channel_id=channel_id)
    return requeued
