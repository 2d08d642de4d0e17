"""Backoff for messages that will be tried again."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from messaging.models import Message, Status


def backoff_delay(attempts: int, *, retry_after: float | None = None) -> float:
    """Seconds to wait before attempt `attempts + 1`: exponential with full jitter, capped.

    A provider's Retry-After wins when it is longer.
    """
    base = settings.SEND_RETRY_BASE_SECONDS
    cap = settings.SEND_RETRY_MAX_DELAY_SECONDS
    ceiling = min(cap, base * (2 ** max(attempts - 1, 0)))
    delay = random.uniform(ceiling / 2, ceiling)
    if retry_after:
        delay = max(delay, retry_after)
    return delay


def next_attempt_time(attempts: int, *, retry_after: float | None = None) -> datetime:
    return timezone.now() + timedelta(seconds=backoff_delay(attempts, retry_after=retry_after))


def messages_requeue(*, message_ids: list[int], code: int | None, reason: str) -> int:
    """Queue outbound messages again after a provider said "try later" in a status webhook.

    The wamid of the failed attempt is dropped (a new send gets a new one; the old one stays
    in the status history). Messages past SEND_MAX_ATTEMPTS are marked failed instead.
    Returns how many were re-queued.
    """
    now = timezone.now()
    base = Message.objects.filter(pk__in=message_ids, direction="out")
    exhausted = base.filter(attempts__gte=settings.SEND_MAX_ATTEMPTS).exclude(
        status__in=[Status.DELIVERED, Status.READ, Status.CANCELLED]
    )
    exhausted.update(status=Status.FAILED, failed_at=now, error_code=code, error_title=reason[:300])
    requeued = 0
    for message in base.filter(attempts__lt=settings.SEND_MAX_ATTEMPTS).exclude(
        status__in=[Status.DELIVERED, Status.READ, Status.CANCELLED, Status.QUEUED]
    ):
        requeued += Message.objects.filter(pk=message.pk, status=message.status).update(
            status=Status.QUEUED,
            wamid=None,
            next_attempt_at=next_attempt_time(message.attempts),
            error_code=code,
            error_title=reason[:300],
        )
    return requeued
