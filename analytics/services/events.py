"""What the signal handlers write: button clicks, quality ratings, and "this past day changed"
marks for the incremental rollups. Every function here is cheap and idempotent."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import date, datetime

from django.db import IntegrityError, transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from analytics.days import local_day, today
from analytics.models import ButtonClick, QualityRating, RollupDirtyDay, RollupState
from messaging.content.unlock import content_payload_parse
from messaging.models import ContentDelivery, ContentUnlock, MessageType, Notification
from messaging.sending.engagement import click_mark

logger = logging.getLogger(__name__)

# A process marks the same past day at most once per this many seconds (read receipts for
# yesterday's messages arrive by the thousand). A rollup only clears marks older than its start
# minus this, so a change skipped by the debounce is always either read by that run or kept.
MARK_DEBOUNCE_SECONDS = 2.0
_recent_marks: dict[date, float] = {}


def day_mark_changed(day: date) -> bool:
    """Mark a day before today as changed, for the next rollup run (today is always rolled
    up). Returns whether a mark was written."""
    if day >= today():
        return False
    now = time.monotonic()
    last = _recent_marks.get(day)
    if last is not None and now - last < MARK_DEBOUNCE_SECONDS:
        return False
    RollupDirtyDay.objects.bulk_create(
        [RollupDirtyDay(day=day, marked_at=timezone.now())],
        update_conflicts=True,
        unique_fields=["day"],
        update_fields=["marked_at"],
    )
    _recent_marks[day] = now
    if len(_recent_marks) > 1000:
        _recent_marks.clear()
    return True


def moment_mark_changed(at: datetime | None) -> bool:
    return day_mark_changed(local_day(at)) if at is not None else False


def moments_mark_changed(moments: Iterable[datetime | None]) -> int:
    """Mark the days of many moments (a batch of status changes); returns marks written."""
    days = {local_day(at) for at in moments if at is not None}
    return sum(day_mark_changed(day) for day in sorted(days))


def customers_mark_stale() -> None:
    """Customer metrics are recomputed by the next run (a merge moved conversions)."""
    RollupState.objects.filter(name="customers").update(computed_at=None)


def button_label(*, payload: str, title: str) -> str:
    """What dashboards group taps by: the button's text, else its payload up to the first ':'
    (Click-to-Unlock payloads end with a delivery id, one per advisor)."""
    if title.strip():
        return title.strip()[:256]
    return payload.split(":", 1)[0].strip()[:256] or "(no payload)"


def button_click_record(*, message, payload: str, title: str, replied_to=None) -> ButtonClick:
    """Record one button or list reply (once per reply message) with what it answered."""

    existing = ButtonClick.objects.filter(message_id=message.pk).first()
    if existing is not None:
        return existing
    clicked_at = message.received_at or message.created_at or timezone.now()
    campaign_id = content_item_id = notification_id = None
    delay = None
    if replied_to is not None:
        campaign_id = replied_to.campaign_id
        content_item_id = (
            ContentDelivery.objects.filter(message_id=replied_to.pk)
            .values_list("content_item_id", flat=True)
            .first()
        ) or (
            ContentUnlock.objects.filter(message_id=replied_to.pk)
            .values_list("delivery__content_item_id", flat=True)
            .first()
        )
        notification_id = (
            Notification.objects.filter(message_id=replied_to.pk)
            .values_list("pk", flat=True)
            .first()
        )
        reached = replied_to.delivered_at or replied_to.read_at
        if reached is not None and clicked_at >= reached:
            delay = (clicked_at - reached).total_seconds()
    if content_item_id is None:
        content_item_id = _content_item_from_payload(payload, message.contact_id)
    click = ButtonClick(
        message_id=message.pk,
        replied_to_id=getattr(replied_to, "pk", None),
        channel_id=message.channel_id,
        contact_id=message.contact_id,
        campaign_id=campaign_id,
        content_item_id=content_item_id,
        notification_id=notification_id,
        kind=(
            ButtonClick.Kind.BUTTON
            if message.type == MessageType.BUTTON_REPLY
            else ButtonClick.Kind.LIST
        ),
        payload=(payload or "")[:256],
        title=(title or "")[:256],
        label=button_label(payload=payload or "", title=title or ""),
        clicked_at=clicked_at,
        delay_seconds=delay,
    )
    try:
        with transaction.atomic():
            click.save()
    except IntegrityError:  # the same reply recorded concurrently
        return ButtonClick.objects.get(message_id=message.pk)
    click_mark(message_id=click.replied_to_id, at=clicked_at)
    moment_mark_changed(clicked_at)
    return click


def _content_item_from_payload(payload: str, contact_id: int) -> int | None:

    _kind, delivery_id = content_payload_parse(payload or "")
    if delivery_id is None:
        return None
    return (
        ContentDelivery.objects.filter(pk=delivery_id, contact_id=contact_id)
        .values_list("content_item_id", flat=True)
        .first()
    )


def quality_rating_record(
    *, answer, rating: int, previous: int | None, rated_by, at
) -> QualityRating:
    row = QualityRating.objects.create(
        answer_id=answer.pk,
        responder=(answer.responder or "")[:32],
        topic=(answer.topic or "")[:64],
        rating=int(rating),
        previous=previous,
        rated_by=rated_by if getattr(rated_by, "pk", None) else None,
        rated_at=at or timezone.now(),
    )
    moment_mark_changed(row.rated_at)
    return row


TOUCH_TIME = Coalesce("delivered_at", "read_at")
