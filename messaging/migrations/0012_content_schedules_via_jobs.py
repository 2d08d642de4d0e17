"""Point the content beat rows at the job runner, so scheduled runs are recorded as jobs."""

from django.db import migrations

from messaging.content.schedules import content_schedules_ensure


def update(apps, schema_editor):
    content_schedules_ensure(apps)


class Migration(migrations.Migration):
    dependencies = [("messaging", "0011_autoreplyrule_fallback")]

    operations = [migrations.RunPython(update, migrations.RunPython.noop)]
