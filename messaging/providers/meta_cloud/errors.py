"""Graph API error JSON -> our error classes (WHATSAPP.md 2.8, the table in `error_codes`).

Decisions are made on `error.code` (and the HTTP status when there is no usable code), never
on the human-readable title, which Meta rewords.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..base import AuthError, PermanentError, ProviderError, TemporaryError
from ..error_codes import ErrorKind, error_code_info


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def classify(
    *,
    code: int | None,
    http_status: int | None,
    message: str,
    title: str | None = None,
    detail: str | None = None,
    raw: Any = None,
    retry_after: float | None = None,
) -> ProviderError:
    """The error class for a Graph error code, as the table in `error_codes` says (or, for a
    code that is neither temporary nor auth, and without one, for the HTTP status)."""
    kwargs = {
        "code": code,
        "title": title,
        "detail": detail,
        "http_status": http_status,
        "raw": raw,
    }
    if code is not None:
        info = error_code_info(code)
        if info.kind is ErrorKind.TEMPORARY:
            hint = retry_after if retry_after is not None else info.retry_after
            return TemporaryError(message, retry_after=hint, **kwargs)
        if info.kind is ErrorKind.AUTH:
            return AuthError(message, **kwargs)
    if http_status is not None and (http_status == 429 or http_status >= 500):
        return TemporaryError(message, retry_after=retry_after, **kwargs)
    if code is None and http_status in (401, 403):
        return AuthError(message, **kwargs)
    return PermanentError(message, **kwargs)


def error_from_response(
    http_status: int, body: bytes | str, retry_after: float | None = None
) -> ProviderError:
    """Parse Graph's error envelope `{"error": {message, type, code, error_data{details}}}`."""
    try:
        data = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        data = None
    error = data.get("error") if isinstance(data, Mapping) else None
    if not isinstance(error, Mapping):
        snippet = body[:200] if isinstance(body, str) else body[:200].decode("utf-8", "replace")
        return classify(
            code=None,
            http_status=http_status,
            message=f"HTTP {http_status} without a Graph error body",
            detail=snippet.strip() or None,
            raw=data,
            retry_after=retry_after,
        )
    code = _as_int(error.get("code"))
    error_data = error.get("error_data")
    detail = error_data.get("details") if isinstance(error_data, Mapping) else None
    # Template creation explains a refusal in `error_user_msg` (what to change).
    detail = detail or error.get("error_user_msg") or None
    message = str(error.get("message") or f"Graph error {code}")
    title = error.get("error_user_title") or error.get("type")
    if code is not None and f"(#{code})" in message:
        title = message.split(")", 1)[1].strip() or title
    return classify(
        code=code,
        http_status=http_status,
        message=message,
        title=title,
        detail=detail,
        raw=data,
        retry_after=retry_after,
    )
