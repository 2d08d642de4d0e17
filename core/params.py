"""Query-string values read safely: the one home for turning `?limit=`, `?since=`, `?q=`
into Python values (README "Security notes", RELIABILITY.md "Bad input").

Hostile values used to reach the database or date arithmetic raw: a 30-digit id overflowed
SQLite's and PostgreSQL's 64-bit integers, `9999-12-31` plus a day overflowed `date`, and
a NUL byte is refused by PostgreSQL's driver. Each reader here either returns a value that
is safe to compute with and query by, or raises `QueryParamError`, a DomainError (400 with
the API's error envelope); the `*_or_none` variants are for staff pages, which ignore a
filter they cannot read and show the default instead.

Dates are accepted from DATE_MIN to DATE_MAX: far enough for any real record, and far
enough from `date.min`/`date.max` that a year of arithmetic and any time-zone shift stay
valid.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from core.errors import DomainError

DATE_MIN = date(1900, 1, 1)
DATE_MAX = date(2999, 12, 31)
INT_MAX = 2**63 - 1  # PostgreSQL bigint and SQLite INTEGER
TEXT_MAX = 500  # a search or filter string; longer is not a search


class QueryParamError(DomainError):
    code = "invalid_parameter"
    status_code = 400

    def __init__(self, name: str, message: str):
        super().__init__(f"{name}: {message}", details={name: [message]})


def query_text(raw: object, *, name: str, max_length: int = TEXT_MAX) -> str:
    """A search or filter string, stripped; "" when absent."""
    text = "" if raw is None else str(raw).strip()
    if "\x00" in text:
        raise QueryParamError(name, "must not contain a NUL character.")
    if len(text) > max_length:
        raise QueryParamError(name, f"at most {max_length:,} characters.")
    return text


def query_int(
    raw: object, *, name: str, minimum: int | None = None, maximum: int = INT_MAX
) -> int | None:
    """A whole number in [minimum, maximum]; None when absent."""
    text = query_text(raw, name=name, max_length=30)
    if not text:
        return None
    if not text.lstrip("-").isdigit() or len(text.lstrip("-")) > 19:
        raise QueryParamError(name, "must be a whole number.")
    value = int(text)
    if (minimum is not None and value < minimum) or value > maximum:
        low = "" if minimum is None else f"{minimum:,} to "
        raise QueryParamError(name, f"must be {low}{maximum:,}.")
    return value


def query_id(raw: object, *, name: str) -> int | None:
    """A row id (a positive whole number that fits the database); None when absent."""
    return query_int(raw, name=name, minimum=1)


def _in_window(day: date, *, name: str) -> None:
    if not DATE_MIN <= day <= DATE_MAX:
        raise QueryParamError(name, f"dates run from {DATE_MIN} to {DATE_MAX}.")


def query_date(raw: object, *, name: str) -> date | None:
    """A calendar date (YYYY-MM-DD) within the window; None when absent."""
    text = query_text(raw, name=name, max_length=40)
    if not text:
        return None
    try:
        day = parse_date(text)
    except ValueError:  # well formed, not a real day (2026-02-30)
        day = None
    if day is None:
        raise QueryParamError(name, "must be a date (YYYY-MM-DD).")
    _in_window(day, name=name)
    return day


def query_moment(raw: object, *, name: str) -> date | datetime | None:
    """A date, or a date-time with a time zone, within the window; None when absent."""
    text = query_text(raw, name=name, max_length=40)
    if not text:
        return None
    try:
        day = parse_date(text)
        moment = None if day is not None else parse_datetime(text)
    except ValueError:
        day = moment = None
    if day is not None:
        _in_window(day, name=name)
        return day
    if moment is None:
        raise QueryParamError(name, "must be a date or a date-time.")
    if moment.tzinfo is None:
        raise QueryParamError(name, "give date-times with a time zone.")
    _in_window(moment.date(), name=name)
    return moment


def query_date_or_none(raw: object) -> date | None:
    """For staff pages: the date, or None for anything absent, malformed or out of range."""
    try:
        return query_date(raw, name="date")
    except QueryParamError:
        return None


def query_bound(raw: object, *, name: str, tz: tzinfo, end: bool = False) -> datetime | None:
    """One end of a period: a date-time as given, or a date cut at midnight in `tz` (its
    start, or with `end` the next day's start, so that `to=2026-03-31` includes that day);
    None when absent. Each reporting endpoint passes its own time zone (analytics days are
    cut in ANALYTICS_TIME_ZONE)."""
    value = query_moment(raw, name=name)
    if value is None or isinstance(value, datetime):
        return value
    day = value + timedelta(days=1) if end else value
    return datetime.combine(day, time.min, tzinfo=tz)


def query_period(
    params,
    *,
    tz: tzinfo,
    start: str = "from",
    end: str = "to",
    default_days: int = 7,
    max_days: int = 366,
    now: datetime | None = None,
) -> tuple[datetime, datetime]:
    """The period `[start, end)` a report's query string asks for (`?from=&to=`, dates or
    date-times, see `query_bound`). Without `to` it ends now; without `from` it starts
    `default_days` before its end. An end before its start, or a period longer than
    `max_days`, is a QueryParamError naming the parameter."""
    last = query_bound(params.get(end), name=end, tz=tz, end=True)
    if last is None:
        last = now or timezone.now()
    first = query_bound(params.get(start), name=start, tz=tz)
    if first is None:
        first = last - timedelta(days=default_days)
    if last <= first:
        raise QueryParamError(end, f"must be after {start}.")
    if last - first > timedelta(days=max_days):
        raise QueryParamError(end, f"a period is at most {max_days} days.")
    return first, last
