"""Beat rows of content: the daily distribution (CONTENT_DISTRIBUTION_TIME in
CONTENT_TIME_ZONE) and the hourly feed import (a no-op while CONTENT_FEED_URL is empty)."""

from django.db import migrations

from core.schedules import schedule_remove
from messaging.content.schedules import DISTRIBUTION, FEED_IMPORT, content_schedules_ensure


def create(apps, schema_editor):
    content_schedules_ensure(apps)


def remove(apps, schema_editor):
    schedule_remove(apps, name=DISTRIBUTION)
    schedule_remove(apps, name=FEED_IMPORT)


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0008_content_notifications_links"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
