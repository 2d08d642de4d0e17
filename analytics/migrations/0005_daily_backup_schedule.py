"""Beat schedule of the daily backup, as a run of the `backup` job at 02:00 UTC (recorded in
the job history with its size and checksum; the job then keeps the newest BACKUP_KEEP
archives). Change the time in the admin's periodic tasks; the job name stays."""

import json

from django.db import migrations

from core.schedules import schedule_ensure, schedule_remove

BACKUP = "analytics: daily backup"


def create(apps, schema_editor):
    schedule_ensure(
        apps, name=BACKUP, task="analytics.job_scheduled",
        crontab={"minute": "0", "hour": "2"}, queue="analytics",
        kwargs=json.dumps({"name": "backup"}),
    )  # fmt: skip


def remove(apps, schema_editor):
    schedule_remove(apps, name=BACKUP)


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0004_rollup_schedules"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
