"""The operations centre against the real thing: PostgreSQL, Redis and Celery worker processes."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.urls import reverse

from analytics.models import AppError, HealthSample, JobRun, JobState
from analytics.ops.health import health_collect
from analytics.ops.jobs import JobAlreadyRunning, job_start
from config.celery import app as celery_app
from tests.integration.conftest import wait_for


@pytest.fixture(autouse=True)
def _fresh(settings, tmp_path):
    cache.clear()
    settings.WORKER_HEARTBEAT_STALE_SECONDS = 4
    settings.WHATSAPP_GRAPH_URL = "http://127.0.0.1:9"
    settings.BACKUP_DIR = tmp_path / "backups"
    yield
    cache.clear()


@pytest.fixture
def admin_client(client, make_user):
    client.force_login(make_user("Admin"))
    return client


def purge(queue: str) -> None:
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue)


def states(report):
    return {c["key"]: c for c in report["components"]}


def test_health_follows_worker_broker_and_queue(celery_worker, monkeypatch):
    purge("analytics")
    worker = celery_worker("ops-w1", queues="send,webhooks,default")
    report = states(health_collect(use_cache=False))
    assert report["broker"]["state"] == "ok" and report["broker"]["transport"] == "redis"
    assert report["queue:send"]["state"] == "ok"
    # Nothing consumes `analytics`: a published task waits there, with a knowable age.
    celery_app.send_task("analytics.health_sample")
    time.sleep(1.2)
    analytics = states(health_collect(use_cache=False))["queue:analytics"]
    assert analytics["depth"] >= 1
    assert analytics["oldest_age_s"] is not None and analytics["oldest_age_s"] >= 1
    assert analytics["state"] == "down" and analytics["detail"] == "no live worker consumes it"
    purge("analytics")

    # The worker dies: its heartbeat goes stale and it shows as down.
    def worker_state():
        (row,) = health_collect(use_cache=False)["workers"]
        return row["state"]

    assert worker_state() == "ok"
    worker.kill()
    wait_for(lambda: worker_state() == "down", timeout=15)
    assert states(health_collect(use_cache=False))["workers"]["detail"] == "no live worker"

    # The broker stops (nothing listens on port 1).
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    report = states(health_collect(use_cache=False))
    assert report["broker"]["state"] == "down"
    assert report["queue:send"]["state"] == "down"


def test_the_page_shows_a_live_worker(admin_client, celery_worker):
    celery_worker("ops-page")
    html = admin_client.get(reverse("ops:health_partial")).content.decode()
    assert 'data-hostname="ops-page@integration"' in html
    assert "redis" in html


def test_jobs_started_from_the_page_run_on_a_worker(admin_client, celery_worker):
    celery_worker("ops-jobs", queues="default")
    response = admin_client.post(reverse("ops:job_start", args=["purge_data"]))
    run = JobRun.objects.get()
    assert response["Location"] == reverse("ops:job_detail", args=[run.pk])
    wait_for(lambda: JobRun.objects.get(pk=run.pk).state == JobState.SUCCEEDED, timeout=30)
    run.refresh_from_db()
    assert run.trigger == "user" and run.progress == 100 and "finished" in run.log
    partial = admin_client.get(reverse("ops:job_progress", args=[run.pk])).content.decode()
    assert "Succeeded" in partial and "hx-trigger" not in partial


def test_the_health_sample_task_runs_on_the_analytics_worker(celery_worker):
    celery_worker("ops-analytics", queues="analytics")
    celery_app.send_task("analytics.health_sample")
    sample = wait_for(lambda: HealthSample.objects.first(), timeout=30)
    assert sample.components["database"]["state"] == "ok"
    assert sample.components["broker"]["state"] == "ok"


def test_two_racing_starts_produce_one_run(transactional_db):
    results: list[object] = []
    barrier = threading.Barrier(2)

    def start():
        try:
            barrier.wait()
            results.append(job_start(name="purge_data", enqueue=False))
        except JobAlreadyRunning as exc:
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(type(r).__name__ for r in results) == ["JobAlreadyRunning", "JobRun"]
    assert JobRun.objects.filter(name="purge_data").count() == 1


def test_an_error_inside_a_rolled_back_transaction_is_kept(transactional_db):
    """PostgreSQL: the handler writes on its own connection, so the rollback keeps it."""
    with pytest.raises(RuntimeError), transaction.atomic():
        try:
            raise RuntimeError("kaput")
        except RuntimeError:
            logging.getLogger("parley.integration").exception("inside a transaction")
            raise
    error = AppError.objects.get()
    assert error.message == "inside a transaction" and "RuntimeError: kaput" in error.traceback
