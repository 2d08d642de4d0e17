"""Integration harness: real PostgreSQL, real Redis, real Celery worker processes.

`make test-integration` sets DATABASE_URL and REDIS_URL. Tests here use `transactional_db`
(data is committed, so worker processes see it) and start workers with `celery_worker`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
ALL_QUEUES = "send,webhooks,default,analytics"
# The secrets the tests' simulator and Parley share (workers get them in their environment).
APP_SECRET = "integration-app-secret"
TOKEN = "integration-token"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session", autouse=True)
def _require_real_services():
    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine or not os.environ.get("REDIS_URL"):
        pytest.fail(
            "integration tests need PostgreSQL and Redis: run `make test-integration` "
            "(DATABASE_URL=postgres://... REDIS_URL=redis://...)"
        )


def wait_for(predicate: Callable[[], object], timeout: float = 20.0, interval: float = 0.1):
    """Poll until `predicate()` is truthy; return its value or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {predicate}")
        time.sleep(interval)


def test_database_url() -> str:
    db = settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{db['NAME']}"


class WorkerProcess:
    def __init__(self, name: str, queues: str, concurrency: int, extra_env: dict):
        self.name = name
        self.hostname = f"{name}@integration"
        self.log_path = ROOT / "artifacts" / "integration" / f"{name}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": test_database_url(),
            "WORKER_HEARTBEAT_INTERVAL": "1",
            **extra_env,
        }
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                queues,
                "-c",
                str(concurrency),
                "-n",
                self.hostname,
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        from core.models import WorkerHeartbeat

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited early; see {self.log_path}")
            return WorkerHeartbeat.objects.filter(hostname=self.hostname).exists()

        wait_for(ready, timeout=timeout, interval=0.2)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


@pytest.fixture
def celery_worker(transactional_db):
    """Start real worker processes: `celery_worker(name=..., queues=..., concurrency=...)`."""
    started: list[WorkerProcess] = []

    def start(name: str = "w1", queues: str = ALL_QUEUES, concurrency: int = 2, **env):
        worker = WorkerProcess(name, queues, concurrency, {k: str(v) for k, v in env.items()})
        started.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def webhook_target(live_server, settings):
    """The live server's WhatsApp webhook URL, verified with the simulator's app secret."""
    from messaging.webhooks import intake

    settings.WHATSAPP_APP_SECRET = APP_SECRET
    settings.WHATSAPP_API_TOKEN = TOKEN
    intake._forget_secrets()
    yield live_server.url + "/webhooks/whatsapp/"
    intake._forget_secrets()


@pytest.fixture
def sim_config() -> dict:
    """More simulator configuration for a module's `sim` (override it there)."""
    return {}


@pytest.fixture
def sim(webhook_target, sim_config):
    """A simulator on loopback that posts its statuses to the live server, quickly."""
    from messaging.providers.simulator import SimulatorServer

    server = SimulatorServer(
        port=0,
        config={
            "app_secret": APP_SECRET,
            "access_token": TOKEN,
            "webhook_url": webhook_target,
            "delays": {"sent": 0.05, "delivered": 0.2, "read": 0.2},
            **sim_config,
        },
    ).start()
    yield server
    server.stop()


@pytest.fixture
def sim_channel(transactional_db, sim):
    """A Meta channel pointed at `sim`."""
    from tests.factories import ChannelFactory

    return ChannelFactory(base_url=sim.url)
