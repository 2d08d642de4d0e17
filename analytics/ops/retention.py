"""Retention: delete what is older than its settings say (the nightly `purge_data` job).

| data | setting | default |
| --- | --- | --- |
| processed/failed raw webhooks, unmatched statuses | WEBHOOK_RETENTION_DAYS | 30 |
| health samples | HEALTH_SAMPLE_RETENTION_DAYS | 7 |
| finished job runs (with their logs) | JOB_RETENTION_DAYS | 30 |
| application errors | APP_ERROR_RETENTION_DAYS | 30 |
| audit events | AUDIT_RETENTION_DAYS | 365 |
| message bodies and media (redacted; metadata stays) | MESSAGE_RETENTION_DAYS | 365 |
| finished imports' files and error rows | UPLOAD_RETENTION_DAYS | 30 |

Deletes in batches so that locks stay short; pending webhooks and active jobs are never purged.
Messages are redacted by `messaging.sending.redaction` (the same service an erasure uses),
imports by `crm.retention`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from analytics.ops.models import FINISHED_JOB_STATES, AppError, HealthSample, JobRun
from core.models import AuditEvent
from crm.retention import import_uploads_purge
from messaging.sending.redaction import messages_retention_apply
from messaging.webhooks.services import webhook_events_purge

logger = logging.getLogger(__name__)

BATCH = 2000


def _delete_in_batches(queryset) -> int:
    deleted = 0
    while True:
        batch = list(queryset.values_list("pk", flat=True)[:BATCH])
        if not batch:
            return deleted
        count, _ = queryset.model.objects.filter(pk__in=batch).delete()
        deleted += count


def health_samples_purge(*, older_than_days: int | None = None) -> int:
    days = settings.HEALTH_SAMPLE_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    return _delete_in_batches(HealthSample.objects.filter(created_at__lt=cutoff))


def job_runs_purge(*, older_than_days: int | None = None) -> int:
    days = settings.JOB_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    return _delete_in_batches(
        JobRun.objects.filter(state__in=FINISHED_JOB_STATES, created_at__lt=cutoff)
    )


def app_errors_purge(*, older_than_days: int | None = None) -> int:
    days = settings.APP_ERROR_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    return _delete_in_batches(AppError.objects.filter(created_at__lt=cutoff))


def audit_events_purge(*, older_than_days: int | None = None) -> int:
    """The audit log is append-only: this batched purge is the only way rows leave it."""
    days = settings.AUDIT_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    deleted = 0
    while count := AuditEvent.objects.purge_batch(before=cutoff, batch=BATCH):
        deleted += count
    return deleted


def data_purge(*, log: Callable[[str], None] | None = None) -> dict[str, int]:
    """Apply every retention setting; returns rows deleted per kind."""

    say = log or (lambda message: None)
    counts: dict[str, int] = {}
    webhooks = webhook_events_purge()
    counts["webhook_events"] = webhooks.get("events", 0)
    counts["parked_statuses"] = webhooks.get("parked_statuses", 0)
    say(f"webhooks older than {settings.WEBHOOK_RETENTION_DAYS} days: {webhooks}")
    counts["health_samples"] = health_samples_purge()
    say(
        f"health samples older than {settings.HEALTH_SAMPLE_RETENTION_DAYS} days: "
        f"{counts['health_samples']}"
    )
    counts["job_runs"] = job_runs_purge()
    say(f"job runs older than {settings.JOB_RETENTION_DAYS} days: {counts['job_runs']}")
    counts["app_errors"] = app_errors_purge()
    say(
        f"application errors older than {settings.APP_ERROR_RETENTION_DAYS} days: "
        f"{counts['app_errors']}"
    )
    counts["audit_events"] = audit_events_purge()
    say(f"audit events older than {settings.AUDIT_RETENTION_DAYS} days: {counts['audit_events']}")
    redacted = messages_retention_apply()
    counts["messages_redacted"] = redacted.messages
    counts["media_files_deleted"] = redacted.media_files
    say(
        f"messages older than {settings.MESSAGE_RETENTION_DAYS or 'forever (off)'} days "
        f"redacted: {redacted.messages} ({redacted.media_files} media files)"
    )
    uploads = import_uploads_purge()
    counts.update(uploads)
    say(
        f"imports finished more than {settings.UPLOAD_RETENTION_DAYS or 'forever (off)'} days "
        f"ago: {uploads['import_files']} files, {uploads['import_error_rows']} error rows"
    )
    logger.info("retention purge: %s", counts)
    return counts


RETENTION_SETTINGS = (
    "MESSAGE_RETENTION_DAYS", "UPLOAD_RETENTION_DAYS", "WEBHOOK_RETENTION_DAYS",
    "HEALTH_SAMPLE_RETENTION_DAYS", "JOB_RETENTION_DAYS", "APP_ERROR_RETENTION_DAYS",
    "AUDIT_RETENTION_DAYS",
)  # fmt: skip


def retention_settings() -> dict[str, int]:
    """The retention settings in force (0 means kept forever where a setting allows it)."""
    return {name: getattr(settings, name) for name in RETENTION_SETTINGS}


def retention_last_purge() -> JobRun | None:
    """The latest finished run of the nightly purge, with its counts."""
    return (
        JobRun.objects.filter(name="purge_data", state__in=FINISHED_JOB_STATES)
        .order_by("-created_at", "-id")
        .first()
    )
