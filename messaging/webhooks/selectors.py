"""Reads over stored webhook events."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Min

from messaging.webhooks.models import WebhookEvent, WebhookState


def webhook_backlog() -> tuple[int, datetime | None]:
    """(events waiting to be processed, when the oldest of them arrived): one aggregate over
    the partial index `webhook_pending`, whose size is the backlog."""
    row = WebhookEvent.objects.filter(state=WebhookState.PENDING).aggregate(
        backlog=Count("id"), oldest=Min("received_at")
    )
    return row["backlog"], row["oldest"]
