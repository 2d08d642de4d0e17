"""Every failure a send can meet, mapped to the error class that tells the caller what to do."""

from __future__ import annotations

import json
import socket
import time

import pytest
import requests

from messaging.providers.base import (
    AmbiguousError,
    AuthError,
    InvalidMessage,
    OutboundMessage,
    PermanentError,
    TemporaryError,
)
from messaging.providers.meta_cloud import classify, error_from_response

from .support import json_answer, make_provider

TO = "919876543210"


def text(to: str = TO, body: str = "hello") -> OutboundMessage:
    return OutboundMessage(type="text", to=to, content={"body": body})


def graph_error(code: int, details: str = "d") -> bytes:
    return json.dumps(
        {
            "error": {
                "message": f"(#{code}) Title for {code}",
                "type": "OAuthException",
                "code": code,
                "error_data": {"messaging_product": "whatsapp", "details": details},
                "fbtrace_id": "AbC",
            }
        }
    ).encode()


@pytest.mark.parametrize("code", [0, 190, 3, 10, 200, 250, 299, 131005])
def test_auth_codes(code):
    assert isinstance(error_from_response(400, graph_error(code)), AuthError)


@pytest.mark.parametrize("code", [4, 80007, 130429, 131000, 131016, 131053, 131056, 131057, 1, 2])
def test_temporary_codes(code):
    assert isinstance(error_from_response(400, graph_error(code)), TemporaryError)


@pytest.mark.parametrize(
    "code", [100, 131008, 131009, 131021, 131026, 131047, 131049, 131050, 132000, 132015, 368]
)
def test_permanent_codes_keep_code_title_and_details(code):
    error = error_from_response(400, graph_error(code, details="why it failed"))
    assert type(error) is PermanentError
    assert error.code == code
    assert error.title == f"Title for {code}"
    assert error.detail == "why it failed"
    assert error.http_status == 400
    assert error.raw["error"]["fbtrace_id"] == "AbC"


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (429, b"", TemporaryError),
        (500, b"{}", TemporaryError),
        (502, b"<html>Bad Gateway</html>", TemporaryError),
        (503, b"not json", TemporaryError),
        (401, b"", AuthError),
        (403, b"<html>denied</html>", AuthError),
        (400, b"garbage", PermanentError),
        (404, b'{"error": "flat string"}', PermanentError),
    ],
)
def test_http_status_fallback_without_graph_body(status, body, cls):
    error = error_from_response(status, body)
    assert type(error) is cls
    assert error.http_status == status


def test_retry_after_hints_and_header():
    assert error_from_response(429, graph_error(130429)).retry_after == 1.0
    assert error_from_response(400, graph_error(131056)).retry_after == 6.0
    assert error_from_response(429, graph_error(130429), retry_after=7).retry_after == 7
    assert classify(code=None, http_status=503, message="x").retry_after is None


# --- against the simulator -----------------------------------------------------------------


def test_sync_failure_for_unknown_number(simulator, provider):
    simulator.configure(fail_numbers={"+91 98000 00001": 131026})
    with pytest.raises(PermanentError) as excinfo:
        provider.send(text("919800000001"))
    assert excinfo.value.code == 131026
    assert excinfo.value.title == "Message undeliverable"
    assert "919800000001" in excinfo.value.detail
    assert simulator.counts() == {}
    provider.send(text())  # other numbers unaffected
    assert simulator.counts() == {TO: 1}


def test_error_storm_then_recovery(simulator, provider):
    simulator.configure(error_storm={"code": 130429, "count": 2})
    for _ in range(2):
        with pytest.raises(TemporaryError) as excinfo:
            provider.send(text())
        assert excinfo.value.code == 130429
        assert excinfo.value.http_status == 429
    assert provider.send(text()).provider_message_id
    assert simulator.counts() == {TO: 1}


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_error_storm_is_temporary(simulator, provider, status):
    simulator.configure(error_storm={"code": status, "count": 1})
    with pytest.raises(TemporaryError) as excinfo:
        provider.send(text())
    assert excinfo.value.http_status == status


def test_storm_of_auth_errors(simulator, provider):
    simulator.configure(error_storm={"code": 131005, "count": 1})
    with pytest.raises(AuthError):
        provider.send(text())


def test_wrong_token_is_auth_error(simulator):
    provider = make_provider(simulator.url, access_token="expired")
    with pytest.raises(AuthError) as excinfo:
        provider.send(text())
    assert excinfo.value.code == 190
    assert excinfo.value.http_status == 401
    assert "expired" not in str(excinfo.value)


def test_throughput_limit_gives_130429(simulator, provider):
    simulator.configure(mps=3)
    for i in range(3):
        provider.send(text(f"91987654321{i}"))
    with pytest.raises(TemporaryError) as excinfo:
        provider.send(text("919876543219"))
    assert excinfo.value.code == 130429
    assert excinfo.value.retry_after == 1.0
    assert sum(simulator.counts().values()) == 3


def test_invalid_message_never_reaches_the_network(simulator, provider):
    with pytest.raises(InvalidMessage):
        provider.send(text(body="x" * 4097))
    stats = requests.get(f"{simulator.url}/_sim/stats", timeout=2).json()
    assert stats.get("accepted", 0) == 0 and stats.get("rejected", 0) == 0


def test_read_timeout_after_acceptance_is_ambiguous(simulator):
    simulator.configure(hang_next=1, hang_seconds=2)
    provider = make_provider(simulator.url, timeout=(1.0, 0.2))
    started = time.monotonic()
    with pytest.raises(AmbiguousError):
        provider.send(text())
    assert time.monotonic() - started < 1.5
    # The simulator did accept it: a blind resend would be a duplicate.
    assert simulator.counts() == {TO: 1}
    assert provider.send(text()).provider_message_id  # the next call is answered normally


def test_hang_numbers_only_hang_that_recipient(simulator):
    simulator.configure(hang_numbers=["919800000009"], hang_seconds=2)
    provider = make_provider(simulator.url, timeout=(1.0, 0.2))
    with pytest.raises(AmbiguousError):
        provider.send(text("919800000009"))
    assert provider.send(text()).provider_message_id


def test_connection_refused_is_temporary():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = make_provider(f"http://127.0.0.1:{port}")
    with pytest.raises(TemporaryError) as excinfo:
        provider.send(text())
    assert "connect" in str(excinfo.value)


def test_connection_dropped_after_request_is_ambiguous(loopback):
    server = loopback(lambda request: None)
    with pytest.raises(AmbiguousError):
        make_provider(server.url).send(text())
    assert len(server.requests) == 1


def test_unreadable_success_body_is_ambiguous(loopback):
    server = loopback(lambda request: (200, {"Content-Type": "application/json"}, b"{oops"))
    with pytest.raises(AmbiguousError):
        make_provider(server.url).send(text())


def test_success_without_message_id_is_ambiguous(loopback):
    server = loopback(lambda request: json_answer({"messaging_product": "whatsapp"}))
    with pytest.raises(AmbiguousError):
        make_provider(server.url).send(text())


def test_read_timeout_on_a_read_is_temporary(loopback):
    def slow(request):
        time.sleep(0.5)
        return json_answer({"data": []})

    server = loopback(slow)
    provider = make_provider(server.url, timeout=(1.0, 0.15))
    with pytest.raises(TemporaryError):
        list(provider.list_templates())


def test_secrets_never_logged(simulator, caplog):
    caplog.set_level("DEBUG")
    provider = make_provider(simulator.url)
    provider.send(text())
    simulator.configure(error_storm={"code": 131000, "count": 1})
    with pytest.raises(TemporaryError):
        provider.send(text())
    list(provider.list_templates(page_size=5))
    assert caplog.records
    for record in caplog.records:
        line = record.getMessage()
        assert "test-access-token" not in line
        assert "test-app-secret" not in line
