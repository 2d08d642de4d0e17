"""The daily operations board: what happened today, one section per area, from a registry.

Adding a section (from your app's `AppConfig.ready()`)::

    from analytics.ops.board import BoardRow, board_register

    def notifications_today(day):
        sent = Notification.objects.filter(created_at__range=(day.start, day.end)).count()
        return [BoardRow("Notifications requested", sent, url=reverse("...") )]

    board_register("notifications", notifications_today, title="Notifications", order=40)

`fn(day)` gets a `BoardDay` (the local date and its start/end as aware datetimes) and returns
rows: `BoardRow(label, value, state="", url="")` (or dicts with those keys), where `state` is
"", "ok", "warn" or "down" and `url` makes the row a link. A section that raises shows its
error instead of breaking the board. `permission` hides a section from users without it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BoardDay:
    day: date
    start: datetime
    end: datetime

    @classmethod
    def for_date(cls, day: date | None = None) -> BoardDay:
        day = day or timezone.localdate()
        start = timezone.make_aware(datetime.combine(day, time.min))
        return cls(day=day, start=start, end=start + timedelta(days=1))


@dataclass(frozen=True)
class BoardRow:
    label: str
    value: Any
    state: str = ""
    url: str = ""


@dataclass(frozen=True)
class BoardSection:
    name: str
    title: str
    fn: Callable[[BoardDay], list]
    order: int = 100
    permission: str | None = None


_REGISTRY: dict[str, BoardSection] = {}


def board_register(
    name: str,
    fn: Callable[[BoardDay], list],
    *,
    title: str | None = None,
    order: int = 100,
    permission: str | None = None,
) -> BoardSection:
    """Add (or replace) the section `name`; sections are shown by `order`, then title."""
    section = BoardSection(
        name, title or name.replace("_", " ").capitalize(), fn, order, permission
    )
    _REGISTRY[name] = section
    return section


def board_sections() -> list[BoardSection]:
    return sorted(_REGISTRY.values(), key=lambda s: (s.order, s.title))


def _row(value: Any) -> BoardRow:
    if isinstance(value, BoardRow):
        return value
    if isinstance(value, dict):
        return BoardRow(
            label=str(value.get("label", "")),
            value=value.get("value", value.get("count", value.get("state", ""))),
            state=str(value.get("state", "") if "value" in value or "count" in value else ""),
            url=str(value.get("url", value.get("link", "")) or ""),
        )
    label, count, *rest = value
    return BoardRow(str(label), count, *(str(r) for r in rest))


def board_build(*, user=None, day: date | None = None) -> dict[str, Any]:
    """Every section the user may see, each with its rows (or its error)."""
    board_day = BoardDay.for_date(day)
    built = []
    for section in board_sections():
        if section.permission and (user is None or not user.has_perm(section.permission)):
            continue
        try:
            rows = [_row(r) for r in section.fn(board_day) or []]
            error = ""
        except Exception as exc:
            logger.warning("board section %s failed", section.name, exc_info=True)
            rows, error = [], f"{type(exc).__name__}: {exc}"[:300]
        built.append({"name": section.name, "title": section.title, "rows": rows, "error": error})
    return {"day": board_day.day, "sections": built}
