"""MyOperator provider against a loopback fake that checks headers and bodies."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
import urllib.parse

import pytest

from messaging.providers.base import (
    AmbiguousError,
    AuthError,
    InboundMessage,
    InvalidMessage,
    OutboundMessage,
    PermanentError,
    StatusUpdate,
    TemporaryError,
    UnhandledChange,
)
from messaging.providers.myoperator import MyOperatorProvider, parse_webhook, split_number

from .support import json_answer

API_KEY = "myop-api-key"
ACCEPTED = {
    "status": "success",
    "code": "200",
    "message": "Accepted",
    "data": {"conversation_id": "conv-1", "message_id": "myop-msg-1"},
}


def make(url: str, **kwargs) -> MyOperatorProvider:
    options = {
        "base_url": url,
        "api_key": API_KEY,
        "company_id": "5f1a",
        "phone_number_id": "pn-77",
        "waba_id": "waba-9",
        "timeout": (1.0, 1.0),
    }
    options.update(kwargs)
    return MyOperatorProvider(**options)


def test_send_text_headers_and_body(loopback):
    server = loopback(lambda request: json_answer(ACCEPTED))
    result = make(server.url).send(
        OutboundMessage(
            type="text",
            to="+919876543210",
            content={"body": "Your order shipped", "preview_url": True},
            context_wamid="myop-in-5",
            callback_data="msg-uuid-1",
        )
    )
    [request] = server.requests
    assert request["method"] == "POST" and request["path"] == "/chat/messages"
    headers = request["headers"]
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert headers["X-MYOP-COMPANY-ID"] == "5f1a"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(request["body"]) == {
        "phone_number_id": "pn-77",
        "customer_country_code": "91",
        "customer_number": "9876543210",
        "data": {"type": "text", "context": {"body": "Your order shipped", "preview_url": True}},
        "reply_to": "myop-in-5",
        "myop_ref_id": "msg-uuid-1",
    }
    assert result.provider_message_id == "myop-msg-1"
    assert result.wa_id == "919876543210"


def test_send_template_translates_components(loopback):
    server = loopback(lambda request: json_answer(ACCEPTED))
    make(server.url).send(
        OutboundMessage(
            type="template",
            to="14155552671",
            content={
                "name": "daily_market_insight",
                "language": {"code": "en"},
                "components": [
                    {
                        "type": "header",
                        "parameters": [
                            {"type": "image", "image": {"link": "https://x.example/c.png"}}
                        ],
                    },
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "text": "Ravi"},
                            {
                                "type": "currency",
                                "currency": {
                                    "fallback_value": "$5",
                                    "code": "USD",
                                    "amount_1000": 5000,
                                },
                            },
                        ],
                    },
                    {
                        "type": "button",
                        "sub_type": "quick_reply",
                        "index": "0",
                        "parameters": [{"type": "payload", "payload": "UNLOCK_CONTENT"}],
                    },
                ],
            },
        )
    )
    body = json.loads(server.requests[0]["body"])
    assert body["customer_country_code"] == "1"
    assert body["customer_number"] == "4155552671"
    assert body["data"] == {
        "type": "template",
        "context": {
            "template_name": "daily_market_insight",
            "language": "en",
            "media": {"type": "image", "url": "https://x.example/c.png"},
            "body": {"1": "Ravi", "2": "$5"},
            "buttons": [{"index": 0, "id": "UNLOCK_CONTENT"}],
        },
    }
    assert body["reply_to"] is None and body["myop_ref_id"] is None


def test_named_template_parameters(loopback):
    server = loopback(lambda request: json_answer(ACCEPTED))
    make(server.url).send(
        OutboundMessage(
            type="template",
            to="919876543210",
            content={
                "name": "payment_received",
                "language": {"code": "en"},
                "components": [
                    {
                        "type": "body",
                        "parameters": [{"type": "text", "parameter_name": "amount", "text": "₹10"}],
                    }
                ],
            },
        )
    )
    assert json.loads(server.requests[0]["body"])["data"]["context"]["body"] == {"amount": "₹10"}


@pytest.mark.parametrize(
    "message",
    [
        OutboundMessage(type="image", to="919876543210", content={"id": "1"}),
        OutboundMessage(type="text", recipient_bsuid="IN.123456789", content={"body": "x"}),
        OutboundMessage(type="text", to="+999123", content={"body": "x"}),
    ],
)
def test_unsupported_messages_refused_before_http(loopback, message):
    server = loopback()
    with pytest.raises(InvalidMessage):
        make(server.url).send(message)
    assert server.requests == []


@pytest.mark.parametrize(
    ("status", "payload", "cls"),
    [
        (401, {"message": "Unauthorized"}, AuthError),
        (
            403,
            {"message": "User is not authorized to access this resource with an explicit deny"},
            AuthError,
        ),
        (429, {"message": "Too many requests"}, TemporaryError),
        (500, {"message": None}, TemporaryError),
        (502, None, TemporaryError),
        (
            400,
            {"status": "error", "code": "400", "message": "Invalid customer_number"},
            PermanentError,
        ),
        (422, {"message": "Template not approved"}, PermanentError),
    ],
)
def test_error_mapping(loopback, status, payload, cls):
    body = json.dumps(payload).encode() if payload is not None else b"<html>Bad gateway</html>"
    server = loopback(lambda request: (status, {"Retry-After": "3"}, body))
    with pytest.raises(cls) as excinfo:
        make(server.url).send(
            OutboundMessage(type="text", to="919876543210", content={"body": "x"})
        )
    assert type(excinfo.value) is cls
    assert excinfo.value.http_status == status
    if cls is TemporaryError and status == 429:
        assert excinfo.value.retry_after == 3.0


def test_success_status_error_is_permanent(loopback):
    server = loopback(lambda request: json_answer({"status": "error", "message": "Number blocked"}))
    with pytest.raises(PermanentError, match="Number blocked"):
        make(server.url).send(
            OutboundMessage(type="text", to="919876543210", content={"body": "x"})
        )


def test_accepted_without_id_is_ambiguous(loopback):
    server = loopback(lambda request: json_answer({"status": "success", "data": {}}))
    with pytest.raises(AmbiguousError):
        make(server.url).send(
            OutboundMessage(type="text", to="919876543210", content={"body": "x"})
        )


def test_read_timeout_is_ambiguous(loopback):
    def slow(request):
        time.sleep(0.4)
        return json_answer(ACCEPTED)

    server = loopback(slow)
    with pytest.raises(AmbiguousError):
        make(server.url, timeout=(1.0, 0.1)).send(
            OutboundMessage(type="text", to="919876543210", content={"body": "x"})
        )


def test_list_templates_pages_by_offset(loopback):
    templates = [
        {
            "id": str(i),
            "template_name": f"t{i}",
            "language": "en",
            "waba_template_status": "approved",
            "category": "UTILITY",
            "components": json.dumps([{"type": "BODY", "text": "Hi {{1}}"}]),
        }
        for i in range(5)
    ]

    def answer(request):
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(request["path"]).query))
        offset, limit = int(query["offset"]), int(query["limit"])
        page = templates[offset : offset + limit]
        return json_answer({"status": "success", "data": {"templates": page, "total": 5}})

    server = loopback(answer)
    result = list(make(server.url).list_templates(page_size=2))
    assert [t.name for t in result] == ["t0", "t1", "t2", "t3", "t4"]
    assert result[0].status == "APPROVED" and result[0].parameters == ["1"]
    paths = [r["path"] for r in server.requests]
    assert len(paths) == 3
    assert all(p.startswith("/chat/templates?waba_id=waba-9&limit=2&offset=") for p in paths)


def test_mark_read_is_a_documented_no_op(loopback):
    server = loopback()
    provider = make(server.url)
    assert provider.supports_read_receipts is False
    provider.mark_read("myop-in-1")
    assert server.requests == []


def test_typing_indicator_is_a_documented_no_op(loopback):
    server = loopback()
    provider = make(server.url)
    provider.mark_read("myop-in-1", typing=True)
    assert server.requests == []


def test_fetch_media_by_url(loopback):
    server = loopback(lambda request: (200, {"Content-Type": "image/png; q=1"}, b"\x89PNGdata"))
    media = make(server.url).fetch_media(f"{server.url}/files/1.png")
    assert media.content == b"\x89PNGdata" and media.mime_type == "image/png"
    assert server.requests[0]["headers"]["Authorization"] == f"Bearer {API_KEY}"
    with pytest.raises(PermanentError):
        make(server.url).fetch_media("12345")


# --- webhooks --------------------------------------------------------------------------------

RAW = b'{"event":"message.delivered","message_id":"myop-msg-1"}'


def test_verify_signature_with_api_key():
    digest = hmac.new(API_KEY.encode(), RAW, hashlib.sha256).hexdigest()
    provider = make("http://unused")
    assert provider.verify_webhook({"X-MyOperator-Signature": f"sha256={digest}"}, RAW)
    assert provider.verify_webhook({"x-myoperator-signature": digest}, RAW)
    assert not provider.verify_webhook({"X-MyOperator-Signature": digest}, RAW + b" ")
    assert not provider.verify_webhook({}, RAW)


def test_verify_bearer_token():
    provider = make("http://unused", webhook_token="hook-token")
    assert provider.verify_webhook({"Authorization": "Bearer hook-token"}, RAW)
    assert provider.verify_webhook({"X-MyOperator-Token": "hook-token"}, RAW)
    assert not provider.verify_webhook({"Authorization": "Bearer other"}, RAW)
    assert not make("http://unused").verify_webhook({"Authorization": "Bearer hook-token"}, RAW)


def test_parse_status_events_tolerates_misspelling():
    events = parse_webhook(
        {
            "events": [
                {
                    "event": "message.delivered",
                    "message_id": "myop-msg-1",
                    "conversaton_id": "conv-1",
                    "timestamp": 1767225600,
                    "customer_country_code": "91",
                    "customer_number": "9876543210",
                    "phone_number_id": "pn-77",
                    "myop_ref_id": None,
                },
                {
                    "type": "status",
                    "status": "FAILED",
                    "message_id": "myop-msg-2",
                    "timestamp": "2026-01-01T00:00:05Z",
                    "error": {"code": 131026, "title": "Message undeliverable"},
                },
                {"event": "read", "data": {"message_id": "myop-msg-1", "time": "1767225700000"}},
            ]
        }
    )
    delivered, failed, read = events
    assert isinstance(delivered, StatusUpdate) and delivered.status == "delivered"
    assert delivered.conversation == {"id": "conv-1"}
    assert delivered.recipient_id == "919876543210"
    assert delivered.timestamp == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert failed.status == "failed" and failed.errors[0]["code"] == 131026
    assert failed.timestamp == dt.datetime(2026, 1, 1, 0, 0, 5, tzinfo=dt.UTC)
    assert read.status == "read" and read.wamid == "myop-msg-1"
    assert read.timestamp == dt.datetime.fromtimestamp(1767225700, tz=dt.UTC)


def test_parse_inbound_and_unknown():
    events = parse_webhook(
        [
            {
                "event": "incoming_message",
                "message_id": "myop-in-1",
                "customer": {"country_code": "91", "phone": "9876543210", "name": "Asha"},
                "text": "STOP",
                "timestamp": 1767225600,
            },
            {"message_id": "myop-in-2", "from": "919876543210", "body": "hello"},
            {"event": "template.approved", "template_name": "x"},
        ]
    )
    inbound, implicit, unknown = events
    assert isinstance(inbound, InboundMessage)
    assert (inbound.from_wa_id, inbound.text) == ("919876543210", "STOP")
    assert isinstance(implicit, InboundMessage) and implicit.text == "hello"
    assert isinstance(unknown, UnhandledChange) and unknown.value["template_name"] == "x"


@pytest.mark.parametrize("payload", [None, "x", 3, {}, {"events": [None]}, [[]]])
def test_parse_never_raises(payload):
    assert isinstance(parse_webhook(payload), list)


def test_split_number():
    assert split_number("+919876543210") == ("91", "9876543210")
    assert split_number("447700900123") == ("44", "7700900123")
    with pytest.raises(InvalidMessage):
        split_number("+1")
