"""Queue depths on /metrics come from the operations centre's own reading of the broker."""

from __future__ import annotations

from unittest import mock

import pytest

from analytics.ops.queues import QueueState
from tests.core.metrics_support import TOKEN, scrape, value

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []


def test_each_queue_depth_and_oldest_age_as_the_broker_reports_them():
    states = [
        QueueState("send", depth=42, oldest_age_s=12.5),
        QueueState("webhooks", depth=0),
        QueueState("default", depth=3, age_note="published without a timestamp"),
        QueueState("analytics", depth=1, oldest_age_s=0.5),
    ]
    with mock.patch(
        "analytics.ops.metrics.queue_states", return_value=("redis", states, {"unacked": 4})
    ) as read:
        samples = scrape()
    read.assert_called_once_with()
    assert value(samples, "parley_queue_depth", queue="send") == 42
    assert value(samples, "parley_queue_depth", queue="webhooks") == 0
    assert value(samples, "parley_queue_depth", queue="default") == 3
    assert value(samples, "parley_queue_oldest_age_seconds", queue="send") == 12.5
    assert ("parley_queue_oldest_age_seconds", (("queue", "default"),)) not in samples
    assert value(samples, "parley_queue_unacked") == 4
    assert value(samples, "parley_scrape_collector_up", collector="queue_depth") == 1


def test_a_broker_that_cannot_be_read_marks_the_collector_down():
    states = [QueueState(q, error="ConnectionError: refused") for q in ("send", "webhooks")]
    with mock.patch("analytics.ops.metrics.queue_states", return_value=("redis", states, {})):
        samples = scrape()
    assert value(samples, "parley_scrape_collector_up", collector="queue_depth") == 0
    assert value(samples, "parley_scrape_collector_up", collector="webhook_backlog") == 1
    assert not [key for key in samples if key[0] == "parley_queue_depth"]


def test_the_real_broker_of_the_unit_tests_answers_every_queue():
    """The in-memory transport: every queue declared, none waiting."""
    samples = scrape()
    for queue in ("send", "webhooks", "default", "analytics"):
        assert ("parley_queue_depth", (("queue", queue),)) in samples, queue
