"""Beat schedule of the media id renewal (every 6 hours: ids are renewed within twice
MEDIA_ID_RENEW_MARGIN_HOURS of their expiry, so a run or two may fail without a send waiting)."""

from django.db import migrations

from core.schedules import schedule_ensure, schedule_remove

RENEW = "messaging: renew media ids of library files before they expire"


def create(apps, schema_editor):
    schedule_ensure(
        apps, name=RENEW, task="messaging.media_renew", every_seconds=6 * 3600, queue="default"
    )


def remove(apps, schema_editor):
    schedule_remove(apps, name=RENEW)


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0038_media_library"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
