"""Analytics days: cut at midnight in ANALYTICS_TIME_ZONE."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone


def analytics_tz() -> ZoneInfo:
    return ZoneInfo(settings.ANALYTICS_TIME_ZONE)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The aware start (inclusive) and end (exclusive) of `day`."""
    tz = analytics_tz()
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return start, end


def range_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    return day_bounds(first)[0], day_bounds(last)[1]


def local_day(at: datetime) -> date:
    return timezone.localtime(at, analytics_tz()).date()


def today() -> date:
    return local_day(timezone.now())


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
