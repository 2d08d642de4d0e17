"""Webhook processing lag for Prometheus, computed at scrape time (README "Metrics and error
reports"); registered with `core.metrics` by MessagingConfig.ready()."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from messaging.webhooks.selectors import webhook_backlog


def webhook_backlog_collect() -> Iterable[Metric]:
    backlog, oldest = webhook_backlog()
    lag = max(0.0, (timezone.now() - oldest).total_seconds()) if oldest else 0.0
    yield GaugeMetricFamily(
        "parley_webhook_lag_seconds",
        "Seconds since the oldest provider webhook still waiting to be processed arrived "
        "(0 when none waits).",
        value=lag,
    )
    yield GaugeMetricFamily(
        "parley_webhook_pending",
        "Provider webhooks stored and waiting to be processed.",
        value=backlog,
    )
