"""Event webhook tasks (queue `webhooks`): adapters over `services`."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from core.periodic import periodic_task
from core.retrying import retry_countdown
from messaging.hooks_out.services import (
    deliveries_drain,
    deliveries_purge,
    deliveries_release_stale,
    drain_nudge_clear,
)

__all__ = ["hooks_out_drain", "hooks_out_purge", "hooks_out_sweep"]


@shared_task(
    name="messaging.hooks_out_drain", bind=True, acks_late=True, ignore_result=True,
    max_retries=8,
)  # fmt: skip
def hooks_out_drain(self) -> dict:
    """Deliver due event webhooks (the outbox's nudge). A database error is retried with
    backoff; what it leaves is the periodic sweep's."""
    if not self.request.retries:
        drain_nudge_clear()  # before the first claim: an event committed later nudges again
    try:
        return deliveries_drain()
    except DatabaseError as exc:
        if self.request.retries >= self.max_retries:
            raise
        raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries)) from exc


@periodic_task(
    name="messaging.hooks_out_sweep", lock_timeout=120, backoff_min=10, backoff_max=60,
    expires=30,
)  # fmt: skip
def hooks_out_sweep() -> dict:
    """Every few seconds: claims a killed worker left, then whatever is due (a retry whose
    time came, a nudge the broker lost)."""
    stale = deliveries_release_stale(older_than_seconds=4 * settings.WEBHOOK_OUT_TIMEOUT_SECONDS)
    totals = deliveries_drain(budget_seconds=min(20.0, settings.WEBHOOK_OUT_DRAIN_SECONDS))
    return {"released": stale, **totals}


@periodic_task(name="messaging.hooks_out_purge", lock_timeout=3600)
def hooks_out_purge() -> dict:
    """Daily: delivered and given-up deliveries past WEBHOOK_OUT_RETENTION_DAYS."""
    return {"purged": deliveries_purge()}
