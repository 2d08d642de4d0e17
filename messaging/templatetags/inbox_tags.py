"""Template helpers for the inbox: delivery ticks, durations, templates and locations."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from django import template
from django.core.exceptions import ObjectDoesNotExist
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from messaging.channels.rendering import template_render
from messaging.media.content import asset_ref_id
from messaging.providers.error_codes import error_code_info
from messaging.sending.models import Status

register = template.Library()

# status -> (symbol, css class, words); "clock" is drawn as an icon (an emoji would need an
# emoji font, and renders as a box without one).
TICKS = {
    Status.QUEUED: ("clock", "queued", "queued"),
    Status.PAUSED: ("clock", "queued", "paused"),
    Status.SENDING: ("clock", "queued", "sending"),
    Status.UNKNOWN: ("?", "unknown", "outcome unknown"),
    Status.ACCEPTED: ("✓", "accepted", "accepted by WhatsApp"),
    Status.SENT: ("✓", "sent", "sent"),
    Status.DELIVERED: ("✓✓", "delivered", "delivered"),
    Status.READ: ("✓✓", "read", "read"),
    Status.FAILED: ("✗", "failed", "failed"),
    Status.CANCELLED: ("✗", "failed", "cancelled"),
}


@register.inclusion_tag("messaging/inbox/_ticks.html")
def ticks(message):
    symbol, css, words = TICKS.get(message.status, ("", "unknown", message.get_status_display()))
    error = ""
    if message.status in (Status.FAILED, Status.CANCELLED):
        error = error_code_info(message.error_code).meaning
        if message.error_title and message.error_code is None:
            error = message.error_title
    return {
        "symbol": symbol, "css": css, "words": words, "error": error,
        "status": message.get_status_display().lower(), "code": message.error_code,
    }  # fmt: skip


@register.filter
def earlier_versions(message) -> str:
    """What an edited message said before, one version a line (the "edited" badge's title)."""
    lines = []
    for version in (message.edit_history or [])[:-1]:
        content = version.get("content") if isinstance(version.get("content"), dict) else {}
        text = content.get("body") or content.get("caption") or content.get("title") or ""
        lines.append(f"{version.get('type', '')}: {text}")
    return "\n".join(lines)


@register.filter
def duration(seconds) -> str:
    """'5 h 12 min', '3 min', '40 s'."""
    if seconds is None:
        return "—"
    seconds = int(max(0, float(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


@register.simple_tag
def window_left(conversation) -> float | None:
    """Seconds left in the 24-hour window (None when closed)."""
    expires = conversation.window_expires_at
    if expires is None:
        return None
    left = (expires - timezone.now()).total_seconds()
    return left if left > 0 else None


@register.simple_tag
def rendered_template(message):
    return template_render(message.template, message.content)


@register.filter
def map_url(content) -> str:
    try:
        lat, lon = float(content.get("latitude")), float(content.get("longitude"))
    except (TypeError, ValueError, AttributeError):
        return ""
    return (
        "https://www.openstreetmap.org/?"
        + urlencode({"mlat": f"{lat:.6f}", "mlon": f"{lon:.6f}"})
        + f"#map=16/{lat:.6f}/{lon:.6f}"
    )


@register.filter
def media_url(message) -> str:
    """The message's own stored file, else the media library file it was sent from."""
    if message.media_file:
        return reverse("messaging:inbox-media", args=[message.pk])
    content = message.content if isinstance(message.content, dict) else {}
    asset_id = asset_ref_id(content.get("asset"))
    return reverse("messaging:media-file", args=[asset_id]) if asset_id else ""


MEDIA = frozenset({"image", "video", "audio", "document", "sticker"})


@register.filter
def is_media(message) -> bool:
    return message.type in MEDIA


@register.filter
def automated_answer(message):
    """The message's AutomatedAnswer, or None (no exception for plain messages)."""
    try:
        return message.automated_answer
    except ObjectDoesNotExist:
        return None


@register.filter
def snippet(message) -> str:
    """One line that says what a message was, for the conversation list."""
    content = message.content or {}
    kind = message.type
    if kind == "text":
        text = content.get("body", "")
    elif kind in MEDIA:
        text = f"[{kind}] {content.get('caption', '')}".strip()
    elif kind == "template":
        text = (
            template_render(message.template, content).body or f"[template {content.get('name')}]"
        )
    elif kind == "button":
        text = f"Tapped {content.get('text', '')}"
    elif kind == "interactive_reply":
        text = f"Chose {content.get('title', '')}"
    elif kind == "interactive":
        text = (content.get("body") or {}).get("text", "")
    elif kind == "location":
        text = f"[location] {content.get('name', '')}".strip()
    else:
        text = f"[{message.get_type_display().lower()}]"
    text = " ".join(str(text).split())
    return text[:80] + ("…" if len(text) > 80 else "")


# --- Links in what customers and providers send ------------------------------------------------

# Only these schemes ever become a live link; `javascript:`, `data:`, `vbscript:` and anything
# else stay text, however they are spelled (inbox.js applies the same rule to the page).
SAFE_SCHEMES = ("http://", "https://", "mailto:", "tel:")
_CONTROL = re.compile(r"[\x00-\x20\x7f]+")
_LINK = re.compile(r"(?:https?://|mailto:|tel:)[^\s<>\"']+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""


def link_is_safe(url) -> bool:
    """True for an http(s), mailto or tel URL. Browsers ignore control characters and spaces
    inside a scheme (`java\tscript:`), so they are removed before looking."""
    text = _CONTROL.sub("", str(url or "")).lower()
    return text.startswith(SAFE_SCHEMES)


@register.filter
def safe_href(url) -> str:
    """`url` when it may be a link's href, else "" (the template shows it as text)."""
    return str(url) if link_is_safe(url) else ""


@register.filter(is_safe=True)
def linkify(text) -> str:
    """Escaped text with its http(s), mailto and tel URLs as links (opened in a new tab,
    without referrer) and its line breaks kept; nothing else becomes a link."""
    text = str(text or "")
    parts, last = [], 0
    for match in _LINK.finditer(text):
        url = match.group(0)
        trimmed = url.rstrip(_TRAILING)
        end = match.start() + len(trimmed)
        parts.append(escape(text[last : match.start()]))
        if link_is_safe(trimmed) and len(trimmed) > len("tel:"):
            parts.append(
                format_html(
                    '<a href="{}" rel="noopener noreferrer nofollow" target="_blank">{}</a>',
                    trimmed,
                    trimmed,
                )
            )
        else:
            parts.append(escape(trimmed))
        last = end
    parts.append(escape(text[last:]))
    html = "".join(str(p) for p in parts)  # every piece escaped or built by format_html
    return mark_safe(html.replace("\r\n", "\n").replace("\n", "<br>"))  # noqa: S308
