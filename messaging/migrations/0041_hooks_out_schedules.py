"""Beat schedules of event webhooks: the sweep (due retries, lost nudges, stale claims) every
few seconds, and the daily purge of old deliveries."""

from django.db import migrations

from core.schedules import schedule_ensure, schedule_remove

SWEEP = "messaging: deliver due event webhooks"
PURGE = "messaging: purge old event webhook deliveries"


def create(apps, schema_editor):
    schedule_ensure(
        apps, name=SWEEP, task="messaging.hooks_out_sweep", every_seconds=5, queue="webhooks"
    )
    schedule_ensure(
        apps, name=PURGE, task="messaging.hooks_out_purge",
        crontab={"minute": "40", "hour": "3"}, queue="default",
    )  # fmt: skip


def remove(apps, schema_editor):
    schedule_remove(apps, name=SWEEP)
    schedule_remove(apps, name=PURGE)


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0040_hooks_out"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
