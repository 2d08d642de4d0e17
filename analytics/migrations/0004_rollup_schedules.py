"""Beat schedules of the analytics rollups, as runs of the `rollup_analytics` job: every five
minutes (today, and the days that changed) and nightly at 00:15 UTC (every recent day and the
customer metrics)."""

import json

from django.db import migrations

from core.schedules import schedule_ensure, schedule_remove

FREQUENT = "analytics: roll up today every 5 minutes"
NIGHTLY = "analytics: nightly rollup"


def create(apps, schema_editor):
    schedule_ensure(
        apps, name=FREQUENT, task="analytics.job_scheduled",
        crontab={"minute": "*/5", "hour": "*"}, queue="analytics",
        kwargs=json.dumps({"name": "rollup_analytics"}),
    )  # fmt: skip
    schedule_ensure(
        apps, name=NIGHTLY, task="analytics.job_scheduled",
        crontab={"minute": "15", "hour": "0"}, queue="analytics",
        kwargs=json.dumps({"name": "rollup_analytics", "arguments": {"mode": "nightly"}}),
    )  # fmt: skip


def remove(apps, schema_editor):
    for name in (FREQUENT, NIGHTLY):
        schedule_remove(apps, name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0003_events_rollups"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
