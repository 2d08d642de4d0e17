"""Beat schedule: unknown sends no status webhook settled in time become unconfirmed."""

from django.db import migrations

from core.schedules import schedule_ensure, schedule_remove

NAME = "messaging: mark unknown sends unconfirmed"


def create(apps, schema_editor):
    schedule_ensure(
        apps, name=NAME, task="messaging.send_unknown_settle",
        crontab={"minute": "*/15"}, queue="default",
    )  # fmt: skip


def remove(apps, schema_editor):
    schedule_remove(apps, name=NAME)


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0021_message_unconfirmed_resend"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
