"""The operations centre's own tables: health samples, job runs, captured application errors."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class HealthSample(models.Model):
    """One health check of every component, recorded every minute by `analytics.health_sample`.

    `components` maps a component key ("database", "queue:send", "channel:3", ...) to
    `{"state": "ok"|"warn"|"down", "latency_ms": ...}`; `numbers` holds the key figures the
    sparklines draw ("queue_depth", "webhook_backlog", ...). Kept HEALTH_SAMPLE_RETENTION_DAYS.
    """

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    ok = models.BooleanField(default=True)
    components = models.JSONField(default=dict)
    numbers = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"health sample {self.created_at:%Y-%m-%d %H:%M} ({'ok' if self.ok else 'down'})"


class JobTrigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    USER = "user", "User"
    COMMAND = "command", "Command"


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_JOB_STATES = (JobState.QUEUED, JobState.RUNNING)
FINISHED_JOB_STATES = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class JobRun(models.Model):
    """One run of a registered job (analytics/ops/jobs.py), whoever started it.

    At most one run per job name is queued or running at any time: a partial unique constraint
    enforces it in the database, so two staff members (or a schedule and a person) racing to
    start the same job cannot both succeed.
    """

    MAX_LOG_LINES = 500

    name = models.CharField(max_length=64, db_index=True)
    trigger = models.CharField(max_length=10, choices=JobTrigger.choices)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    arguments = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=JobState.choices, default=JobState.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    log = models.TextField(blank=True, help_text=f"The last {MAX_LOG_LINES} lines.")
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True, db_index=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(state__in=["queued", "running"]),
                name="jobrun_one_active_per_name",
            )
        ]
        indexes = [models.Index(fields=["name", "-created_at"], name="jobrun_name_recent")]

    def __str__(self) -> str:
        return f"{self.name} #{self.pk} ({self.state})"

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_JOB_STATES

    @property
    def duration(self):
        if self.started_at is None:
            return None
        return (self.finished_at or timezone.now()) - self.started_at


class AppError(models.Model):
    """An ERROR (or worse) log record, captured by analytics.ops.logging.AppErrorHandler."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    level = models.CharField(max_length=10)
    logger = models.CharField(max_length=200, db_index=True)
    message = models.TextField()
    traceback = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    path = models.CharField(max_length=500, blank=True)
    process = models.CharField(max_length=100, blank=True, help_text="host:pid")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "application error"

    def __str__(self) -> str:
        return f"{self.level} {self.logger}: {self.message[:80]}"
