"""The health report: each dependency up and down, samples, uptime and sparklines."""

import json
import os
import time
from datetime import timedelta

import pytest
from celery.signals import before_task_publish
from django.urls import reverse
from django.utils import timezone

from analytics.models import HealthSample
from analytics.ops import health as ops_health
from analytics.ops.health import health_collect, health_history, provider_probe
from analytics.ops.queues import _message_age, _redis, queue_states
from analytics.ops.sparkline import sparkline_svg, uptime_bars_svg
from config.celery import app as celery_app
from core.models import WorkerHeartbeat
from messaging.models import Status
from tests.factories import (
    ChannelFactory,
    HealthSampleFactory,
    JobRunFactory,
    MessageFactory,
    OpsWebhookEventFactory,
)

pytestmark = pytest.mark.django_db

ALL_QUEUES = ["analytics", "default", "send", "webhooks"]


@pytest.fixture
def filesystem_broker(settings, tmp_path, monkeypatch):
    (tmp_path / "broker" / "out").mkdir(parents=True)
    settings.CELERY_BROKER_FOLDER = tmp_path / "broker"
    monkeypatch.setattr(celery_app.conf, "broker_url", "filesystem://")
    return tmp_path / "broker" / "out"


@pytest.fixture
def live_worker():
    return WorkerHeartbeat.objects.create(hostname="w1@host", queues=ALL_QUEUES)


def by_key(report):
    return report["by_key"]


def test_everything_up(filesystem_broker, live_worker):
    report = health_collect()
    states = {c["key"]: c["state"] for c in report["components"]}
    assert states["database"] == "ok"
    assert states["broker"] == "ok"
    assert states["workers"] == "ok"
    assert all(states[f"queue:{q}"] == "ok" for q in ALL_QUEUES)
    assert states["webhooks"] == "ok"
    assert report["workers"][0]["state"] == "ok"


def test_a_stopped_worker_is_down_and_its_queues_lose_their_consumer(filesystem_broker, settings):
    WorkerHeartbeat.objects.create(
        hostname="old@host",
        queues=ALL_QUEUES,
        last_seen_at=timezone.now()
        - timedelta(seconds=settings.WORKER_HEARTBEAT_STALE_SECONDS + 5),
    )
    report = health_collect()
    assert report["workers"][0]["state"] == "down"
    assert by_key(report)["workers"]["state"] == "down"
    assert by_key(report)["queue:send"]["state"] == "down"
    assert by_key(report)["queue:send"]["detail"] == "no live worker consumes it"
    assert report["status"] == "down"


def test_a_queue_nobody_consumes_is_down(filesystem_broker):
    WorkerHeartbeat.objects.create(hostname="s@host", queues=["send"])
    report = health_collect()
    assert by_key(report)["queue:send"]["state"] == "ok"
    assert by_key(report)["queue:webhooks"]["state"] == "down"
    assert by_key(report)["workers"]["queues_without_worker"] == [
        "webhooks",
        "default",
        "analytics",
    ]


def test_a_stopped_broker_is_down(live_worker, monkeypatch):
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    report = health_collect()
    assert by_key(report)["broker"]["state"] == "down"
    assert by_key(report)["broker"]["detail"]
    assert by_key(report)["queue:send"]["state"] == "down"
    assert report["status"] == "down"


def test_filesystem_queue_depth_and_oldest_age(filesystem_broker, live_worker):
    old = filesystem_broker / "123_aaaa.send.msg"
    old.write_text("{}")
    os.utime(old, (time.time() - 600, time.time() - 600))
    (filesystem_broker / "124_bbbb.send.msg").write_text("{}")
    (filesystem_broker / "125_cccc.webhooks.msg").write_text("{}")
    _, states, _ = queue_states()
    depth = {s.name: s.depth for s in states}
    assert depth == {"send": 2, "webhooks": 1, "default": 0, "analytics": 0}
    send = next(s for s in states if s.name == "send")
    assert 590 < send.oldest_age_s < 700
    # Ten minutes of waiting is above OPS_QUEUE_AGE_WARN_SECONDS.
    assert by_key(health_collect())["queue:send"]["state"] == "warn"


class FakeRedis:
    """Just enough of redis-py for the queue probe: lists and the unacked hash."""

    def __init__(self, lists, unacked=0):
        self.lists = lists
        self.unacked = unacked

    def pipeline(self):
        fake = self

        class Pipe:
            def __init__(self):
                self.ops = []

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def llen(self, key):
                self.ops.append(len(fake.lists.get(key, [])))
                return self

            def hlen(self, key):
                self.ops.append(fake.unacked)
                return self

            def execute(self):
                return self.ops

        return Pipe()

    def lindex(self, key, index):
        items = self.lists.get(key, [])
        return items[index] if items else None


def redis_message(**headers):
    return json.dumps({"body": "W10=", "headers": {"task": "x", "eta": None, **headers}})


def test_redis_depth_counts_priority_lists_and_reads_the_oldest_message():
    now = time.time()
    client = FakeRedis(
        {
            # kombu pushes on the left: the oldest is the last element.
            "send": [redis_message(published_at=now - 5), redis_message(published_at=now - 90)],
            "send\x06\x163": [redis_message()],
            "webhooks": [redis_message()],  # published by something that does not stamp
        },
        unacked=4,
    )
    states, extra = _redis(client, ("send", "webhooks", "default"))
    send, webhooks, default = states
    assert send.depth == 3
    assert 85 < send.oldest_age_s < 100
    assert webhooks.depth == 1 and webhooks.oldest_age_s is None
    assert webhooks.age_note == "published without a timestamp"
    assert default.depth == 0
    assert extra == {"unacked": 4}


def test_a_delayed_message_without_a_stamp_still_shows_its_eta():
    age, eta, note = _message_age(redis_message(eta="2026-01-01T00:00:00"), time.time())
    assert age is None and eta == "2026-01-01T00:00:00" and note


def test_every_published_task_carries_its_publication_time():
    headers = {"id": "x", "task": "t"}
    before_task_publish.send(sender="t", body=(), headers=headers, properties={})
    assert abs(headers["published_at"] - time.time()) < 5


def test_webhook_backlog_lag_and_failure_share(filesystem_broker, live_worker, settings):
    now = timezone.now()
    OpsWebhookEventFactory(state="pending", received_at=now - timedelta(seconds=90))
    OpsWebhookEventFactory(state="pending", received_at=now)
    for _ in range(8):
        OpsWebhookEventFactory(state="processed", received_at=now - timedelta(minutes=30))
    for _ in range(2):
        OpsWebhookEventFactory(state="failed", received_at=now - timedelta(minutes=2))
    webhooks = by_key(health_collect())["webhooks"]
    assert webhooks["backlog"] == 2
    assert 85 < webhooks["lag_s"] < 120
    assert webhooks["state"] == "warn"  # lag above OPS_WEBHOOK_LAG_WARN_SECONDS (60)
    assert webhooks["failure_share"] == pytest.approx(0.2)
    assert webhooks["per_minute_5"] == pytest.approx(4 / 5)
    assert webhooks["per_minute_60"] == pytest.approx(12 / 60)
    assert webhooks["last_received"] is not None

    settings.OPS_WEBHOOK_LAG_WARN_SECONDS = 5  # 90 s is ten times that: not processed at all
    assert by_key(health_collect(use_cache=False))["webhooks"]["state"] == "down"


def test_channels_report_probe_last_send_error_rate_and_throughput(
    filesystem_broker, live_worker, simulator
):
    channel = ChannelFactory(base_url=simulator.url, throughput_mps=1)
    now = timezone.now()
    for _ in range(9):
        MessageFactory(channel=channel, status=Status.DELIVERED, accepted_at=now)
    MessageFactory(channel=channel, status=Status.FAILED, failed_at=now, error_code=131000)
    MessageFactory(channel=channel, status=Status.QUEUED)
    component = by_key(health_collect())[f"channel:{channel.pk}"]
    assert component["probe"]["ok"] is True
    assert component["probe"]["http_status"] >= 200
    assert component["last_send"] is not None
    assert component["finished_hour"] == 10 and component["failed_hour"] == 1
    assert component["error_rate"] == pytest.approx(0.1)
    assert component["accepted_minute"] == 9
    assert component["throughput_use"] == pytest.approx(9 / 60)
    assert component["state"] == "ok"


def test_an_unreachable_or_paused_channel_is_down(filesystem_broker, live_worker):
    unreachable = ChannelFactory(phone_number_id="1", base_url="http://127.0.0.1:9")
    paused = ChannelFactory(phone_number_id="2", paused_reason="token expired")
    report = health_collect()
    assert by_key(report)[f"channel:{unreachable.pk}"]["state"] == "down"
    assert by_key(report)[f"channel:{unreachable.pk}"]["probe"]["ok"] is False
    assert by_key(report)[f"channel:{paused.pk}"]["state"] == "down"
    assert "token expired" in by_key(report)[f"channel:{paused.pk}"]["detail"]
    assert report["status"] == "down"


def test_each_channel_is_probed_by_its_provider_type(
    filesystem_broker, live_worker, monkeypatch, settings
):
    from messaging.providers.myoperator import DEFAULT_BASE_URL

    probed = []

    def probe(url, **kwargs):
        probed.append((kwargs["provider"], url))
        return {"ok": True, "url": url}

    monkeypatch.setattr(ops_health, "provider_probe", probe)
    settings.WHATSAPP_GRAPH_URL = "http://127.0.0.1:1"
    ChannelFactory(phone_number_id="1", provider="myoperator")
    ChannelFactory(phone_number_id="2", base_url="http://127.0.0.1:9")
    ChannelFactory(phone_number_id="3")
    odd = ChannelFactory(phone_number_id="4", provider="carrier_pigeon")
    report = health_collect(use_cache=False)
    assert sorted(probed) == [
        ("meta_cloud", "http://127.0.0.1:1"),
        ("meta_cloud", "http://127.0.0.1:9"),
        ("myoperator", DEFAULT_BASE_URL),
    ]
    # A channel row with a provider nobody registered is reported, not a crash of the page.
    assert by_key(report)[f"channel:{odd.pk}"]["state"] == "down"
    assert "unknown provider" in by_key(report)[f"channel:{odd.pk}"]["detail"]


def test_provider_probe_never_raises():
    assert provider_probe("http://127.0.0.1:9/", timeout=0.5)["ok"] is False
    assert provider_probe("ftp://example.invalid/")["error"] == "not an http(s) URL"
    assert provider_probe("http://127.0.0.1:9/", timeout=0.5, provider="myoperator")["ok"] is False


def test_beat_last_tick(filesystem_broker, live_worker, settings):
    from django_celery_beat.models import PeriodicTask

    PeriodicTask.objects.update(last_run_at=None)
    assert by_key(health_collect())["beat"]["state"] == "warn"
    PeriodicTask.objects.filter(pk=PeriodicTask.objects.first().pk).update(
        last_run_at=timezone.now() - timedelta(seconds=settings.OPS_BEAT_STALE_SECONDS + 60)
    )
    assert by_key(health_collect())["beat"]["state"] == "down"
    PeriodicTask.objects.update(last_run_at=timezone.now())
    assert by_key(health_collect())["beat"]["state"] == "ok"


def test_host_disk_and_memory(filesystem_broker, live_worker):
    host = {c["key"]: c for c in health_collect()["host"]}
    assert host["disk"]["total"] > 0 and 0 <= host["disk"]["free_share"] <= 1
    assert host["memory"]["total"] > 0


def test_last_rollup_and_distribution_are_never_until_they_ran(ops_client, filesystem_broker):
    html = ops_client.get(reverse("ops:health")).content.decode()
    assert "Last rollup</th><td>never" in html
    run = JobRunFactory(name="rollup_analytics")
    report = health_collect()
    assert report["jobs"]["rollup_analytics"] == run
    assert report["jobs"]["distribute_content"] is None


def test_samples_give_uptime_and_sparklines(ops_client, filesystem_broker, live_worker):
    from analytics.ops.tasks import health_sample

    health_sample()
    sample = HealthSample.objects.get()
    assert sample.ok is True
    assert sample.components["database"]["state"] == "ok"
    assert "queue_depth" in sample.numbers
    now = timezone.now()
    HealthSampleFactory(
        created_at=now - timedelta(hours=3),
        ok=False,
        components={"database": {"state": "down"}},
        numbers={"queue_depth": 40},
    )
    HealthSampleFactory(
        created_at=now - timedelta(days=3), components={"database": {"state": "ok"}}
    )
    history = health_history(now)
    assert history["uptime_day"]["database"] == pytest.approx(0.5)
    assert history["uptime_week"]["database"] == pytest.approx(2 / 3)
    assert max(v for v in history["series"]["queue_depth"] if v is not None) == 40
    html = ops_client.get(reverse("ops:health_partial")).content.decode()
    assert '<svg class="spark"' in html
    assert "uptime 24 h 50.00 %" in html


def test_sparkline_svg_is_markup_only():
    svg = sparkline_svg([1, None, 3, 4], label='depth <"x">')
    assert svg.startswith('<svg class="spark"')
    assert "<polyline" in svg and "<circle" in svg  # a gap splits the line
    assert "style=" not in svg and "<script" not in svg
    assert "&lt;&quot;x&quot;&gt;" in svg
    assert "no data" in sparkline_svg([None, None], label="x")
    bars = uptime_bars_svg([1.0, 0.6, 0.0, None], label="uptime")
    assert all(css in bars for css in ("bar-ok", "bar-warn", "bar-down", "bar-none"))


def test_the_page_polls_its_partial(ops_client, filesystem_broker, live_worker):
    html = ops_client.get(reverse("ops:health")).content.decode()
    assert f'hx-get="{reverse("ops:health_partial")}"' in html
    assert 'hx-trigger="every 5s"' in html
    partial = ops_client.get(reverse("ops:health_partial"))
    assert partial.templates[0].name == "analytics/ops/_health.html"


def test_health_partial_queries_do_not_grow_with_channels_and_workers(
    ops_client, filesystem_broker, django_assert_max_num_queries, monkeypatch
):
    monkeypatch.setattr(ops_health, "provider_probe", lambda url, **kw: {"ok": True, "url": url})
    for i in range(6):
        channel = ChannelFactory(phone_number_id=f"9{i}")
        MessageFactory(channel=channel, status=Status.DELIVERED, accepted_at=timezone.now())
        WorkerHeartbeat.objects.create(hostname=f"w{i}@host", queues=ALL_QUEUES)
    # 19: one more than before for the last backup (one indexed read when it succeeded).
    with django_assert_max_num_queries(19):
        assert ops_client.get(reverse("ops:health_partial")).status_code == 200


def test_healthz_is_unchanged(client, filesystem_broker, live_worker):
    body = client.get("/healthz").json()
    assert set(body["checks"]) == {"database", "broker", "workers"}
    assert body["status"] == "ok"


def test_workers_gone_for_a_day_are_no_longer_listed(filesystem_broker, live_worker):
    WorkerHeartbeat.objects.create(
        hostname="replaced@host", queues=ALL_QUEUES, last_seen_at=timezone.now() - timedelta(days=2)
    )
    assert [w["hostname"] for w in health_collect()["workers"]] == ["w1@host"]
