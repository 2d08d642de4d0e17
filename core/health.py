"""Dependency checks behind `/healthz` (and, later, the operations centre).

Each check returns a dict with at least `ok`; none raises. Checks are cheap enough to run on
every load-balancer probe: one query, one broker round trip, one indexed read.
"""

from __future__ import annotations

import time
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import connection
from django.utils import timezone

from core.models import WorkerHeartbeat


def _timed(fn):
    start = time.monotonic()
    try:
        result = fn()
    except Exception as exc:
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    result["latency_ms"] = round((time.monotonic() - start) * 1000, 1)
    return result


def check_database() -> dict:
    def probe():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"ok": True, "vendor": connection.vendor}

    return _timed(probe)


def check_broker() -> dict:
    def probe():
        app = current_app  # the project's app (config/__init__ loads it); core imports no config
        url = app.conf.broker_url
        if url.startswith("filesystem://"):
            folder = settings.CELERY_BROKER_FOLDER / "out"
            if not folder.is_dir():
                return {"ok": False, "transport": "filesystem", "error": "broker folder missing"}
            return {"ok": True, "transport": "filesystem"}
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
            if transport in ("redis", "rediss"):
                conn.default_channel.client.ping()
        return {"ok": True, "transport": transport}

    return _timed(probe)


def check_workers() -> dict:
    def probe():

        cutoff = timezone.now() - timedelta(seconds=settings.WORKER_HEARTBEAT_STALE_SECONDS)
        alive = list(
            WorkerHeartbeat.objects.filter(last_seen_at__gte=cutoff).values(
                "hostname", "queues", "last_seen_at"
            )
        )
        consumed = {q for w in alive for q in w["queues"]}
        missing = sorted({"send", "webhooks", "default", "analytics"} - consumed)
        return {
            "ok": bool(alive) and not missing,
            "alive": [w["hostname"] for w in alive],
            "queues_without_worker": missing,
        }

    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"ok": True, "mode": "eager", "latency_ms": 0.0}
    return _timed(probe)


CHECKS = {"database": check_database, "broker": check_broker, "workers": check_workers}


def health_report() -> dict:
    checks = {name: fn() for name, fn in CHECKS.items()}
    return {
        "status": "ok" if all(c["ok"] for c in checks.values()) else "unhealthy",
        "time": timezone.now().isoformat(),
        "checks": checks,
    }
