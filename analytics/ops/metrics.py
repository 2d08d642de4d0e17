"""Celery queue depths for Prometheus, read from the broker at scrape time (README "Metrics
and error reports"), through the operations centre's own reading (`queues.queue_states`);
registered with `core.metrics` by AnalyticsConfig.ready()."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import GaugeMetricFamily, Metric

from analytics.ops.queues import queue_states


def queue_depth_collect() -> Iterable[Metric]:
    transport, states, extra = queue_states()
    depth = GaugeMetricFamily(
        "parley_queue_depth",
        "Tasks waiting in each Celery queue (Redis: LLEN of the queue's lists; tasks a worker "
        "already took are not counted).",
        labels=["queue"],
    )
    age = GaugeMetricFamily(
        "parley_queue_oldest_age_seconds",
        "Seconds the oldest waiting task of each queue has waited (when the broker can tell).",
        labels=["queue"],
    )
    for state in states:
        if state.depth is not None:
            depth.add_metric([state.name], state.depth)
        if state.oldest_age_s is not None:
            age.add_metric([state.name], state.oldest_age_s)
    yield depth
    yield age
    if "unacked" in extra:
        yield GaugeMetricFamily(
            "parley_queue_unacked",
            "Tasks workers have taken but not yet acknowledged, all queues together (Redis).",
            value=extra["unacked"],
        )
    errors = [state.error for state in states if state.error]
    if errors:
        raise RuntimeError(f"broker ({transport}) unreadable: {errors[0]}")
