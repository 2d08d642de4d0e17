"""Reads of event webhooks: subscriptions with their figures, a delivery log, what needs
attention (for the operations centre, which reads it from analytics)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from messaging.hooks_out.models import (
    UNDELIVERED,
    DeliveryState,
    WebhookDelivery,
    WebhookSubscription,
)

# A receiver failing this long is worth a look (a blip of a minute or two is not).
FAILING_WARN_AFTER = timedelta(minutes=5)
DELIVERY_LOG_FIELDS = (
    "id", "subscription_id", "event_id", "event_type", "ordering_key", "state", "attempts",
    "next_attempt_at", "created_at", "delivered_at", "last_attempt_at", "status_code",
    "latency_ms", "response_excerpt", "error", "replay_of_id",
)  # fmt: skip


def subscription_list() -> QuerySet[WebhookSubscription]:
    return WebhookSubscription.objects.select_related("created_by").order_by("name", "id")


def _count(**filters: Any) -> Coalesce:
    """A subscription's deliveries matching `filters`, counted by a correlated subquery that
    the partial indexes answer (a join would read the whole delivery log)."""
    rows = (
        WebhookDelivery.objects.filter(subscription=OuterRef("pk"), **filters)
        .order_by()
        .values("subscription")
        .annotate(n=Count("id"))
        .values("n")[:1]
    )
    return Coalesce(Subquery(rows), 0)


def subscriptions_with_figures() -> QuerySet[WebhookSubscription]:
    """Each subscription with its backlog (undelivered) and given-up deliveries."""
    return subscription_list().annotate(
        backlog=_count(state__in=UNDELIVERED), dead=_count(state=DeliveryState.DEAD)
    )


def delivery_log(
    subscription: WebhookSubscription,
    *,
    state: str = "",
    event_type: str = "",
    event_id: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[WebhookDelivery]:
    """A subscription's deliveries, newest first (index `hookdelivery_log`)."""
    deliveries = WebhookDelivery.objects.filter(subscription=subscription).only(
        *DELIVERY_LOG_FIELDS
    )
    if state in DeliveryState.values:
        deliveries = deliveries.filter(state=state)
    if event_type:
        deliveries = deliveries.filter(event_type=event_type)
    if event_id:
        deliveries = deliveries.filter(event_id=event_id)
    if since is not None:
        deliveries = deliveries.filter(created_at__gte=since)
    if until is not None:
        deliveries = deliveries.filter(created_at__lt=until)
    return deliveries.order_by("-created_at", "-id")


def subscriptions_needing_attention(now: datetime | None = None) -> list[dict[str, Any]]:
    """Disabled subscriptions (down) and failing ones (warn), for the health report."""
    now = now or timezone.now()
    rows = []
    for subscription in WebhookSubscription.objects.filter(
        Q(is_active=False, disabled_at__isnull=False, disabled_reason__gt="")
        | Q(is_active=True, failing_since__isnull=False)
    ).exclude(disabled_reason="turned off by staff"):
        if not subscription.is_active:
            state, detail = "down", f"disabled: {subscription.disabled_reason}"
        elif now - subscription.failing_since > FAILING_WARN_AFTER:
            state, detail = "warn", "its receiver has failed every attempt for a while"
        else:
            continue
        rows.append({"subscription": subscription, "state": state, "detail": detail})
    return rows
