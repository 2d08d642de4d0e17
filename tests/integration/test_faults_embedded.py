"""Scenario 10 (RELIABILITY.md): the same campaign in embedded mode (SQLite, kombu's
filesystem broker, a real worker process) and on PostgreSQL + Redis with real workers ends
with the same outcome for every contact, and that outcome is the one the rules predict."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from messaging.sending.dispatch import send_sweep
from tests.integration import embedded_campaign as spec
from tests.integration.conftest import ROOT
from tests.integration.faults import artifacts_dir, drive


def embedded_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.integration.embedded_settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'embedded.sqlite3'}",
        CELERY_BROKER_URL="filesystem://localhost//",
        CELERY_BROKER_FOLDER=str(tmp_path / "broker"),
        EMBEDDED_CACHE_DIR=str(tmp_path / "cache"),
        SEND_RETRY_BASE_SECONDS="0.3",
        LOG_LEVEL="INFO",
    )
    return env


def run(env: dict[str, str], *args: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "tests.integration.embedded_campaign", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_embedded_mode_and_postgresql_end_every_contact_the_same_way(
    transactional_db, simulator, celery_worker, tmp_path
):
    expected = spec.expected_outcome()

    # Embedded: SQLite file, filesystem broker, one worker process, all queues.
    env = embedded_env(tmp_path)
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    simulator.configure(spec.simulator_config(), error_storm=spec.STORM)
    campaign_id = run(env, "setup", "--sim", simulator.url)["campaign"]
    log = (artifacts_dir() / "embedded-worker.log").open("w")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            "send,webhooks,default,analytics",
            "-c",
            "2",
            "-n",
            "embedded@integration",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while run(env, "state", "--campaign", str(campaign_id))["state"] != "completed":
            assert worker.poll() is None, "the embedded worker died; see embedded-worker.log"
            assert time.monotonic() < deadline, "the embedded campaign did not complete"
            time.sleep(1.0)
        embedded = run(env, "outcome", "--campaign", str(campaign_id))
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
        log.close()
    embedded_counts = simulator.counts()

    # PostgreSQL and Redis, real workers.
    simulator.reset()
    simulator.configure(error_storm=spec.STORM)
    celery_worker("send-pg", queues="send", concurrency=2, SEND_RETRY_BASE_SECONDS=0.3)
    campaign_id = spec.campaign_setup(sim_url=simulator.url)
    drive(lambda: spec.campaign_state(campaign_id) == "completed", timeout=45, sweep=send_sweep)
    postgresql = spec.campaign_outcome(campaign_id)
    postgresql_counts = simulator.counts()

    assert embedded == expected
    assert postgresql == expected
    sent = sum(1 for status, _ in expected.values() if status == "Accepted")
    for counts in (embedded_counts, postgresql_counts):
        assert set(counts.values()) == {1}
        assert len(counts) == sent
