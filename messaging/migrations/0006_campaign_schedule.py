"""Beat schedule for campaigns: launch the due ones, complete the finished ones."""

from django.db import migrations

from core.schedules import schedule_ensure, schedule_remove

NAME = "messaging: launch due and complete finished campaigns"


def create(apps, schema_editor):
    schedule_ensure(
        apps, name=NAME, task="messaging.campaigns_tick", every_seconds=5, queue="default"
    )


def remove(apps, schema_editor):
    schedule_remove(apps, name=NAME)


class Migration(migrations.Migration):
    dependencies = [("messaging", "0005_campaigns")]

    operations = [migrations.RunPython(create, remove)]
