"""Celery tasks of the operations centre: thin adapters over analytics.ops services.

Names are stable (beat rows and queued messages refer to them). `analytics.*` tasks go to the
`analytics` queue, except job runs, which go to `default` with the other background work.
The ones beat runs are `core.periodic.periodic_task`s: one run at a time, a pause after failures.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from analytics.ops.health import health_sample_record
from analytics.ops.jobs import JobAlreadyRunning, job_execute, job_start
from analytics.ops.jobs import jobs_sweep as sweep
from analytics.ops.models import JobTrigger
from core.periodic import periodic_task

logger = logging.getLogger(__name__)


@periodic_task(name="analytics.health_sample", lock_timeout=120, expires=55)
def health_sample() -> dict:
    """Every minute: record a HealthSample (uptime and sparklines on the operations page)."""

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

    run = job_execute(job_run_id=job_run_id)
    return run.state if run else None


@periodic_task(
    name="analytics.job_scheduled",
    lock_timeout=60,
    backoff_min=300,  # the most frequent schedule (rollups) is every 5 minutes
    # Beat starts different jobs through this task, some in the same minute (03:30: the purge
    # and a rollup): one lock and one backoff per job, so that none skips another.
    scope=lambda name, arguments=None: name,
)
def job_scheduled(name: str, arguments: dict | None = None) -> int | None:
    """Beat's way to start a registered job (kwargs: {"name": ..., "arguments": {...}})."""

    try:
        return job_start(name=name, arguments=arguments, trigger=JobTrigger.SCHEDULE).pk
    except JobAlreadyRunning as exc:
        logger.info("scheduled job %s skipped: %s", name, exc.message)
        return None


@periodic_task(name="analytics.jobs_sweep", lock_timeout=120, expires=55)
def jobs_sweep() -> dict:
    """Every minute: fail jobs whose worker died, re-enqueue runs whose message was lost."""

    return sweep()
