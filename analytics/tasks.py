"""Celery tasks of the operations centre: thin adapters over analytics.ops services.

Names are stable (beat rows and queued messages refer to them). `analytics.*` tasks go to the
`analytics` queue, except job runs, which go to `default` with the other background work.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def _single_run(name: str, timeout: int) -> Iterator[bool]:
    """A lock in the shared cache so that runs of a periodic task never overlap."""
    key, token = f"task-lock:{name}", uuid.uuid4().hex
    acquired = cache.add(key, token, timeout=timeout)
    try:
        yield acquired
    finally:
        if acquired and cache.get(key) == token:
            cache.delete(key)


@shared_task(name="analytics.health_sample", ignore_result=True, expires=55)
def health_sample() -> dict:
    """Every minute: record a HealthSample (uptime and sparklines on the operations page)."""
    from analytics.ops.health import health_sample_record

    with _single_run("analytics.health_sample", timeout=120) as acquired:
        if not acquired:
            return {"skipped": True}
        sample = health_sample_record()
        return {"sample": sample.pk, "ok": sample.ok}


@shared_task(
    name="analytics.job_run",
    queue="default",
    acks_late=False,  # a job is never re-run behind a person's back; jobs_sweep handles losses
    ignore_result=True,
    soft_time_limit=settings.JOB_TIME_LIMIT,
    time_limit=settings.JOB_TIME_LIMIT + 60,
)
def job_run(job_run_id: int) -> str | None:
    from analytics.ops.jobs import job_execute

    run = job_execute(job_run_id=job_run_id)
    return run.state if run else None


@shared_task(name="analytics.job_scheduled", ignore_result=True)
def job_scheduled(name: str, arguments: dict | None = None) -> int | None:
    """Beat's way to start a registered job (kwargs: {"name": ..., "arguments": {...}})."""
    from analytics.models import JobTrigger
    from analytics.ops.jobs import JobAlreadyRunning, job_start

    try:
        return job_start(name=name, arguments=arguments, trigger=JobTrigger.SCHEDULE).pk
    except JobAlreadyRunning as exc:
        logger.info("scheduled job %s skipped: %s", name, exc.message)
        return None


@shared_task(name="analytics.jobs_sweep", ignore_result=True, expires=55)
def jobs_sweep() -> dict:
    """Every minute: fail jobs whose worker died, re-enqueue runs whose message was lost."""
    from analytics.ops.jobs import jobs_sweep as sweep

    return sweep()
