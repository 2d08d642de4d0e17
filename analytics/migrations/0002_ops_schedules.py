"""Beat schedules of the operations centre: health samples and the job sweeper every minute,
and the nightly retention purge (as a job run, so it shows in the job history)."""

import json

from django.db import migrations

from core.schedules import schedule_ensure, schedule_remove

SAMPLE = "analytics: record a health sample"
SWEEP = "analytics: sweep stale and lost job runs"
PURGE = "analytics: purge data past retention"


def create(apps, schema_editor):
    schedule_ensure(
        apps, name=SAMPLE, task="analytics.health_sample", every_seconds=60, queue="analytics"
    )
    schedule_ensure(
        apps, name=SWEEP, task="analytics.jobs_sweep", every_seconds=60, queue="analytics"
    )
    schedule_ensure(
        apps, name=PURGE, task="analytics.job_scheduled",
        crontab={"minute": "30", "hour": "3"}, queue="analytics",
        kwargs=json.dumps({"name": "purge_data"}),
    )  # fmt: skip


def remove(apps, schema_editor):
    for name in (SAMPLE, SWEEP, PURGE):
        schedule_remove(apps, name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
