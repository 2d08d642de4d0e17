"""Prometheus multiprocess mode under gunicorn (README "Metrics and error reports").

A real gunicorn with two workers and config/gunicorn.py's hooks, PROMETHEUS_MULTIPROC_DIR on
a fresh folder, real PostgreSQL and Redis: signed webhooks are posted until both workers have
taken some, then one scrape (answered by either worker) shows the counts of both summed, the
webhook backlog from the database and the webhooks queue's depth from Redis. A worker then
dies and is replaced: its counts stay in the sums.
"""

from __future__ import annotations

import json
import os
import signal
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from messaging.models import WebhookEvent
from messaging.providers.meta_cloud import signature_for
from tests.factories import ChannelFactory
from tests.integration.conftest import test_database_url as database_url
from tests.integration.conftest import wait_for
from tests.integration.faults import WebProcess
from tests.messaging.webhooks.support import envelope, status

APP_SECRET = "metrics-app-secret"
METRICS_TOKEN = "metrics-integration-token"
BASE_TS = 1_767_225_600


def _body(channel) -> bytes:
    item = status(f"wamid.metrics-{uuid.uuid4().hex}", "sent", BASE_TS, recipient_id="919800000000")
    metadata = {
        "display_phone_number": channel.display_phone_number,
        "phone_number_id": channel.phone_number_id,
    }
    payload = envelope(
        "messages", {"metadata": metadata, "statuses": [item]}, waba_id=channel.waba_id
    )
    return json.dumps(payload).encode()


def _post(session: requests.Session, url: str, body: bytes, secret: str = APP_SECRET) -> int:
    return session.post(
        url,
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": signature_for(secret, body),
        },
        timeout=15,
    ).status_code


def _pids(folder: Path) -> set[int]:
    """The processes that wrote intake histograms (files are named <kind>_<pid>.db)."""
    return {int(p.stem.rsplit("_", 1)[1]) for p in folder.glob("histogram_*.db")}


def _scrape(web: WebProcess) -> dict:
    response = requests.get(
        web.url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=15
    )
    assert response.status_code == 200, response.text[:300]
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _intake(samples: dict, outcome: str) -> float:
    return samples.get(("parley_webhook_intake_total", (("outcome", outcome),)), 0.0)


@pytest.fixture
def web(transactional_db, tmp_path):
    folder = tmp_path / "prometheus"
    folder.mkdir()
    process = WebProcess(
        "metrics-web",
        database_url=database_url(),
        workers=2,
        extra_env={
            "PROMETHEUS_MULTIPROC_DIR": str(folder),
            "METRICS_TOKEN": METRICS_TOKEN,
            "WHATSAPP_APP_SECRET": APP_SECRET,
        },
    )
    process.folder = folder
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def test_both_workers_counts_are_summed_and_survive_a_worker_restart(web):
    channel = ChannelFactory(phone_number_id="200000000000777", waba_id="100000000000777")
    url = web.url + "/webhooks/whatsapp/"
    session = requests.Session()
    session.trust_env = False
    stored = 0
    # Concurrent posts until both workers have taken some (bounded).
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(25):
            bodies = [_body(channel) for _ in range(16)]
            codes = list(pool.map(lambda b: _post(requests.Session(), url, b), bodies))
            assert codes == [200] * len(bodies)
            stored += len(bodies)
            if len(_pids(web.folder)) >= 2:
                break
    assert len(_pids(web.folder)) >= 2, "one worker took every request"
    duplicate = _body(channel)
    assert _post(session, url, duplicate) == 200
    assert _post(session, url, duplicate) == 200
    stored += 1
    assert _post(session, url, _body(channel), secret="not-the-secret") == 403

    samples = _scrape(web)
    assert _intake(samples, "stored") == stored
    assert _intake(samples, "duplicate") == 1
    assert _intake(samples, "refused") == 1
    assert samples[("parley_webhook_intake_seconds_count", (("outcome", "stored"),))] == stored
    # Scrape-time gauges: the database's backlog (no worker processes here) and Redis' queue.
    assert WebhookEvent.objects.filter(state="pending").count() == stored
    assert samples[("parley_webhook_pending", ())] == stored
    assert samples[("parley_webhook_lag_seconds", ())] >= 0
    if os.environ.get("REDIS_URL"):
        assert samples[("parley_queue_depth", (("queue", "webhooks"),))] >= 1  # the nudge
    for collector in ("webhook_backlog", "campaign_progress", "queue_depth"):
        key = ("parley_scrape_collector_up", (("collector", collector),))
        assert samples[key] == 1, collector

    # A worker dies; gunicorn replaces it and child_exit marks it dead: its counts stay.
    victim = sorted(_pids(web.folder))[0]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: _worker_replaced(web, victim), timeout=30)
    wait_for(lambda: _intake(_scrape(web), "stored") == stored, timeout=10)
    assert _post(session, url, _body(channel)) == 200
    assert _intake(_scrape(web), "stored") == stored + 1

    # Without the token nothing is shown.
    assert requests.get(web.url + "/metrics", timeout=15).status_code == 403


def _worker_replaced(web: WebProcess, victim: int) -> bool:
    """The master forked a new worker: a /metrics scrape answers and the victim is gone."""
    try:
        os.kill(victim, 0)
        return False
    except ProcessLookupError:
        pass
    try:
        return requests.get(web.url + "/healthz", timeout=5).status_code in (200, 503)
    except requests.RequestException:
        return False
