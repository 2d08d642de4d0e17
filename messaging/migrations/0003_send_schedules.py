"""Beat schedules of the send path: the sweeper and the hourly template sync."""

from django.db import migrations

from core.schedules import schedule_ensure, schedule_remove


def create(apps, schema_editor):
    schedule_ensure(
        apps, name="messaging: re-drive queued and stale sends", task="messaging.send_sweep",
        every_seconds=10, queue="send",
    )  # fmt: skip
    schedule_ensure(
        apps, name="messaging: sync templates", task="messaging.sync_templates",
        crontab={"minute": "17"}, queue="default",
    )  # fmt: skip


def remove(apps, schema_editor):
    schedule_remove(apps, name="messaging: re-drive queued and stale sends")
    schedule_remove(apps, name="messaging: sync templates")


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0002_rate_limit_state"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
