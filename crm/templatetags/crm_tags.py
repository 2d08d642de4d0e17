"""Display helpers for crm pages."""

from django import template

register = template.Library()


@register.filter
def pretty_value(value) -> str:
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


@register.simple_tag
def page_link(query: str, number: int) -> str:
    return f"?{query}&page={number}" if query else f"?page={number}"
