"""Chart.js configurations built on the server, handed to static/js/dashboards.js as JSON
(`json_script`, which the strict Content-Security-Policy allows: it is data, not script)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.formats import date_format


def _number(value) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return float(value)
    return value


def dataset(label: str, values, **extra) -> dict[str, Any]:
    return {"label": label, "data": [_number(v) for v in values], **extra}


def chart(
    kind: str, labels, datasets: list[dict], *, title: str = "", percent: bool = False,
    stacked: bool = False, money: bool = False,
) -> dict[str, Any]:  # fmt: skip
    labels = [str(label) for label in labels]
    return {
        "type": kind,
        "labels": labels,
        "datasets": datasets,
        "title": title,
        "percent": percent,
        "stacked": stacked,
        "money": money,
        # Nothing but zeros and gaps: the page says so instead of drawing empty axes.
        "empty": not labels or not any(v for d in datasets for v in d["data"]),
    }


def day_label(day) -> str:
    """A chart axis label: "5 Dec" (MONTH_DAY_FORMAT, config/formats)."""
    return date_format(day, "MONTH_DAY_FORMAT")


def day_labels(series) -> list[str]:
    return [day_label(row["day"]) for row in series]


def rate(part, whole) -> float | None:
    return min(100.0, round(100.0 * float(part) / float(whole), 1)) if whole else None
