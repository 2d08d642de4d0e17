"""Campaign progress for Prometheus, computed at scrape time (README "Metrics and error
reports"); registered with `core.metrics` by MessagingConfig.ready()."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import GaugeMetricFamily, Metric

from messaging.campaigns.selectors import campaigns_in_flight_counts

# Series per campaign are bounded: the latest this many running or paused campaigns.
CAMPAIGNS_MAX = 50
STAGES = ("targeted", "sent", "delivered", "failed", "pending")


def campaign_progress_collect() -> Iterable[Metric]:
    messages = GaugeMetricFamily(
        "parley_campaign_messages",
        "Messages of each running or paused campaign by stage: targeted (all its messages), "
        "sent (accepted by the provider or further), delivered (or read), failed, pending "
        "(still queued or sending).",
        labels=["campaign", "channel", "state", "stage"],
    )
    for row in campaigns_in_flight_counts(limit=CAMPAIGNS_MAX):
        for stage in STAGES:
            labels = [str(row["pk"]), str(row["channel_id"]), row["state"], stage]
            messages.add_metric(labels, row[stage])
    yield messages
