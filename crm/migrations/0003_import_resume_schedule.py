"""Beat schedule: resume contact imports that a killed worker or a lost message left behind."""

from django.db import migrations

from core.schedules import schedule_ensure, schedule_remove

NAME = "crm: resume stuck contact imports"


def create(apps, schema_editor):
    schedule_ensure(
        apps, name=NAME, task="crm.import_resume_stale", every_seconds=60, queue="default"
    )


def remove(apps, schema_editor):
    schedule_remove(apps, name=NAME)


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0002_segments_advisors_imports"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
