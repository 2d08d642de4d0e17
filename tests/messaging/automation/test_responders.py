"""Responders: the FAQ scorer, and the AI responder against a loopback fake of an
OpenAI-compatible chat completions endpoint (success, timeout, 500, bad JSON, and more)."""

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from messaging.automation.responders import Answer, responders_active
from messaging.automation.responders.ai import AiResponder
from messaging.automation.responders.faq import (
    FaqResponder,
    entry_score,
    faq_best_match,
    stem,
    tokens,
)
from messaging.automation.services import autoreply_process
from tests.factories import ChannelFactory, FaqEntryFactory
from tests.messaging.inbox.support import inbound

pytestmark = pytest.mark.django_db

API_KEY = "sk-test-secret-key-123"


# --- FAQ -------------------------------------------------------------------------------------


@pytest.fixture
def faq(db):
    return [
        FaqEntryFactory(
            question="How long does delivery take?",
            topic="delivery",
            keywords="delivery, shipping, arrive, dispatch",
            answer="2-3 days.",
        ),
        FaqEntryFactory(
            question="How do I return an item?",
            topic="returns",
            keywords="return, refund, exchange, damaged",
            answer="Within 15 days.",
        ),
        FaqEntryFactory(
            question="Which payment methods do you accept?",
            topic="payment",
            keywords="payment, pay, upi, card, cash on delivery",
            answer="UPI, cards.",
        ),
        FaqEntryFactory(
            question="What are your store hours?",
            topic="store hours",
            keywords="store hours, timings, open",
            answer="10 to 9.",
        ),
        FaqEntryFactory(
            question="Old entry", topic="old", keywords="refund", answer="Disabled.", enabled=False
        ),
    ]


def test_normalisation_and_stems():
    assert stem("deliveries") == stem("delivery") == stem("delivered") == "deliver"
    assert stem("shipping") == stem("ships") == "ship"
    assert stem("address") == "address" and stem("status") == "status"
    assert tokens("When will my ORDER arrive?!") == ["order", "arriv"]
    assert tokens("Café délivery") == ["caf", "deliver"]


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("When will my order arrive?", "delivery"),
        ("is shipping free", "delivery"),
        ("I want a refund for a damaged shirt", "returns"),
        ("can i pay by UPI", "payment"),
        ("do you take cash on delivery", "payment"),
        ("what are your timings", "store hours"),
        ("How long does delivery take", "delivery"),
    ],
)
def test_faq_answers_the_best_match(faq, question, topic):
    answer = FaqResponder(threshold=0.5).answer(question)
    assert answer is not None and answer.topic == topic
    assert 0.5 <= answer.confidence <= 1


@pytest.mark.parametrize("question", ["hello", "Do you sell gift cards?", "", "!!!", "ok thanks"])
def test_faq_leaves_the_rest_for_an_agent(faq, question):
    assert FaqResponder(threshold=0.5).answer(question) is None


def test_threshold_setting_and_disabled_entries(faq, settings):
    match = faq_best_match("refund")
    assert match.entry.topic == "returns"  # the disabled entry never competes
    settings.FAQ_MATCH_THRESHOLD = 0.99
    assert FaqResponder().answer("can i get a refund maybe later") is None
    settings.FAQ_MATCH_THRESHOLD = 0.3
    assert FaqResponder().answer("can i get a refund maybe later").topic == "returns"


def test_scores_prefer_more_keyword_hits():
    words = tokens("refund for damaged item")
    two, hits = entry_score(words, question="", keywords="refund, damaged")
    one, _ = entry_score(words, question="", keywords="refund")
    assert hits == 2 and two > one


# --- A loopback fake of an OpenAI-compatible endpoint ---------------------------------------


class FakeAi:
    """`http.server` on 127.0.0.1, port 0, in a thread. `mode` decides the answer."""

    def __init__(self):
        self.mode = "ok"
        self.reply = {
            "answer": "Delivery takes 2-3 days.",
            "topic": "Delivery",
            "confidence": 0.9,
            "handoff": False,
        }
        self.requests = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                fake.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": json.loads(self.rfile.read(length)),
                    }
                )
                if fake.mode == "slow":
                    time.sleep(2)
                if fake.mode == "trickle":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    for _ in range(20):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(0.1)
                    return
                if fake.mode == "500":
                    return self._send(500, b'{"error": {"message": "boom"}}')
                if fake.mode == "redirect":
                    self.send_response(302)
                    self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if fake.mode == "bad_json":
                    return self._send(200, b"<html>not json</html>")
                content = fake.reply if fake.mode != "plain" else "Delivery takes 2-3 days."
                body = {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {
                                "role": "assistant",
                                "content": content
                                if isinstance(content, str)
                                else json.dumps(content),
                            },
                        }
                    ],
                }
                return self._send(200, json.dumps(body).encode())

            def _send(self, status, payload):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/chat/completions"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_ai(settings):
    fake = FakeAi()
    settings.AI_RESPONDER_ENABLED = True
    settings.AI_RESPONDER_URL = fake.url
    settings.AI_RESPONDER_API_KEY = API_KEY
    settings.AI_RESPONDER_MODEL = "test-model"
    settings.AI_RESPONDER_TIMEOUT = 1.0
    settings.AI_RESPONDER_MIN_CONFIDENCE = 0.6
    yield fake
    fake.stop()


def test_ai_answers_with_the_configured_model_key_and_facts(fake_ai, faq):
    answer = AiResponder().answer("when does my parcel come?", None)
    assert answer == Answer(text="Delivery takes 2-3 days.", topic="delivery", confidence=0.9)
    (request,) = fake_ai.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == f"Bearer {API_KEY}"
    body = request["body"]
    assert body["model"] == "test-model"
    assert body["messages"][-1] == {"role": "user", "content": "when does my parcel come?"}
    assert "How long does delivery take?" in body["messages"][0]["content"]  # FAQ facts
    assert "Disabled." not in body["messages"][0]["content"]


def test_ai_timeout_leaves_it_for_an_agent(fake_ai, caplog):
    fake_ai.mode = "slow"
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        assert AiResponder().answer("hello?", None) is None
    assert time.monotonic() - started < 1.9
    assert "failed" in caplog.text and API_KEY not in caplog.text


def test_ai_total_deadline_holds_against_a_trickling_server(fake_ai):
    fake_ai.mode = "trickle"
    started = time.monotonic()
    assert AiResponder().answer("hello?", None) is None
    assert time.monotonic() - started < 1.6


@pytest.mark.parametrize("mode", ["500", "bad_json", "plain", "redirect"])
def test_ai_errors_and_unreadable_answers_leave_it_for_an_agent(fake_ai, mode, caplog):
    fake_ai.mode = mode
    with caplog.at_level(logging.INFO):
        assert AiResponder().answer("hello?", None) is None
    assert API_KEY not in caplog.text
    assert len(fake_ai.requests) == 1  # the redirect was not followed


@pytest.mark.parametrize(
    "reply",
    [
        {"answer": "Maybe.", "topic": "x", "confidence": 0.3, "handoff": False},
        {"answer": "Let me get someone.", "topic": "x", "confidence": 0.95, "handoff": True},
        {"answer": "", "topic": "x", "confidence": 0.95},
        {"topic": "x", "confidence": "high"},
        ["not", "an", "object"],
    ],
)
def test_ai_unsure_or_handoff_answers_are_not_sent(fake_ai, reply):
    fake_ai.reply = reply
    assert AiResponder().answer("hello?", None) is None


def test_ai_is_off_by_default_and_never_called_without_a_url(settings):
    assert settings.AI_RESPONDER_ENABLED is False
    assert [r.name for r in responders_active()] == ["faq"]
    settings.AI_RESPONDER_URL = ""
    assert AiResponder().answer("hello", None) is None
    assert "sk-" not in repr(AiResponder(api_key=API_KEY))


def test_ai_connection_refused_leaves_it_for_an_agent(settings):
    fake = FakeAi()
    url = fake.url
    fake.stop()
    assert AiResponder(url=url, api_key=API_KEY, timeout=1).answer("hello", None) is None


def test_ai_answers_after_the_faq_declined_and_is_recorded(fake_ai, faq, settings):
    ChannelFactory()
    settings.OFFICE_HOURS = ""
    message = inbound(body="Do you sell gift cards?")
    (faq_run, ai_run) = autoreply_process(message_id=message.pk)
    assert (faq_run.rule_key, faq_run.outcome) == ("responder:faq", "no_answer")
    assert (ai_run.rule_key, ai_run.outcome) == ("responder:ai", "sent")
    answer = ai_run.reply.automated_answer
    assert (answer.responder, answer.topic, answer.confidence) == ("ai", "delivery", 0.9)
    assert ai_run.reply.content["body"] == "Delivery takes 2-3 days."


def test_ai_failure_records_no_answer(fake_ai, settings):
    ChannelFactory()
    fake_ai.mode = "500"
    message = inbound(body="Do you sell gift cards?")
    runs = autoreply_process(message_id=message.pk)
    assert [(r.rule_key, r.outcome) for r in runs] == [
        ("responder:faq", "no_answer"),
        ("responder:ai", "no_answer"),
    ]
