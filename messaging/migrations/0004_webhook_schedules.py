"""Beat schedules of the webhook path: the sweeper (every 10 s) and the daily purge."""

from django.db import migrations

from core.schedules import schedule_ensure, schedule_remove

SWEEP = "messaging: re-drive pending webhooks and parked statuses"
PURGE = "messaging: purge old webhook events"


def create(apps, schema_editor):
    schedule_ensure(
        apps, name=SWEEP, task="messaging.webhook_sweep", every_seconds=10, queue="webhooks"
    )
    schedule_ensure(
        apps, name=PURGE, task="messaging.webhook_purge",
        crontab={"minute": "40", "hour": "3"}, queue="webhooks",
    )  # fmt: skip


def remove(apps, schema_editor):
    schedule_remove(apps, name=SWEEP)
    schedule_remove(apps, name=PURGE)


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0003_send_schedules"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
