"""Template filters of the campaign pages."""

from __future__ import annotations

import re

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# WhatsApp's own formatting: *bold*, _italic_, ~strikethrough~ (one line, not empty).
_STYLES = [
    (re.compile(r"\*([^*\n]+)\*"), "strong"),
    (re.compile(r"(?<![\w])_([^_\n]+)_(?![\w])"), "em"),
    (re.compile(r"~([^~\n]+)~"), "s"),
]


@register.filter
def wa_format(text) -> SafeString:
    """`text` as WhatsApp shows it: escaped first, then its *bold*, _italic_ and ~struck~
    spans and its line breaks, so nothing of the text itself can become markup."""
    html = escape(str(text or ""))
    for pattern, tag in _STYLES:
        html = pattern.sub(rf"<{tag}>\1</{tag}>", html)
    return mark_safe(html.replace("\n", "<br>"))  # noqa: S308 (escaped above)
