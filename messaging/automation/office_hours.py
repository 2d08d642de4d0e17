"""Office hours: `"Mon-Fri 09:00-18:00; Sat 10:00-14:00"` read in a time zone.

Each spec is days then a time range. Days are a range (`Mon-Fri`, wrapping: `Fri-Mon`), a list
(`Mon,Wed,Fri`), one day, or `Daily`. A range whose end is before its start runs past
midnight (`22:00-06:00` belongs to the day it starts on). `24:00` means end of day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_SPEC = re.compile(
    r"^(?P<days>[A-Za-z,\- ]+?)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$"
)


class OfficeHoursInvalid(ValueError):
    pass


@dataclass(frozen=True)
class Span:
    days: frozenset[int]  # 0 = Monday
    start: int  # minutes after midnight
    end: int  # minutes after midnight; <= start runs past midnight


def _day(name: str) -> int:
    key = name.strip().lower()[:3]
    if key not in DAYS:
        raise OfficeHoursInvalid(f"not a day: {name!r} (use Mon, Tue, ... Sun)")
    return DAYS.index(key)


def _days(text: str) -> frozenset[int]:
    text = text.strip().lower()
    if text in ("daily", "every day", "all"):
        return frozenset(range(7))
    days: set[int] = set()
    for part in text.split(","):
        if "-" in part:
            first, last = (_day(p) for p in part.split("-", 1))
            day = first
            while True:
                days.add(day)
                if day == last:
                    break
                day = (day + 1) % 7
        elif part.strip():
            days.add(_day(part))
    if not days:
        raise OfficeHoursInvalid(f"no days in {text!r}")
    return frozenset(days)


def _minutes(text: str) -> int:
    hours, minutes = (int(p) for p in text.split(":"))
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise OfficeHoursInvalid(f"not a time: {text!r}")
    return hours * 60 + minutes


def office_hours_parse(spec: str) -> list[Span]:
    """The spans of `spec`; raises OfficeHoursInvalid with the reason. Empty: always open."""
    spans = []
    for part in (spec or "").split(";"):
        part = " ".join(part.split())
        if not part:
            continue
        match = _SPEC.match(part)
        if not match:
            raise OfficeHoursInvalid(f"cannot read {part!r} (like 'Mon-Fri 09:00-18:00')")
        spans.append(Span(_days(match["days"]), _minutes(match["start"]), _minutes(match["end"])))
    return spans


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or settings.OFFICE_TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise OfficeHoursInvalid(f"unknown time zone {name!r}") from exc


def within_office_hours(at: datetime, *, spec: str | None = None, tz: str | None = None) -> bool:
    """Is `at` (aware) inside office hours? No hours configured means always open."""
    spans = office_hours_parse(settings.OFFICE_HOURS if spec is None else spec)
    if not spans:
        return True
    local = at.astimezone(_zone(tz))
    minute = local.hour * 60 + local.minute
    weekday, yesterday = local.weekday(), (local.weekday() - 1) % 7
    for span in spans:
        if span.start < span.end:
            if weekday in span.days and span.start <= minute < span.end:
                return True
        else:  # runs past midnight
            if weekday in span.days and minute >= span.start:
                return True
            if yesterday in span.days and minute < span.end:
                return True
    return False


def office_hours_local(at: datetime) -> datetime:
    """`at` on the office's clock (OFFICE_TIME_ZONE)."""
    return at.astimezone(_zone(None))


def office_hours_describe(spec: str | None = None) -> str:
    spec = settings.OFFICE_HOURS if spec is None else spec
    return f"{spec or 'always open'} ({settings.OFFICE_TIME_ZONE})"
