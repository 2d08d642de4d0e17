"""Periodic tasks live in the database (django-celery-beat); data migrations create them."""

from __future__ import annotations


def schedule_ensure(
    apps,
    *,
    name: str,
    task: str,
    every_seconds: int | None = None,
    crontab: dict | None = None,
    queue: str | None = None,
    kwargs: str = "{}",
) -> None:
    """Create or update the PeriodicTask `name` (idempotent; works with historical models)."""
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    defaults = {"task": task, "queue": queue, "kwargs": kwargs, "enabled": True}
    if every_seconds is not None:
        IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
        interval, _ = IntervalSchedule.objects.get_or_create(every=every_seconds, period="seconds")
        defaults.update(interval=interval, crontab=None)
    else:
        CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
        fields = {"minute": "0", "hour": "*", "day_of_week": "*", "day_of_month": "*"}
        fields.update(crontab or {})
        schedule, _ = CrontabSchedule.objects.get_or_create(
            month_of_year="*", timezone="UTC", **fields
        )
        defaults.update(crontab=schedule, interval=None)
    PeriodicTask.objects.update_or_create(name=name, defaults=defaults)


def schedule_remove(apps, *, name: str) -> None:
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=name).delete()
