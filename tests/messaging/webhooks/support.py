"""Helpers for the webhook tests: payload fixtures, signing, storing and processing."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

import pytest

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


# --- Webhook bodies written by third parties (never copied into this repository) --------------

REPO_ROOT = Path(__file__).resolve().parents[3]
PEER_DEFAULT_DIR = REPO_ROOT.parent / "shared" / "peer-webhooks"


def peer_webhooks_dir() -> Path:
    """`PEER_WEBHOOKS_DIR`, else `../shared/peer-webhooks` beside the repository."""
    configured = os.environ.get("PEER_WEBHOOKS_DIR")
    return Path(configured) if configured else PEER_DEFAULT_DIR


def peer_webhook_files() -> list[Path]:
    """The corpus's bodies in corpus order (`NN_source_what.json`); [] when it is absent."""
    folder = peer_webhooks_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.json") if p.name[:2].isdigit())


def peer_manifest() -> dict[str, Any]:
    path = peer_webhooks_dir() / "manifest.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def peer_params():
    """pytest parameters, one per body (id: the file name), or one skipped parameter that
    says why when the folder is absent."""
    files = peer_webhook_files()
    if files:
        return [pytest.param(path, id=path.name) for path in files]
    reason = (
        f"peer webhook corpus not found at {peer_webhooks_dir()} "
        "(set PEER_WEBHOOKS_DIR to the folder of third-party webhook bodies)"
    )
    return [pytest.param(None, id="peer-webhooks-absent", marks=pytest.mark.skip(reason=reason))]


# The corpus routes every body to one number (its SOURCES.md, "What was changed").
PEER_PHONE_NUMBER_ID = "118765432109876"
PEER_WABA_ID = "203948576610294"


def peer_channel_create():
    """The channel the corpus's bodies are addressed to."""
    from tests.factories import ChannelFactory

    manifest = peer_manifest()
    return ChannelFactory(
        phone_number_id=manifest.get("pnid", PEER_PHONE_NUMBER_ID),
        waba_id=manifest.get("waba", PEER_WABA_ID),
    )


def peer_outbound_create(channel) -> dict[str, dict[str, Any]]:
    """The template sends the corpus's statuses refer to (`manifest.json["outbound"]`), accepted
    with their wamids as the send path records them; returns the expectations by wamid."""
    from crm.models import Contact
    from messaging.models import Status
    from tests.factories import ContactFactory, MessageFactory

    expected = {}
    for item in peer_manifest().get("outbound", []):
        if item.get("to"):
            contact = Contact.objects.filter(phone=item["to"]).first() or ContactFactory(
                phone=item["to"]
            )
        else:
            contact = ContactFactory(phone=None, wa_id=None, bsuid=item["recipient"])
        MessageFactory(
            channel=channel,
            contact=contact,
            type="template",
            content={"name": "payment_received", "language": {"code": "en"}},
            wamid=item["wamid"],
            status=Status.ACCEPTED,
        )
        expected[item["wamid"]] = item
    return expected


def peer_outbound_problems(expected: dict[str, dict[str, Any]]) -> list[str]:
    """Where the outbound messages differ from the manifest's documented end states."""
    from messaging.models import Message, Status

    names = {"accepted": Status.ACCEPTED, "sent": Status.SENT, "delivered": Status.DELIVERED,
             "read": Status.READ, "played": Status.READ, "failed": Status.FAILED}  # fmt: skip
    problems = []
    for wamid, item in expected.items():
        message = Message.objects.get(wamid=wamid)
        if message.status not in {names[name] for name in item["expect_status"]}:
            problems.append(f"{item['key']}: status {message.get_status_display()}")
        if "expect_error_code" in item and message.error_code != item["expect_error_code"]:
            problems.append(f"{item['key']}: error code {message.error_code}")
        category = item.get("expect_pricing_category")
        if category and message.pricing_category != category:
            problems.append(f"{item['key']}: pricing category {message.pricing_category!r}")
    return problems
