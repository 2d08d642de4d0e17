"""What a content item's template offers and which unlock buttons an item may carry.

Pure functions over a template's definition and an item's button list, shared by the workflow
(`services`), the readiness check (`selectors`), distribution and Click-to-Unlock; no queries.
"""

from __future__ import annotations

from typing import Any

from core.errors import DomainError
from messaging.channels.models import MessageTemplate
from messaging.channels.opt_out import template_quick_replies
from messaging.content.models import UnlockKind


class ContentNotReady(DomainError):
    code = "content_not_ready"
    status_code = 422


def quick_reply_buttons(template: MessageTemplate | None) -> list[tuple[str, str]]:
    """(index, text) of the template's quick-reply buttons, in order."""
    if template is None:
        return []
    return [(b["index"], b["text"]) for b in template_quick_replies(template.components)]


def header_format(template: MessageTemplate) -> str:
    for component in template.components or []:
        if str(component.get("type", "")).upper() == "HEADER":
            return str(component.get("format", "TEXT")).upper()
    return ""


def unlock_buttons_clean(raw: Any) -> list[dict[str, str]]:
    """`[{"kind": ..., "title": ...}]`; raises ContentNotReady on an unknown kind."""
    if not raw:
        return []
    if not isinstance(raw, list):
        raise ContentNotReady("Unlock buttons must be a list of {kind, title}.")
    cleaned = []
    for item in raw:
        kind = str((item or {}).get("kind", "")).strip().upper()
        if kind not in UnlockKind.values:
            raise ContentNotReady(
                f"Unknown unlock button kind {kind!r}; use one of {', '.join(UnlockKind.values)}."
            )
        cleaned.append({"kind": kind, "title": str(item.get("title") or "").strip()[:20]})
    return cleaned
