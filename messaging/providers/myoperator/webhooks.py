"""MyOperator webhook payloads -> neutral events.

MyOperator's webhook format is not public (WHATSAPP.md section 3): what is known is that
delivery, read, failed and STOP events are joined on `message_id` (their `myop_ref_id` comes
back null for API sends) and that some payloads misspell `conversation_id` as
`conversaton_id`. The parser therefore accepts the shapes a JSON event notifier plausibly
sends and maps what it recognises:

* one event object, a list of them, or a wrapper `{"events"|"data"|"entries": [...]}`;
  an event's own `data`/`payload`/`message` object is merged into it;
* the kind from `event`, `type`, `event_type` or `status` (`message.delivered`,
  `DELIVERED`, `incoming_message`, ...);
* statuses `sent | delivered | read | failed` (also `submitted`/`accepted` -> sent,
  `seen` -> read, `undelivered`/`rejected`/`error` -> failed);
* the customer from `customer_number` + `customer_country_code`, `phone`, `from`, `mobile`
  or a `customer` object.

Anything else becomes an `UnhandledChange` carrying the raw event, so nothing is lost and
the mapping can be completed once real payloads have been captured.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from ..base import (
    InboundMessage,
    StatusUpdate,
    UnhandledChange,
    WebhookEvent,
    digits_only,
    normalise_errors,
    normalise_timestamp,
)

STATUS_ALIASES = {
    "sent": "sent",
    "submitted": "sent",
    "accepted": "sent",
    "delivered": "delivered",
    "read": "read",
    "seen": "read",
    "failed": "failed",
    "undelivered": "failed",
    "rejected": "failed",
    "error": "failed",
}
INBOUND_KINDS = frozenset(
    {"message", "incoming", "incoming_message", "inbound", "inbound_message", "received", "mo"}
)


def _events(payload: Any) -> list[dict[str, Any]]:
    if isinstance(payload, list):
        return [e for e in payload if isinstance(e, dict)]
    if not isinstance(payload, Mapping):
        return []
    for key in ("events", "entries", "data"):
        if isinstance(payload.get(key), list):
            return [e for e in payload[key] if isinstance(e, dict)]
    return [dict(payload)]


def _flatten(event: dict[str, Any]) -> dict[str, Any]:
    merged = dict(event)
    for key in ("data", "payload"):
        inner = event.get(key)
        if isinstance(inner, dict):
            merged = {**inner, **{k: v for k, v in merged.items() if k != key}}
    return merged


def _timestamp(value: Any) -> dt.datetime | None:
    parsed = normalise_timestamp(value)
    if parsed is None and isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def _customer(event: Mapping[str, Any]) -> str | None:
    customer = event.get("customer")
    if isinstance(customer, Mapping):
        event = {**customer, **event}
    number = None
    for key in ("customer_number", "phone", "phone_number", "mobile", "number", "from", "wa_id"):
        value = event.get(key)
        if isinstance(value, str | int) and str(value).strip():
            number = digits_only(str(value))
            break
    if not number:
        return None
    country = digits_only(
        str(event.get("customer_country_code") or event.get("country_code") or "")
    )
    if country and not number.startswith(country):
        number = country + number
    return number


def _kind(event: Mapping[str, Any]) -> str:
    for key in ("event", "type", "event_type", "status"):
        value = event.get(key)
        if isinstance(value, str) and value:
            kind = value.lower().replace("-", "_")
            return kind.rsplit(".", 1)[-1] if "." in kind else kind
    return ""


def _status(event: Mapping[str, Any], kind: str) -> str | None:
    for candidate in (event.get("status"), kind, kind.removeprefix("message_")):
        if isinstance(candidate, str) and candidate.lower() in STATUS_ALIASES:
            return STATUS_ALIASES[candidate.lower()]
    return None


def _errors(event: Mapping[str, Any]) -> list[dict[str, Any]]:
    errors = normalise_errors(event.get("errors"))
    if errors:
        return errors
    error = event.get("error")
    reason = event.get("failure_reason") or event.get("reason")
    if isinstance(error, Mapping):
        return normalise_errors([error])
    if error or reason:
        return [
            {
                "code": event.get("error_code"),
                "title": str(error or reason),
                "message": str(reason or error),
                "details": None,
            }
        ]
    return []


def _inbound_content(event: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    kind = str(event.get("message_type") or event.get("content_type") or "").lower()
    text = event.get("text")
    if isinstance(text, Mapping):
        return "text", dict(text)
    if isinstance(event.get("button"), Mapping):
        return "button", dict(event["button"])
    if isinstance(event.get("interactive"), Mapping):
        return "interactive", dict(event["interactive"])
    if kind and isinstance(event.get(kind), Mapping):
        return kind, dict(event[kind])
    body = text if isinstance(text, str) else event.get("body") or event.get("message_text")
    if isinstance(body, str):
        return "text", {"body": body}
    return kind or "unknown", {}


def parse_webhook(payload: Any) -> list[WebhookEvent]:
    results: list[WebhookEvent] = []
    for raw in _events(payload):
        event = _flatten(raw)
        kind = _kind(event)
        message_id = event.get("message_id") or event.get("wamid") or event.get("id")
        conversation_id = event.get("conversation_id") or event.get("conversaton_id")
        status = _status(event, kind)
        direction = str(event.get("direction") or "").lower()
        if message_id and direction != "inbound" and kind not in INBOUND_KINDS and status:
            results.append(
                StatusUpdate(
                    channel_key=_str(event.get("phone_number_id")),
                    wamid=str(message_id),
                    status=status,
                    timestamp=_timestamp(event.get("timestamp") or event.get("time")),
                    recipient_id=_customer(event),
                    callback_data=_str(event.get("myop_ref_id")),
                    conversation={"id": str(conversation_id)} if conversation_id else {},
                    pricing=event.get("pricing") if isinstance(event.get("pricing"), dict) else {},
                    errors=_errors(event),
                    raw=raw,
                )
            )
        elif message_id and (
            kind in INBOUND_KINDS or direction == "inbound" or _looks_inbound(event, status)
        ):
            message_type, content = _inbound_content(event)
            context = event.get("context") if isinstance(event.get("context"), Mapping) else {}
            profile = event.get("customer_name") or event.get("profile_name") or event.get("name")
            results.append(
                InboundMessage(
                    channel_key=_str(event.get("phone_number_id")),
                    wamid=str(message_id),
                    from_wa_id=_customer(event),
                    from_bsuid=_str(event.get("user_id")),
                    profile_name=_str(profile),
                    timestamp=_timestamp(event.get("timestamp") or event.get("time")),
                    type=message_type,
                    content=content,
                    context_wamid=_str(context.get("id") or event.get("reply_to")),
                    errors=_errors(event),
                    raw=raw,
                )
            )
        else:
            results.append(UnhandledChange(field=kind or "unknown", waba_id=None, value=raw))
    return results


def _looks_inbound(event: Mapping[str, Any], status: str | None) -> bool:
    """No explicit kind: a message body from a customer, and no delivery status."""
    has_body = any(event.get(key) for key in ("text", "body", "button", "interactive"))
    return status is None and has_body and _customer(event) is not None


def _str(value: Any) -> str | None:
    if value is None or value == "" or isinstance(value, dict | list):
        return None
    return str(value)
