"""Formatting for the analytics dashboards."""

from __future__ import annotations

from django import template

from analytics.templatetags.ops_tags import seconds

register = template.Library()


@register.filter
def pct(value) -> str:
    """0.1234 -> '12.3%'; None -> '—'."""
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:.1f}%"


@register.filter
def duration_s(value) -> str:
    return seconds(value)


@register.filter
def get(mapping, key):
    return (mapping or {}).get(key)
