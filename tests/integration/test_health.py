"""/healthz against the real thing: PostgreSQL, Redis and a Celery worker process."""

import pytest

from tests.integration.conftest import wait_for


@pytest.fixture
def short_staleness(settings):
    settings.WORKER_HEARTBEAT_STALE_SECONDS = 4


def test_healthz_follows_the_worker(client, celery_worker, short_staleness):
    worker = celery_worker("health")
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["checks"]["broker"]["transport"] == "redis"
    assert body["checks"]["database"]["vendor"] == "postgresql"
    assert "health@integration" in body["checks"]["workers"]["alive"]

    # Killed without a goodbye: the heartbeat goes stale and health turns 503.
    worker.kill()
    wait_for(lambda: client.get("/healthz").status_code == 503, timeout=15)
    assert client.get("/healthz").json()["checks"]["workers"]["ok"] is False


def test_a_clean_shutdown_is_seen_at_once(client, celery_worker):
    worker = celery_worker("polite")
    assert client.get("/healthz").status_code == 200
    worker.stop()
    assert client.get("/healthz").status_code == 503


def test_healthz_reports_a_stopped_broker(client, celery_worker, monkeypatch):
    from config.celery import app

    celery_worker("w-broker")
    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False
