"""Writes on channels: pause a number that may not send, resume it, record its health."""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from core.queueing import task
from messaging.channels.health import (
    Health,
    HealthChange,
    quality_normalise,
    status_normalise,
    tier_normalise,
)
from messaging.channels.hooks import health_changed
from messaging.channels.models import Channel

logger = logging.getLogger(__name__)


def channel_pause(*, channel: Channel, reason: str) -> None:
    """Stop sending on a channel (bad credentials, locked account) until staff resume it."""
    Channel.objects.filter(pk=channel.pk).update(paused_reason=reason[:300])
    channel.paused_reason = reason[:300]
    logger.error("channel %s paused: %s", channel.pk, reason)


def channel_resume(*, channel: Channel) -> None:
    """Clear the pause and ask a worker to drain what waited (after the change commits)."""
    Channel.objects.filter(pk=channel.pk).update(paused_reason="")
    channel.paused_reason = ""
    channel_id = channel.pk
    transaction.on_commit(lambda: task("messaging.send_batch").apply_async(args=[channel_id]))


def _health(channel: Channel) -> Health:
    return Health(channel.quality_rating, channel.messaging_tier, channel.number_status)


def _newer(at: datetime, last: datetime | None) -> bool:
    return last is None or at >= last


def channel_health_apply(
    *,
    channel: Channel,
    source: str,
    at: datetime | None = None,
    quality: str | None = None,
    tier: str | int | None = None,
    status: str | None = None,
    status_detail: str | None = None,
    status_replaces: Collection[str] | None = None,
    name_status: str | None = None,
    event: str = "",
) -> HealthChange:
    """Record what Meta says of a number (None: says nothing of that figure); return the change.

    Each figure applies only when `at` (when Meta said it; default now) is not older than
    that figure's last update, so a late or replayed webhook never overwrites a newer
    reading, and the same reading twice changes nothing. `status_detail` says why the status
    is what it is and is kept with it; `status_replaces` limits a status to replacing those
    (an UNFLAGGED event clears a flag, not a restriction). A value that
    is not Meta's raises ValueError before anything is written (the webhook item fails with
    that reason). Listeners (`channels.hooks`) hear the change inside this transaction; an
    alarm is logged as an error, so it reaches the operations error log.
    """
    at = at or timezone.now()
    values = {
        "quality": quality_normalise(quality) if quality is not None else None,
        "tier": tier_normalise(tier) if tier is not None else None,
        "status": status_normalise(status) if status is not None else None,
    }
    with transaction.atomic():
        locked = Channel.objects.select_for_update().get(pk=channel.pk)
        before = _health(locked)
        fields: list[str] = []

        def put(value, field: str, stamp: str, origin: str) -> None:
            if value is None or not _newer(at, getattr(locked, stamp)):
                return
            setattr(locked, field, value)
            setattr(locked, stamp, at)
            setattr(locked, origin, source)
            fields.extend([field, stamp, origin])

        put(values["quality"], "quality_rating", "quality_updated_at", "quality_source")
        put(values["tier"], "messaging_tier", "tier_updated_at", "tier_source")
        if status_replaces is None or locked.number_status in status_replaces:
            put(values["status"], "number_status", "status_updated_at", "status_source")
            if "number_status" in fields:
                # A new status drops the old one's reason; the same status may refine it.
                if locked.number_status != before.status and status_detail is None:
                    status_detail = ""
                if status_detail is not None:
                    locked.status_detail = status_detail[:300]
                    fields.append("status_detail")
        if name_status is not None and locked.name_status != name_status[:32]:
            locked.name_status = name_status[:32]
            fields.append("name_status")
        if fields:
            locked.save(update_fields=sorted(set(fields)))
        change = HealthChange(locked.pk, before, _health(locked), source, event)
        if change.alarm:
            logger.error("number %s (%s): %s", locked.name, locked.phone_number_id, change.alarm)
        elif change.warning:
            logger.warning(
                "number %s (%s): %s", locked.name, locked.phone_number_id, change.warning
            )
        if change.changed:
            health_changed(locked, change)
    for name in set(fields):
        setattr(channel, name, getattr(locked, name))
    return change
