"""Webhook tasks (queue `webhooks`): adapters that load by id and call one service."""

from __future__ import annotations

import contextlib
import logging
import time

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from core.periodic import periodic_task
from core.retrying import retry_countdown
from messaging.providers import TemporaryError
from messaging.sending.statuses import statuses_apply_parked_older
from messaging.webhooks.inbound import media_error_record, message_media_fetch
from messaging.webhooks.services import (
    webhook_drain_nudge_clear,
    webhook_error_is_data,
    webhook_event_mark_failed,
    webhook_event_process,
    webhook_events_drain,
    webhook_events_purge,
    webhook_events_sweep,
)

__all__ = [
    "webhook_drain",
    "webhook_fetch_media",
    "webhook_process",
    "webhook_purge",
    "webhook_sweep",
]

logger = logging.getLogger(__name__)

PROCESS_MAX_RETRIES = 8
MEDIA_MAX_RETRIES = 4


@shared_task(
    name="messaging.webhook_drain",
    bind=True,
    acks_late=True,
    ignore_result=True,
    max_retries=PROCESS_MAX_RETRIES,
)
def webhook_drain(self) -> int:
    """Drain pending webhook events in batches (the intake's nudge). A database error is
    retried with backoff; events it leaves pending are the sweeper's after that."""
    if not self.request.retries:
        webhook_drain_nudge_clear()  # before the first claim: see webhook_drain_nudge
    cleared = time.monotonic()
    try:
        done = webhook_events_drain()
        # Web processes that saw the flag just before it was cleared may store events for a
        # moment without checking it again: claim once more after that moment has passed.
        linger = cleared + settings.WEBHOOK_DRAIN_LINGER_SECONDS - time.monotonic()
        if linger > 0:
            time.sleep(linger)
            done += webhook_events_drain()
        return done
    except DatabaseError as exc:
        if self.request.retries >= self.max_retries:
            raise
        raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries)) from exc


@shared_task(
    name="messaging.webhook_process",
    bind=True,
    acks_late=True,
    ignore_result=True,
    max_retries=PROCESS_MAX_RETRIES,
)
def webhook_process(self, event_id: int) -> None:
    """Process one stored webhook by id (the intake uses `webhook_drain`). Bad data marks the
    event failed inside the service, and so does a constraint the payload breaks, at once; a
    database error is retried with backoff, and after the last retry the event is marked
    failed (visible in the admin, replayable) instead of being swept forever."""
    try:
        webhook_event_process(event_id=event_id)
    except DatabaseError as exc:
        if webhook_error_is_data(exc):
            webhook_event_mark_failed(
                event_id=event_id, error=f"refused by the database: {type(exc).__name__}: {exc}"
            )
            return
        if self.request.retries >= self.max_retries:
            with contextlib.suppress(DatabaseError):
                webhook_event_mark_failed(
                    event_id=event_id,
                    error=f"gave up after {self.request.retries + 1} attempts: {exc}",
                )
            raise
        raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries)) from exc


@periodic_task(
    name="messaging.webhook_sweep", lock_timeout=120, backoff_min=10, backoff_max=60, expires=30
)
def webhook_sweep() -> dict:
    """Every few seconds: pending events a lost broker message left behind, and parked
    statuses whose message has its wamid by now."""
    age = settings.WEBHOOK_SWEEP_AFTER_SECONDS
    events = webhook_events_sweep(older_than=age)
    statuses = statuses_apply_parked_older(older_than_seconds=age)
    return {"events": events, "parked_statuses": statuses}


@periodic_task(name="messaging.webhook_purge", lock_timeout=3600)
def webhook_purge() -> dict:
    """Daily: drop webhook bodies and unmatched statuses past WEBHOOK_RETENTION_DAYS."""
    return webhook_events_purge()


@shared_task(
    name="messaging.webhook_fetch_media",
    bind=True,
    acks_late=True,
    ignore_result=True,
    max_retries=MEDIA_MAX_RETRIES,
)
def webhook_fetch_media(self, message_id: int) -> bool:
    """Download an inbound message's media. A failure is recorded on the message."""
    try:
        return message_media_fetch(message_id=message_id)
    except TemporaryError as exc:
        if self.request.retries >= self.max_retries:
            media_error_record(message_id=message_id, error=str(exc))
            return False
        raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries, cap=300)) from exc
    except DatabaseError:
        raise
    except Exception as exc:
        logger.exception("media download of message %s crashed", message_id)
        media_error_record(message_id=message_id, error=f"{type(exc).__name__}: {exc}")
        return False
