from datetime import timedelta

import pytest
from django.utils import timezone

from config.celery import app as celery_app
from core.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db

ALL_QUEUES = ["analytics", "default", "send", "webhooks"]


@pytest.fixture
def filesystem_broker(settings, tmp_path, monkeypatch):
    (tmp_path / "out").mkdir()
    settings.CELERY_BROKER_FOLDER = tmp_path
    monkeypatch.setattr(celery_app.conf, "broker_url", "filesystem://")


def test_healthy_when_database_broker_and_workers_are_up(client, filesystem_broker):
    WorkerHeartbeat.objects.create(hostname="w1@host", queues=ALL_QUEUES)
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "workers"}
    assert body["checks"]["workers"]["alive"] == ["w1@host"]


def test_unhealthy_without_a_live_worker(client, filesystem_broker):
    WorkerHeartbeat.objects.create(
        hostname="old@host", queues=ALL_QUEUES, last_seen_at=timezone.now() - timedelta(minutes=5)
    )
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["workers"]["ok"] is False


def test_unhealthy_when_a_queue_has_no_worker(client, filesystem_broker):
    WorkerHeartbeat.objects.create(hostname="w1@host", queues=["send"])
    body = client.get("/healthz").json()
    assert body["checks"]["workers"]["queues_without_worker"] == [
        "analytics",
        "default",
        "webhooks",
    ]


def test_unhealthy_when_the_broker_is_down(client, monkeypatch):
    WorkerHeartbeat.objects.create(hostname="w1@host", queues=ALL_QUEUES)
    # Nothing listens on port 1: the broker is "stopped".
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    broker = response.json()["checks"]["broker"]
    assert broker["ok"] is False
    assert "error" in broker


def test_heartbeat_service_upserts(db):
    from core.services import worker_heartbeat_record

    worker_heartbeat_record(hostname="w@h", queues=["send"], pid=1)
    worker_heartbeat_record(hostname="w@h", queues=["send", "default"], pid=2)
    beat = WorkerHeartbeat.objects.get()
    assert beat.queues == ["send", "default"]
    assert beat.pid == 2
