"""Celery tasks of crm (queue `default`): adapters that load by id and call one service."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from core.periodic import periodic_task
from crm.importing.jobs import import_job_run, import_jobs_resume_stale

__all__ = ["import_resume_stale", "import_run"]


@shared_task(name="crm.import_run", acks_late=True, ignore_result=True)
def import_run(job_id: int) -> None:
    """Work on an import for a while from its checkpoint; the service queues the rest."""

    import_job_run(job_id=job_id, max_seconds=settings.IMPORT_TASK_MAX_SECONDS)


@periodic_task(name="crm.import_resume_stale", lock_timeout=120, expires=50)
def import_resume_stale() -> list[int]:
    """Every minute: queue again the imports a killed worker or a lost message left."""

    return import_jobs_resume_stale()
