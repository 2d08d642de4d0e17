"""Helpers for the webhook tests: payload fixtures, signing, storing and processing."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from messaging.models import WebhookEvent
from messaging.webhooks.services import body_sha256, webhook_event_process

FIXTURES = Path(__file__).parent / "fixtures"
APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
WABA_ID = "100000000000001"
PHONE_NUMBER_ID = "200000000000001"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture(name: str) -> dict[str, Any]:
    return json.loads(fixture_bytes(name))


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_signed(client, body: bytes | dict, *, secret: str = APP_SECRET, path=None, **extra):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        path or "/webhooks/whatsapp/",
        data=raw,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=sign(raw, secret),
        **extra,
    )


def envelope(
    field: str, value: dict[str, Any], *, waba_id: str = WABA_ID, phone_number_id=PHONE_NUMBER_ID
) -> dict[str, Any]:
    """Meta's notification envelope around one change."""
    value = copy.deepcopy(value)
    if phone_number_id is not None:
        value.setdefault("messaging_product", "whatsapp")
        value.setdefault(
            "metadata",
            {"display_phone_number": "15550001111", "phone_number_id": phone_number_id},
        )
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "changes": [{"field": field, "value": value}]}],
    }


def status(wamid: str, name: str, timestamp: int, **extra: Any) -> dict[str, Any]:
    item = {
        "id": wamid,
        "status": name,
        "timestamp": str(timestamp),
        "recipient_id": "919812345678",
    }
    item.update(extra)
    return item


def failed(wamid: str, code: int, timestamp: int, title: str = "Failure", **extra: Any):
    return status(
        wamid,
        "failed",
        timestamp,
        errors=[
            {
                "code": code,
                "title": title,
                "message": title,
                "error_data": {"details": f"details of {code}"},
            }
        ],
        **extra,
    )


def statuses_payload(*items: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return envelope("messages", {"statuses": list(items)}, **kwargs)


def text_message(
    wamid: str, body: str, timestamp: int, *, wa_id: str = "919812345678", **extra: Any
) -> dict[str, Any]:
    message = {
        "from": wa_id,
        "id": wamid,
        "timestamp": str(timestamp),
        "type": "text",
        "text": {"body": body},
    }
    message.update(extra)
    return message


def messages_payload(*messages: dict[str, Any], name: str = "Asha Rao", **kwargs: Any):
    wa_ids = sorted({m["from"] for m in messages if m.get("from")})
    contacts = [{"profile": {"name": name}, "wa_id": wa_id} for wa_id in wa_ids]
    return envelope("messages", {"contacts": contacts, "messages": list(messages)}, **kwargs)


def store(payload: dict[str, Any] | str, provider: str = "meta_cloud") -> WebhookEvent:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return WebhookEvent.objects.create(
        provider=provider, body=text, body_sha256=body_sha256(text.encode())
    )


def process(payload: dict[str, Any] | str, provider: str = "meta_cloud") -> WebhookEvent:
    """Store a body as the intake would and process it as the worker would."""
    event = store(payload, provider)
    webhook_event_process(event_id=event.pk)
    event.refresh_from_db()
    return event
