"""Beat schedule of the number-health refresh (every 15 minutes; webhooks tell of changes as
they happen, this catches what they missed and the quality rating they do not carry)."""

from django.db import migrations

from core.schedules import schedule_ensure, schedule_remove

SYNC = "messaging: refresh number health from the provider"


def create(apps, schema_editor):
    schedule_ensure(
        apps, name=SYNC, task="messaging.channels_sync", every_seconds=900, queue="default"
    )


def remove(apps, schema_editor):
    schedule_remove(apps, name=SYNC)


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0017_channel_health"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
