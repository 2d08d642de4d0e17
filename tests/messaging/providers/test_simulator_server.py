"""The simulator as a real HTTP server: validation, limits, faults, state and signed webhooks."""

from __future__ import annotations

import json
import socketserver
import threading
import time

import pytest
import requests

from messaging.providers.base import (
    InboundMessage,
    OutboundMessage,
    PermanentError,
    StatusUpdate,
    TemplateStatusUpdate,
    UserPreference,
)
from messaging.providers.meta_cloud import parse_webhook, verify_signature
from messaging.providers.simulator import SimulatorConfig, SimulatorServer
from messaging.providers.simulator.webhooks import Job, WebhookDispatcher, build_notification

from .support import APP_SECRET, PHONE_NUMBER_ID, TOKEN, WABA_ID

TO = "919876543210"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def post_message(simulator, body, headers=AUTH, phone_number_id=PHONE_NUMBER_ID):
    return requests.post(
        f"{simulator.url}/v25.0/{phone_number_id}/messages", json=body, headers=headers, timeout=2
    )


def text_body(to=TO, body="hi", **extra):
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"body": body},
        **extra,
    }


def events_from(requests_seen):
    events = []
    for request in requests_seen:
        events.extend(parse_webhook(json.loads(request["body"])))
    return events


def wait_events(receiver, count, timeout=3.0):
    """Events posted so far, once there are at least `count` (statuses may share a POST)."""
    deadline = time.monotonic() + timeout
    while True:
        events = events_from(list(receiver.requests))
        if len(events) >= count:
            return events
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {count} webhook events, got {len(events)}")
        time.sleep(0.01)


# --- control endpoints -----------------------------------------------------------------------


def test_health(simulator):
    assert requests.get(f"{simulator.url}/_sim/health", timeout=2).json() == {"ok": True}


def test_counts_messages_and_reset(simulator, provider):
    for _ in range(2):
        provider.send(OutboundMessage(type="text", to="+" + TO, content={"body": "a"}))
    provider.send(
        OutboundMessage(type="text", to="447700900123", content={"body": "b"}, callback_data="cb-1")
    )
    counts = requests.get(f"{simulator.url}/_sim/counts", timeout=2).json()
    assert counts == {TO: 2, "447700900123": 1}
    messages = requests.get(
        f"{simulator.url}/_sim/messages", params={"to": "447700900123"}, timeout=2
    ).json()
    [message] = messages
    assert message["callback_data"] == "cb-1"
    assert message["type"] == "text" and message["body"] == {"body": "b"}
    assert message["wamid"].startswith("wamid.") and message["time"] > 0
    assert requests.post(f"{simulator.url}/_sim/reset", timeout=2).json() == {"ok": True}
    assert requests.get(f"{simulator.url}/_sim/counts", timeout=2).json() == {}


def test_config_read_merge_and_errors(simulator):
    url = f"{simulator.url}/_sim/config"
    current = requests.get(url, timeout=2).json()
    assert current["access_token"] == "***" and current["app_secret"] == "***"
    merged = requests.post(url, json={"mps": 50, "delays": {"read": 3}}, timeout=2).json()
    assert merged["mps"] == 50
    assert merged["delays"] == {"sent": 0, "delivered": 0, "read": 3}
    assert requests.post(url, json={"nope": 1}, timeout=2).status_code == 400
    assert requests.post(url, json={"fail_mode": "sometimes"}, timeout=2).status_code == 400
    assert requests.post(url, json={"mps": -1}, timeout=2).status_code == 400
    storm = requests.post(url, json={"error_storm": {"code": 131000, "count": 2}}, timeout=2)
    assert storm.json()["error_storm"] == {"code": 131000, "count": 2}


def test_reset_can_restore_config(simulator):
    simulator.configure(mps=5)
    requests.post(f"{simulator.url}/_sim/reset", json={"config": True}, timeout=2)
    assert simulator.config.mps == 0


def test_unknown_control_endpoint(simulator):
    assert requests.get(f"{simulator.url}/_sim/nothing", timeout=2).status_code == 404


# --- validation ------------------------------------------------------------------------------


def assert_graph_error(response, status, code):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["type"] in ("OAuthException", "GraphMethodException")
    assert error["fbtrace_id"]
    return error


def test_error_envelope_shape(simulator):
    body = text_body()
    del body["messaging_product"]
    error = assert_graph_error(post_message(simulator, body), 400, 131008)
    assert error["message"] == "(#131008) Required parameter is missing"
    assert error["error_data"]["messaging_product"] == "whatsapp"
    assert "messaging_product" in error["error_data"]["details"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({**text_body(), "messaging_product": "sms"}, 131009),
        ({k: v for k, v in text_body().items() if k != "to"}, 131008),
        (text_body(to="12ab"), 131009),
        (text_body(body="x" * 4097), 131009),
        ({**text_body(), "type": "hologram", "hologram": {}}, 131051),
        ({**text_body(), "type": "image"}, 131008),
        ({**text_body(), "type": "image", "image": {"caption": "no media"}}, 131008),
        (
            {
                **text_body(),
                "type": "interactive",
                "interactive": {
                    "type": "button",
                    "body": {"text": "Pick"},
                    "action": {
                        "buttons": [
                            {"type": "reply", "reply": {"id": str(i), "title": f"B{i}"}}
                            for i in range(4)
                        ]
                    },
                },
            },
            131009,
        ),
        ({**text_body(), "type": "template", "template": {"name": "hello_world"}}, 131008),
        ({**text_body(), "context": {"message": "wamid"}}, 131009),
        ({**text_body(), "recipient_type": "group"}, 131009),
        ({"messaging_product": "whatsapp", "status": "read"}, 131008),
        ({"messaging_product": "whatsapp", "status": "delivered", "message_id": "w"}, 131009),
        (
            {
                "messaging_product": "whatsapp",
                "status": "read",
                "message_id": "w",
                "typing_indicator": {"type": "audio"},
            },
            131009,
        ),
        (
            {
                "messaging_product": "whatsapp",
                "status": "read",
                "message_id": "w",
                "typing_indicator": True,
            },
            131009,
        ),
    ],
)
def test_bad_bodies_rejected_with_meta_codes(simulator, body, code):
    assert_graph_error(post_message(simulator, body), 400, code)
    assert simulator.counts() == {}


def test_typing_indicators_are_recorded_and_counted_apart_from_read_marks(simulator):
    read = {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.A"}
    typing = {**read, "message_id": "wamid.B", "typing_indicator": {"type": "text"}}
    assert post_message(simulator, read).json() == {"success": True}
    assert post_message(simulator, typing).json() == {"success": True}
    assert requests.get(f"{simulator.url}/_sim/reads", timeout=2).json() == ["wamid.A", "wamid.B"]
    assert requests.get(f"{simulator.url}/_sim/typing", timeout=2).json() == ["wamid.B"]
    assert simulator.typing_indicators() == ["wamid.B"]
    stats = requests.get(f"{simulator.url}/_sim/stats", timeout=2).json()
    assert (stats["read_marks"], stats["typing_indicators"]) == (2, 1)
    assert simulator.counts() == {}  # neither is a message
    simulator.reset()
    assert simulator.typing_indicators() == []


def test_bad_json(simulator):
    response = requests.post(
        f"{simulator.url}/v25.0/{PHONE_NUMBER_ID}/messages", data=b"{", headers=AUTH, timeout=2
    )
    assert_graph_error(response, 400, 100)


def test_token_checked(simulator):
    assert_graph_error(post_message(simulator, text_body(), headers={}), 401, 190)
    wrong = {"Authorization": "bearer " + TOKEN}
    assert_graph_error(post_message(simulator, text_body(), headers=wrong), 401, 190)


def test_unknown_sender_when_numbers_are_configured(simulator):
    simulator.configure(phone_number_ids=[PHONE_NUMBER_ID])
    assert_graph_error(post_message(simulator, text_body(), phone_number_id="999"), 400, 100)
    assert post_message(simulator, text_body()).status_code == 200


def test_unknown_graph_path(simulator):
    response = requests.get(f"{simulator.url}/v25.0/x/y/z", headers=AUTH, timeout=2)
    assert_graph_error(response, 400, 100)


def template_body(name, language="en", components=None):
    template = {"name": name, "language": {"code": language}}
    if components is not None:
        template["components"] = components
    return {**text_body(), "type": "template", "template": template}


def body_params(*values):
    return [{"type": "body", "parameters": [{"type": "text", "text": v} for v in values]}]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (template_body("no_such_template"), 404, 132001),
        (template_body("hello_world", "fr"), 404, 132001),
        (template_body("weekly_portfolio_digest", "hi", body_params("a", "b")), 404, 132001),
        (template_body("advisor_content_drop", "en", body_params("a", "b")), 400, 132015),
        (template_body("account_statement_ready", "en"), 400, 132016),
        (template_body("delivery_delayed", "en", body_params("only one")), 400, 132000),
        (template_body("daily_market_insight", "en", body_params("a", "b")), 400, 132012),
        (
            template_body(
                "payment_received",
                "en",
                [
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "parameter_name": n, "text": "x"}
                            for n in ("customer_name", "amount", "paid_on", "wrong")
                        ],
                    }
                ],
            ),
            400,
            132000,
        ),
    ],
)
def test_strict_template_checks(simulator, body, status, code):
    assert_graph_error(post_message(simulator, body), status, code)


def test_template_accepted_and_lenient_mode(simulator):
    ok = post_message(simulator, template_body("hello_world", "en_US"))
    assert ok.status_code == 200
    assert ok.json()["messages"][0]["message_status"] == "accepted"
    simulator.configure(strict_templates=False)
    assert post_message(simulator, template_body("anything_goes")).status_code == 200


def test_success_response_shape(simulator):
    response = post_message(simulator, text_body(to="+91 98765-43210"))
    data = response.json()
    assert data["messaging_product"] == "whatsapp"
    assert data["contacts"][0]["input"] == "+91 98765-43210"
    assert data["contacts"][0]["wa_id"] == TO
    assert data["messages"][0]["id"].startswith("wamid.")
    assert response.headers["Content-Type"] == "application/json"


def test_wamids_are_unique(simulator, provider):
    message = OutboundMessage(type="text", to=TO, content={"body": "x"})
    ids = {provider.send(message).provider_message_id for _ in range(50)}
    assert len(ids) == 50
    assert simulator.counts() == {TO: 50}


# --- throughput --------------------------------------------------------------------------------


def test_throughput_window_across_numbers(simulator):
    simulator.state.clock = lambda: 1000.0  # the whole test inside one 1-second window
    simulator.configure(mps=5)
    codes = [
        post_message(simulator, text_body(to=f"9198765432{i:02d}")).status_code for i in range(8)
    ]
    assert codes == [200] * 5 + [429] * 3
    response = post_message(simulator, text_body())
    assert_graph_error(response, 429, 130429)
    stats = requests.get(f"{simulator.url}/_sim/stats", timeout=2).json()
    assert stats["accepted"] == 5
    assert stats["rejected_by_code"]["130429"] == 4
    simulator.state.clock = lambda: 1001.5  # the window has moved on
    assert post_message(simulator, text_body()).status_code == 200
    simulator.configure(mps=0)
    assert post_message(simulator, text_body()).status_code == 200


def test_sends_reuse_one_keep_alive_connection(simulator, provider):
    message = OutboundMessage(type="text", to=TO, content={"body": "x"})
    for _ in range(50):
        provider.send(message)
    assert len(simulator._httpd._connections) == 1
    assert simulator.counts() == {TO: 50}


# --- webhooks ----------------------------------------------------------------------------------


def test_status_webhooks_are_signed_and_ordered(simulator, provider, webhook_receiver):
    simulator.configure(delays={"sent": 0, "delivered": 0.05, "read": 0.05})
    result = provider.send(
        OutboundMessage(
            type="template",
            to=TO,
            content={"name": "hello_world", "language": {"code": "en_US"}},
            callback_data="6f1c7a52-msg",
        )
    )
    events = wait_events(webhook_receiver, 3)
    seen = list(webhook_receiver.requests)
    for request in seen:
        assert request["path"] == "/webhooks/whatsapp/"
        assert request["headers"]["Content-Type"] == "application/json"
        assert verify_signature(APP_SECRET, request["headers"], request["body"])
        assert request["headers"]["X-Hub-Signature"].startswith("sha1=")
        payload = json.loads(request["body"])
        assert payload["object"] == "whatsapp_business_account"
        assert payload["entry"][0]["id"] == WABA_ID
        value = payload["entry"][0]["changes"][0]["value"]
        assert value["metadata"] == {
            "display_phone_number": simulator.config.display_phone_number,
            "phone_number_id": PHONE_NUMBER_ID,
        }
    assert [e.status for e in events] == ["sent", "delivered", "read"]
    for event in events:
        assert isinstance(event, StatusUpdate)
        assert event.wamid == result.provider_message_id
        assert event.callback_data == "6f1c7a52-msg"
        assert event.recipient_id == TO
        assert event.pricing == {
            "billable": True,
            "pricing_model": "PMP",
            "category": "utility",
            "type": "regular",
        }
        assert event.conversation["origin"] == {"type": "utility"}
    assert "expiration_timestamp" in events[0].conversation


def test_service_message_pricing_is_free(simulator, provider, webhook_receiver):
    simulator.configure(read_ratio=0)
    provider.send(OutboundMessage(type="text", to=TO, content={"body": "reply"}))
    events = wait_events(webhook_receiver, 2)
    assert [e.status for e in events] == ["sent", "delivered"]
    assert events[0].pricing["category"] == "service"
    assert events[0].pricing["type"] == "free_customer_service"
    assert events[0].pricing["billable"] is False


def test_async_failure_status(simulator, provider, webhook_receiver):
    simulator.configure(fail_numbers={"919800000001": 131026}, fail_mode="async")
    result = provider.send(OutboundMessage(type="text", to="919800000001", content={"body": "x"}))
    [event] = events_from(webhook_receiver.wait_for(1))
    assert event.status == "failed"
    assert event.wamid == result.provider_message_id
    assert event.errors[0]["code"] == 131026
    assert event.errors[0]["title"] == "Message undeliverable"
    assert simulator.counts() == {"919800000001": 1}  # accepted by the API, failed later


def test_per_number_fail_mode(simulator, provider):
    simulator.configure(
        fail_numbers={"919800000002": {"code": 131049, "mode": "sync"}}, fail_mode="async"
    )
    with pytest.raises(PermanentError) as excinfo:
        provider.send(OutboundMessage(type="text", to="919800000002", content={"body": "x"}))
    assert excinfo.value.code == 131049


def test_outside_window_fails_free_form_but_not_templates(simulator, provider, webhook_receiver):
    simulator.configure(outside_window_numbers=["+919800000003"], read_ratio=0)
    provider.send(OutboundMessage(type="text", to="919800000003", content={"body": "x"}))
    [failed] = events_from(webhook_receiver.wait_for(1))
    assert failed.status == "failed" and failed.errors[0]["code"] == 131047
    provider.send(
        OutboundMessage(
            type="template",
            to="919800000003",
            content={"name": "hello_world", "language": {"code": "en_US"}},
        )
    )
    events = wait_events(webhook_receiver, 3)
    assert [e.status for e in events[1:]] == ["sent", "delivered"]


def test_duplicate_statuses(simulator, provider, webhook_receiver):
    simulator.configure(duplicate_statuses=True)
    provider.send(OutboundMessage(type="text", to=TO, content={"body": "x"}))
    assert simulator.wait_webhooks(2)
    events = events_from(webhook_receiver.requests)
    assert sorted(e.status for e in events) == ["delivered"] * 2 + ["read"] * 2 + ["sent"] * 2


def test_reordered_statuses_keep_true_timestamps(simulator, provider, webhook_receiver):
    simulator.configure(reorder_statuses=True, delays={"sent": 0, "delivered": 0.05, "read": 0.05})
    provider.send(OutboundMessage(type="text", to=TO, content={"body": "x"}))
    events = wait_events(webhook_receiver, 3)
    assert [e.status for e in events] == ["read", "delivered", "sent"]


def test_failed_post_is_retried_with_the_same_signed_bytes(simulator, provider, loopback):
    answers = iter([500, 200])
    receiver = loopback(lambda request: (next(answers, 200), {}, b""))
    simulator.configure(
        webhook_url=receiver.url, webhooks=True, read_ratio=0, delays={"delivered": 1}
    )
    provider.send(OutboundMessage(type="text", to=TO, content={"body": "x"}))
    first, second = receiver.wait_for(2)
    assert first["body"] == second["body"]
    assert first["headers"]["X-Hub-Signature-256"] == second["headers"]["X-Hub-Signature-256"]
    deadline = time.monotonic() + 2
    while True:  # the receiver may see the retry before the simulator logs its answer
        log = requests.get(f"{simulator.url}/_sim/webhooks", timeout=2).json()
        if len(log["deliveries"]) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert [d["attempt"] for d in log["deliveries"][:2]] == [1, 2]
    assert log["deliveries"][0]["status"] == 500


def test_webhooks_off_means_no_posts(simulator, provider, webhook_receiver):
    simulator.configure(webhooks=False)
    provider.send(OutboundMessage(type="text", to=TO, content={"body": "x"}))
    assert simulator.wait_webhooks(1)
    assert webhook_receiver.requests == []


def test_dispatcher_batches_due_items():
    posted = []
    config = SimulatorConfig(webhook_url="", max_batch=10)
    dispatcher = WebhookDispatcher(config=lambda: config, on_delivery=posted.append)
    for i in range(25):
        status = {"id": f"wamid.{i}", "status": "sent", "timestamp": "1"}
        dispatcher.schedule(Job("messages", WABA_ID, PHONE_NUMBER_ID, {"statuses": [status]}))
    dispatcher.start()
    try:
        assert dispatcher.wait_idle(2)
    finally:
        dispatcher.stop()
    assert sorted(p["items"] for p in posted) == [5, 10, 10]  # no URL: counted as dropped


class _AnswerOnceThenHangUp(socketserver.BaseRequestHandler):
    """Answers one request as if keeping the connection alive, then closes it: what a
    receiver's idle keep-alive timeout does to a sender that waits before its next post."""

    def handle(self):
        data = b""
        while b"\r\n\r\n" not in data:
            data += self.request.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            body += self.request.recv(65536)
        self.server.bodies.append(body)
        self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


class _CountingServer(socketserver.ThreadingTCPServer):
    """Counts the connections it has closed."""

    def __init__(self, *args):
        super().__init__(*args)
        self.bodies = []
        self.closed = 0

    def shutdown_request(self, request):
        super().shutdown_request(request)
        self.closed += 1


def test_a_sender_reconnects_when_the_receiver_closed_its_kept_alive_connection():
    server = _CountingServer(("127.0.0.1", 0), _AnswerOnceThenHangUp)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    posted = []
    url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/whatsapp/"
    config = SimulatorConfig(webhook_url=url, webhook_concurrency=1, webhook_retries=0)
    dispatcher = WebhookDispatcher(config=lambda: config, on_delivery=posted.append)
    dispatcher.start()
    try:
        for i in range(3):
            status = {"id": f"wamid.{i}", "status": "sent", "timestamp": "1"}
            dispatcher.schedule(Job("messages", WABA_ID, PHONE_NUMBER_ID, {"statuses": [status]}))
            assert dispatcher.wait_idle(5)
            deadline = time.monotonic() + 5
            while server.closed <= i:  # the receiver hangs up before the next post
                assert time.monotonic() < deadline, "the receiver kept the connection"
                time.sleep(0.01)
    finally:
        dispatcher.stop()
        server.shutdown()
        server.server_close()
    assert [p["ok"] for p in posted] == [True, True, True]  # with no retries queued
    assert [json.loads(b)["entry"][0]["changes"][0]["value"]["statuses"][0]["id"]
            for b in server.bodies] == ["wamid.0", "wamid.1", "wamid.2"]  # fmt: skip


def test_build_notification_groups_by_waba_number_and_field():
    jobs = [
        Job("messages", "W1", "P1", {"statuses": [{"id": "a"}]}),
        Job("messages", "W1", "P1", {"statuses": [{"id": "b"}]}),
        Job("messages", "W1", "P2", {"contacts": [{"wa_id": "1"}], "messages": [{"id": "m1"}]}),
        Job("messages", "W1", "P2", {"contacts": [{"wa_id": "1"}], "messages": [{"id": "m2"}]}),
        Job("message_template_status_update", "W2", None, {"event": "APPROVED"}),
    ]
    payload = build_notification(jobs, "15550001111")
    first, second = payload["entry"]
    assert first["id"] == "W1" and len(first["changes"]) == 2
    assert [s["id"] for s in first["changes"][0]["value"]["statuses"]] == ["a", "b"]
    grouped = first["changes"][1]["value"]
    assert len(grouped["contacts"]) == 1 and len(grouped["messages"]) == 2
    assert second == {
        "id": "W2",
        "changes": [{"field": "message_template_status_update", "value": {"event": "APPROVED"}}],
    }


# --- inbound, preferences, template events -------------------------------------------------------


def inbound(simulator, **payload):
    response = requests.post(f"{simulator.url}/_sim/inbound", json=payload, timeout=2)
    assert response.status_code == 200, response.text
    return response.json()


def test_inbound_messages(simulator, webhook_receiver):
    sent = [
        inbound(simulator, **{"from": TO, "text": "Hello", "profile_name": "Asha"}),
        inbound(
            simulator,
            **{"from": TO, "button": {"payload": "UNLOCK_CONTENT", "text": "Unlock"}},
            context_wamid="wamid.CAMPAIGN",
        ),
        inbound(
            simulator,
            **{
                "from": TO,
                "interactive": {"type": "list_reply", "list_reply": {"id": "r1", "title": "Gold"}},
            },
        ),
        inbound(simulator, bsuid="US.13491208655302741918", text="username user"),
        inbound(simulator, **{"from": TO, "reaction": {"message_id": "wamid.X", "emoji": ""}}),
        inbound(
            simulator, **{"from": TO, "message": {"type": "order", "order": {"catalog_id": "1"}}}
        ),
    ]
    assert all(s["scheduled"] for s in sent)
    assert simulator.wait_webhooks(2)
    for request in webhook_receiver.requests:
        assert verify_signature(APP_SECRET, request["headers"], request["body"])
    events = {e.wamid: e for e in events_from(webhook_receiver.requests)}
    assert len(events) == 6
    text, button, row, bsuid, reaction, order = (events[s["wamid"]] for s in sent)
    assert all(isinstance(e, InboundMessage) for e in events.values())
    assert (text.text, text.profile_name, text.from_wa_id) == ("Hello", "Asha", TO)
    assert text.from_bsuid and text.from_bsuid.startswith("IN.")
    assert button.reply_id == "UNLOCK_CONTENT" and button.context_wamid == "wamid.CAMPAIGN"
    assert row.reply_id == "r1"
    assert (bsuid.from_wa_id, bsuid.from_bsuid) == (None, "US.13491208655302741918")
    assert reaction.content == {"message_id": "wamid.X", "emoji": ""}
    assert order.type == "order" and order.content == {"catalog_id": "1"}


def test_inbound_requires_a_sender(simulator):
    response = requests.post(f"{simulator.url}/_sim/inbound", json={"text": "x"}, timeout=2)
    assert response.status_code == 400


def test_user_preferences_webhook(simulator, webhook_receiver):
    requests.post(
        f"{simulator.url}/_sim/user_preferences", json={"from": TO, "value": "stop"}, timeout=2
    )
    [event] = events_from(webhook_receiver.wait_for(1))
    assert isinstance(event, UserPreference)
    assert (event.wa_id, event.value, event.category) == (TO, "stop", "marketing_messages")
    assert event.channel_key == PHONE_NUMBER_ID


def test_template_status_webhook_updates_library(simulator, provider, webhook_receiver):
    requests.post(
        f"{simulator.url}/_sim/template_status",
        json={
            "name": "hello_world",
            "language": "en_US",
            "event": "PAUSED",
            "reason": "LOW_QUALITY",
        },
        timeout=2,
    )
    [event] = events_from(webhook_receiver.wait_for(1))
    assert isinstance(event, TemplateStatusUpdate)
    assert (event.name, event.status, event.reason) == ("hello_world", "PAUSED", "LOW_QUALITY")
    assert event.external_id == "1100000000000001" and event.category == "UTILITY"
    with pytest.raises(PermanentError) as excinfo:
        provider.send(
            OutboundMessage(
                type="template",
                to=TO,
                content={"name": "hello_world", "language": {"code": "en_US"}},
            )
        )
    assert excinfo.value.code == 132015


# --- lifecycle -----------------------------------------------------------------------------------


def test_stop_is_prompt_with_idle_keep_alive_connections():
    sim = SimulatorServer(config={"webhooks": False}).start()
    session = requests.Session()
    assert session.get(f"{sim.url}/_sim/health", timeout=2).ok
    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 1.5
    with pytest.raises(requests.ConnectionError):
        session.get(f"{sim.url}/_sim/health", timeout=1)


def test_context_manager_and_port_zero():
    with SimulatorServer() as first, SimulatorServer() as second:
        assert first.port != second.port
        assert requests.get(f"{first.url}/_sim/health", timeout=2).ok


def test_bad_config_rejected_at_construction():
    with pytest.raises(ValueError, match="unknown config key"):
        SimulatorServer(config={"colour": "blue"})
