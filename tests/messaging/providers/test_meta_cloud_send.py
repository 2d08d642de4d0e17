"""Meta Cloud API request bodies, checked as built and as received by the simulator."""

from __future__ import annotations

import json

import pytest
import requests

from messaging.providers.base import OutboundMessage
from messaging.providers.meta_cloud import mark_read_body, message_body

from .support import json_answer, make_provider

TO = "+919876543210"
WA_ID = "919876543210"


def out(kind: str, content: dict, **kwargs) -> OutboundMessage:
    kwargs.setdefault("to", TO)
    return OutboundMessage(type=kind, content=content, **kwargs)


ORDER_TEMPLATE = {
    "name": "order_confirmation",
    "language": {"code": "en", "policy": "deterministic"},
    "components": [
        {"type": "header", "parameters": [{"type": "text", "text": "#40321"}]},
        {
            "type": "body",
            "parameters": [
                {"type": "text", "text": "Asha"},
                {"type": "text", "text": "#40321"},
                {
                    "type": "currency",
                    "currency": {
                        "fallback_value": "₹1,499.00",
                        "code": "INR",
                        "amount_1000": 1499000,
                    },
                },
                {"type": "date_time", "date_time": {"fallback_value": "Friday 14 March"}},
            ],
        },
        {
            "type": "button",
            "sub_type": "url",
            "index": "0",
            "parameters": [{"type": "text", "text": "40321"}],
        },
    ],
}
INSIGHT_TEMPLATE = {
    "name": "daily_market_insight",
    "language": {"code": "en"},
    "components": [
        {
            "type": "header",
            "parameters": [
                {"type": "image", "image": {"link": "https://cdn.example.com/chart.png"}}
            ],
        },
        {
            "type": "body",
            "parameters": [
                {"type": "text", "text": "Ravi"},
                {"type": "text", "text": "Mid-caps rallied"},
            ],
        },
        {
            "type": "button",
            "sub_type": "quick_reply",
            "index": "0",
            "parameters": [{"type": "payload", "payload": "UNLOCK_CONTENT"}],
        },
        {
            "type": "button",
            "sub_type": "quick_reply",
            "index": "1",
            "parameters": [{"type": "payload", "payload": "STOP_PROMOTIONS"}],
        },
    ],
}
NAMED_TEMPLATE = {
    "name": "payment_received",
    "language": {"code": "en"},
    "components": [
        {
            "type": "body",
            "parameters": [
                {"type": "text", "parameter_name": "customer_name", "text": "Asha"},
                {"type": "text", "parameter_name": "amount", "text": "₹1,499.00"},
                {"type": "text", "parameter_name": "paid_on", "text": "12 March"},
                {"type": "text", "parameter_name": "reference", "text": "PAY-77812"},
            ],
        }
    ],
}
BUTTONS = {
    "type": "button",
    "header": {"type": "text", "text": "Your order"},
    "body": {"text": "Is the new delivery date fine?"},
    "footer": {"text": "Parley"},
    "action": {
        "buttons": [
            {"type": "reply", "reply": {"id": "date-ok", "title": "That works"}},
            {"type": "reply", "reply": {"id": "date-call", "title": "Call me"}},
            {"type": "reply", "reply": {"id": "date-cancel", "title": "Cancel order"}},
        ]
    },
}
LIST = {
    "type": "list",
    "body": {"text": "Pick a plan"},
    "action": {
        "button": "See plans",
        "sections": [
            {
                "title": "Monthly",
                "rows": [
                    {"id": "m-basic", "title": "Basic", "description": "₹99 a month"},
                    {"id": "m-gold", "title": "Gold", "description": "₹299 a month"},
                ],
            },
            {"title": "Yearly", "rows": [{"id": "y-gold", "title": "Gold yearly"}]},
        ],
    },
}

CASES = {
    "text with preview and context": out(
        "text",
        {"body": "See https://parley.example/r/1", "preview_url": True},
        context_wamid="wamid.INBOUND1",
        callback_data="5b7f0d1e-8f0e-4a43-9e0f-3c1d2b7a9e10",
    ),
    "template positional with currency, date_time and url button": out("template", ORDER_TEMPLATE),
    "template image header and quick replies": out("template", INSIGHT_TEMPLATE),
    "template named parameters": out("template", NAMED_TEMPLATE),
    "image by link": out("image", {"link": "https://cdn.example.com/a.png", "caption": "Chart"}),
    "image by id": out("image", {"id": "1450000000000001"}),
    "document by link": out(
        "document",
        {"link": "https://cdn.example.com/r.pdf", "filename": "report.pdf", "caption": "Report"},
    ),
    "video by id": out("video", {"id": "1450000000000002", "caption": "Walkthrough"}),
    "audio by link": out("audio", {"link": "https://cdn.example.com/note.ogg"}),
    "sticker by id": out("sticker", {"id": "1450000000000003"}),
    "interactive buttons": out("interactive", BUTTONS),
    "interactive list": out("interactive", LIST),
    "location": out("location", {"latitude": 12.971598, "longitude": 77.594562, "name": "Park"}),
    "reaction": out("reaction", {"message_id": "wamid.INBOUND1", "emoji": "👍"}),
    "contacts": out(
        "contacts",
        {"contacts": [{"name": {"formatted_name": "Dev Patel"}, "phones": [{"phone": "+9198"}]}]},
    ),
}


def test_mark_read_body_with_typing_indicator():
    assert mark_read_body("wamid.X", typing=True) == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.X",
        "typing_indicator": {"type": "text"},
    }


@pytest.mark.parametrize("name", list(CASES))
def test_body_is_the_documented_envelope(name):
    message = CASES[name]
    body = message_body(message)
    assert body["messaging_product"] == "whatsapp"
    assert body["recipient_type"] == "individual"
    assert body["to"] == WA_ID
    assert "recipient" not in body
    assert body["type"] == message.type
    if message.type == "contacts":
        assert body["contacts"] == message.content["contacts"]
    else:
        assert body[message.type] == message.content
        assert body[message.type] is not message.content  # a copy, never the caller's dict


def test_text_body_exact():
    assert message_body(CASES["text with preview and context"]) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": WA_ID,
        "type": "text",
        "text": {"body": "See https://parley.example/r/1", "preview_url": True},
        "context": {"message_id": "wamid.INBOUND1"},
        "biz_opaque_callback_data": "5b7f0d1e-8f0e-4a43-9e0f-3c1d2b7a9e10",
    }


def test_bsuid_recipient_uses_recipient_field():
    body = message_body(
        OutboundMessage(
            type="text", content={"body": "hi"}, recipient_bsuid="US.13491208655302741918"
        )
    )
    assert body["recipient"] == "US.13491208655302741918"
    assert "to" not in body


def test_mark_read_body():
    assert mark_read_body("wamid.X") == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.X",
    }


@pytest.mark.parametrize("name", list(CASES))
def test_simulator_accepts_each_shape_and_records_it(name, provider, simulator):
    message = CASES[name]
    result = provider.send(message)
    assert result.provider_message_id.startswith("wamid.")
    assert result.wa_id == WA_ID
    assert result.user_id and result.user_id.startswith("IN.")
    [recorded] = simulator.messages()
    assert recorded["wamid"] == result.provider_message_id
    assert recorded["to"] == WA_ID
    assert recorded["type"] == message.type
    expected = message.content["contacts"] if message.type == "contacts" else message.content
    assert recorded["body"] == expected
    assert recorded["context_wamid"] == message.context_wamid
    assert recorded["callback_data"] == message.callback_data
    assert simulator.counts() == {WA_ID: 1}


def test_template_send_reports_accepted_status(provider):
    result = provider.send(CASES["template named parameters"])
    assert result.message_status == "accepted"


def test_bsuid_send_through_simulator(provider, simulator):
    result = provider.send(
        OutboundMessage(
            type="text", content={"body": "hi"}, recipient_bsuid="US.13491208655302741918"
        )
    )
    assert result.wa_id is None
    assert result.user_id == "US.13491208655302741918"
    assert simulator.counts() == {"US.13491208655302741918": 1}


def test_mark_read_through_simulator(provider, simulator):
    provider.mark_read("wamid.INBOUND1")
    reads = requests.get(f"{simulator.url}/_sim/reads", timeout=2).json()
    assert reads == ["wamid.INBOUND1"]
    assert simulator.counts() == {}


def test_typing_indicator_through_simulator(provider, simulator):
    provider.mark_read("wamid.INBOUND1")
    provider.mark_read("wamid.INBOUND2", typing=True)
    assert list(simulator.state.read_marks) == ["wamid.INBOUND1", "wamid.INBOUND2"]
    assert simulator.typing_indicators() == ["wamid.INBOUND2"]
    assert simulator.counts() == {}


def test_send_carries_bearer_token_and_json(loopback):
    server = loopback(
        lambda request: json_answer(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": WA_ID, "wa_id": WA_ID}],
                "messages": [{"id": "wamid.OK", "message_status": "held_for_quality_assessment"}],
            }
        )
    )
    result = make_provider(server.url, api_version="v25.0").send(CASES["image by id"])
    [request] = server.requests
    assert request["path"] == "/v25.0/200000000000001/messages"
    assert request["headers"]["Authorization"] == "Bearer test-access-token"
    assert request["headers"]["Content-Type"] == "application/json"
    assert json.loads(request["body"]) == message_body(CASES["image by id"])
    assert result.message_status == "held_for_quality_assessment"
