"""Library assets inside a send body: where they are referenced and how they become media ids.

A media object names a library asset with `{"asset": <id>}` in place of WhatsApp's `id` or
`link` (a media message's own object, a template header parameter, an interactive header, a
carousel card's header). The body keeps the reference; the dispatcher puts the number's media
id in its place just before the provider call, so an id is never stale when it leaves however
long the message waited. Pure functions, no database.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

MEDIA_KINDS = frozenset({"image", "video", "audio", "document", "sticker"})
ASSET_KEY = "asset"


def content_asset_refs(content: Any, kind: str) -> list[tuple[str, Any]]:
    """(kind, reference) of every asset a body names, in the order found. `kind` is the
    message type: a media message's body is itself the media object."""
    found: list[tuple[str, Any]] = []
    stack: list[tuple[str, Any]] = [(kind, content)]
    while stack:
        key, node = stack.pop()
        if isinstance(node, dict):
            if ASSET_KEY in node and key in MEDIA_KINDS:
                found.append((key, node[ASSET_KEY]))
            for child_key, value in node.items():
                if isinstance(value, dict | list):
                    stack.append((str(child_key), value))
        elif isinstance(node, list):
            stack.extend((key, item) for item in node)
    return found


def content_has_assets(content: Any, kind: str) -> bool:
    return bool(content_asset_refs(content, kind))


def content_assets_replace(
    content: Mapping[str, Any], kind: str, media: Callable[[str, Any], Mapping[str, Any]]
) -> dict[str, Any]:
    """A copy of `content` where each `{"asset": ref, ...}` media object has `media(kind, ref)`
    (e.g. `{"id": "..."}`, with a document's `filename`) in place of the reference."""
    result = copy.deepcopy(dict(content))
    stack: list[tuple[str, Any]] = [(kind, result)]
    while stack:
        key, node = stack.pop()
        if isinstance(node, dict):
            if ASSET_KEY in node and key in MEDIA_KINDS:
                ref = node.pop(ASSET_KEY)
                for field, value in media(key, ref).items():
                    if field == "filename":
                        node.setdefault(field, value)  # the sender's own name wins
                    else:
                        node[field] = value
            for child_key, value in node.items():
                if isinstance(value, dict | list):
                    stack.append((str(child_key), value))
        elif isinstance(node, list):
            stack.extend((key, item) for item in node)
    return result


def asset_ref_id(ref: Any) -> int | None:
    """An asset reference as a row id (an int or a string of digits), else None."""
    if isinstance(ref, bool):
        return None
    if isinstance(ref, int):
        return ref if 0 < ref < 2**63 else None
    if isinstance(ref, str) and ref.strip().isdigit() and len(ref.strip()) <= 18:
        return int(ref.strip()) or None
    return None
