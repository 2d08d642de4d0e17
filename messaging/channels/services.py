"""Writes on channels: pause a number that may not send, resume it, record its health and
refresh it from the provider."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from core.queueing import task
from messaging.channels.clients import provider_for_channel
from messaging.channels.health import (
    Health,
    HealthChange,
    quality_normalise,
    status_normalise,
    tier_normalise,
)
from messaging.channels.hooks import health_changed
from messaging.channels.models import Channel, HealthSource
from messaging.channels.selectors import channels_active
from messaging.providers import ProviderError

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
    """Whether a reading of `at` may replace one of `last`. Meta dates webhooks to the second,
    so readings within the same second count as simultaneous, and the one applied later wins
    (a Graph refresh a moment before an event must not hide the event)."""
    return last is None or at.replace(microsecond=0) >= last.replace(microsecond=0)


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


# --- Refresh from the provider -----------------------------------------------------------------


@dataclass
class HealthSyncResult:
    change: HealthChange | None = None
    skipped: str = ""
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.skipped:
            return f"skipped: {self.skipped}"
        parts = []
        if self.change is not None:
            after = self.change.after
            parts.append(f"quality {after.quality}, tier {after.tier or '?'}, {after.status}")
            if self.change.alarm:
                parts.append(f"ALARM: {self.change.alarm}")
        if self.errors:
            parts.append("errors: " + "; ".join(self.errors))
        return "; ".join(parts)


def channel_health_sync(*, channel: Channel) -> HealthSyncResult:
    """Read the number's quality rating, messaging limit and status from the provider (Graph
    `GET /{phone_number_id}`) and record them as a reading of now.

    Webhooks tell of changes as they happen; this catches what a lost or unsubscribed
    webhook missed, and the quality rating, which Meta's quality webhook does not carry. A
    provider error is reported, not raised (the next run tries again); a value Parley
    cannot read is reported and the readable ones still apply.
    """
    result = HealthSyncResult()
    provider = provider_for_channel(channel)
    if not provider.supports_number_health:
        result.skipped = f"{channel.provider} does not report number health"
        return result
    try:
        reading = provider.number_health()
    except ProviderError as exc:
        logger.warning("number health of channel %s not read: %s", channel.pk, exc)
        result.errors.append(str(exc))
        return result
    values: dict[str, str | None] = {}
    for name, raw, normalise in (
        ("quality", reading.quality_rating, quality_normalise),
        ("tier", reading.messaging_tier, tier_normalise),
        ("status", reading.status, status_normalise),
    ):
        if raw is None:
            continue
        try:
            values[name] = normalise(raw)
        except ValueError as exc:
            result.errors.append(f"{name}: {exc}")
    if result.errors:
        logger.warning("number health of channel %s: %s", channel.pk, "; ".join(result.errors))
    result.change = channel_health_apply(
        channel=channel,
        source=HealthSource.GRAPH,
        name_status=reading.name_status,
        event="graph refresh",
        **values,
    )
    return result


def channels_health_sync(*, channel_id: int | None = None) -> dict[str, str]:
    """Refresh every active channel (or the one with `channel_id`); name -> summary."""
    channels = channels_active().order_by("pk")
    if channel_id is not None:
        channels = channels.filter(pk=channel_id)
    return {channel.name: channel_health_sync(channel=channel).summary() for channel in channels}
