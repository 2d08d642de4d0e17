"""Display helpers for crm pages (messages are shown without importing messaging)."""

from django import template

register = template.Library()


@register.filter
def message_summary(message) -> str:
    """One line for a message's content, whatever its type."""
    content = getattr(message, "content", None) or {}
    if not isinstance(content, dict):
        return str(content)[:200]
    for key in ("body", "text", "title", "caption"):
        value = content.get(key)
        if isinstance(value, str) and value:
            return value[:200]
        if isinstance(value, dict) and isinstance(value.get("body"), str):
            return value["body"][:200]
    if content.get("name"):  # a template
        return f"Template {content['name']}"
    if content.get("payload"):
        return f"Payload {content['payload']}"[:200]
    return getattr(message, "type", "")


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
