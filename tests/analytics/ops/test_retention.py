"""Retention: the nightly purge deletes exactly what is past its settings."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from analytics.models import AppError, HealthSample, JobRun, JobState
from analytics.ops.retention import data_purge
from messaging.models import WebhookEvent
from tests.factories import (
    AppErrorFactory,
    HealthSampleFactory,
    JobRunFactory,
    OpsWebhookEventFactory,
)

pytestmark = pytest.mark.django_db


def days_ago(n):
    return timezone.now() - timedelta(days=n, minutes=1)


@pytest.fixture
def aged(settings):
    settings.WEBHOOK_RETENTION_DAYS = 30
    settings.HEALTH_SAMPLE_RETENTION_DAYS = 7
    settings.JOB_RETENTION_DAYS = 30
    settings.APP_ERROR_RETENTION_DAYS = 30
    return {
        "old_webhook": OpsWebhookEventFactory(state="processed", received_at=days_ago(31)),
        "old_failed_webhook": OpsWebhookEventFactory(state="failed", received_at=days_ago(31)),
        "old_pending_webhook": OpsWebhookEventFactory(state="pending", received_at=days_ago(40)),
        "new_webhook": OpsWebhookEventFactory(state="processed", received_at=days_ago(29)),
        "old_sample": HealthSampleFactory(created_at=days_ago(8)),
        "new_sample": HealthSampleFactory(created_at=days_ago(6)),
        "old_job": JobRunFactory(name="a", created_at=days_ago(31)),
        "old_running_job": JobRunFactory(name="b", state=JobState.RUNNING, created_at=days_ago(31)),
        "new_job": JobRunFactory(name="c", created_at=days_ago(29)),
        "old_error": AppErrorFactory(created_at=days_ago(31)),
        "new_error": AppErrorFactory(created_at=days_ago(29)),
    }


def test_purge_deletes_what_is_past_retention_and_keeps_the_rest(aged):
    counts = data_purge()
    assert counts == {
        "webhook_events": 2,
        "parked_statuses": 0,
        "health_samples": 1,
        "job_runs": 1,
        "app_errors": 1,
        "audit_events": 0,
        "messages_redacted": 0,
        "media_files_deleted": 0,
        "import_files": 0,
        "import_error_rows": 0,
    }
    assert set(WebhookEvent.objects.values_list("pk", flat=True)) == {
        aged["old_pending_webhook"].pk,
        aged["new_webhook"].pk,  # pending is never purged
    }
    assert list(HealthSample.objects.values_list("pk", flat=True)) == [aged["new_sample"].pk]
    assert set(JobRun.objects.values_list("pk", flat=True)) == {
        aged["old_running_job"].pk,
        aged["new_job"].pk,  # an active run is never purged
    }
    assert list(AppError.objects.values_list("pk", flat=True)) == [aged["new_error"].pk]


def test_settings_change_the_windows(aged, settings):
    settings.HEALTH_SAMPLE_RETENTION_DAYS = 1
    settings.APP_ERROR_RETENTION_DAYS = 60
    counts = data_purge()
    assert counts["health_samples"] == 2 and counts["app_errors"] == 0


def test_purge_data_command_runs_the_job(aged, capsys):
    call_command("purge_data")
    run = JobRun.objects.filter(name="purge_data").get()
    assert run.state == JobState.SUCCEEDED and run.counts["health_samples"] == 1
    assert "health samples older than 7 days: 1" in capsys.readouterr().out


def test_nightly_schedules_exist():
    from django_celery_beat.models import PeriodicTask

    tasks = {t.task: t for t in PeriodicTask.objects.filter(task__startswith="analytics.")}
    assert tasks["analytics.health_sample"].interval.every == 60
    assert tasks["analytics.jobs_sweep"].interval.every == 60
    purge = PeriodicTask.objects.get(
        task="analytics.job_scheduled", kwargs='{"name": "purge_data"}'
    )
    assert (purge.crontab.hour, purge.crontab.minute) == ("3", "30")
