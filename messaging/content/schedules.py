"""The beat rows of content: the daily distribution and the hourly feed import.

Shared by the data migration (historical models) and `distribute_content --reschedule`
(live models). `core.schedules.schedule_ensure` writes crontabs in UTC; the distribution runs
at a local time, so its crontab is then swapped for one in CONTENT_TIME_ZONE.
"""

from __future__ import annotations

from django.conf import settings

from core.schedules import schedule_ensure

DISTRIBUTION = "messaging: distribute the day's approved content"
FEED_IMPORT = "messaging: import the content feed"
JOB_TASK = "analytics.job_scheduled"


def distribution_time() -> tuple[int, int]:
    """(hour, minute) of CONTENT_DISTRIBUTION_TIME ("HH:MM"); ValueError if malformed."""
    hour, minute = (int(part) for part in settings.CONTENT_DISTRIBUTION_TIME.split(":"))
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError(f"CONTENT_DISTRIBUTION_TIME {settings.CONTENT_DISTRIBUTION_TIME!r}")
    return hour, minute


def content_schedules_ensure(apps) -> None:
    hour, minute = distribution_time()
    crontab = {"minute": str(minute), "hour": str(hour)}
    # Beat starts these through the job runner (by task name: messaging imports nothing of
    # analytics), so each scheduled run is a JobRun in the operations centre like a manual one.
    schedule_ensure(
        apps, name=DISTRIBUTION, task=JOB_TASK, crontab=crontab, queue="default",
        kwargs='{"name": "distribute_content"}',
    )  # fmt: skip
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    local, _ = CrontabSchedule.objects.get_or_create(
        minute=str(minute), hour=str(hour), day_of_week="*", day_of_month="*",
        month_of_year="*", timezone=settings.CONTENT_TIME_ZONE,
    )  # fmt: skip
    PeriodicTask.objects.filter(name=DISTRIBUTION).update(crontab=local)
    schedule_ensure(
        apps, name=FEED_IMPORT, task=JOB_TASK, crontab={"minute": "41"}, queue="default",
        kwargs='{"name": "import_content_feed"}',
    )  # fmt: skip
