"""Formatting for the operations pages."""

from __future__ import annotations

from django import template

register = template.Library()

STATE_LABELS = {"ok": "Up", "warn": "Warning", "down": "Down"}


@register.filter
def state_label(state: str) -> str:
    return STATE_LABELS.get(state, state or "")


@register.filter
def percent(value, digits: int = 1) -> str:
    """0.1234 -> '12.3 %'; None -> '—'."""
    if value is None:
        return "—"
    return f"{float(value) * 100:.{int(digits)}f} %"


@register.filter
def seconds(value) -> str:
    """A duration in seconds, short: '4 s', '3 min', '2 h 5 min', '3 d 4 h'."""
    if value is None:
        return "—"
    total = round(float(value))
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min" + (f" {secs} s" if minutes < 5 and secs else "")
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    days, hours = divmod(hours, 24)
    return f"{days} d" + (f" {hours} h" if hours else "")


@register.filter
def duration(value) -> str:
    """A timedelta, as `seconds` does."""
    if value is None:
        return "—"
    return seconds(value.total_seconds())


@register.filter
def get_title(titles: dict, name: str) -> str:
    return titles.get(name, name)
