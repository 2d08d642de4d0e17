"""The production web server under clients that misbehave (RELIABILITY.md, scenarios 12, 13).

The real server (`gunicorn -c config/gunicorn.py`: uvicorn workers, the lean webhook intake
with group commit, Django behind a body buffer) on the test PostgreSQL database.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
import requests

from messaging.models import WebhookEvent
from messaging.providers.meta_cloud import signature_for
from tests.factories import ChannelFactory
from tests.integration.conftest import test_database_url as database_url
from tests.integration.conftest import wait_for
from tests.integration.faults import WebProcess
from tests.messaging.webhooks.support import status, statuses_payload

APP_SECRET = "server-app-secret"


def status_body(channel, n: int) -> bytes:
    item = status(f"wamid.server-{n}", "delivered", 1767225600)
    number = {"waba_id": channel.waba_id, "phone_number_id": channel.phone_number_id}
    payload = statuses_payload(item, **number)
    return json.dumps(payload).encode()


def signed_headers(body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": signature_for(APP_SECRET, body),
    }


@pytest.fixture
def channel(transactional_db):
    return ChannelFactory()  # before the server starts, which reads the numbers as it warms up


@pytest.fixture
def web(channel):
    server = WebProcess(
        "intake-server",
        database_url=database_url(),
        extra_env={
            "WHATSAPP_APP_SECRET": APP_SECRET,
            "WEBHOOK_BODY_TIMEOUT_SECONDS": "3",
            "WEB_BODY_IDLE_SECONDS": "3",
            "CELERY_TASK_ALWAYS_EAGER": "0",
        },
        workers=2,
    )
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def stalled_client(port: int, path: str) -> socket.socket:
    """A client that declares a 1,000-byte body, sends one byte and stalls."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n{".encode()
    )
    return sock


def accept_queue(port: int) -> int:
    """Connections the kernel holds for the server listening on `port` that no worker has
    accepted yet (the listening socket's receive queue, /proc/net/tcp)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # LISTEN
            return int(fields[4].split(":")[1], 16)
    raise AssertionError(f"nothing listens on port {port}")


def test_slow_clients_cost_connections_not_workers(web, channel):
    """Scenario 12. Forty clients (twenty per worker, more than any thread pool) declare a
    body and send one byte, on the webhook path and on Django's. Meanwhile /healthz and a
    signed webhook are answered at once; each stalled client is answered 408 at its deadline."""
    port = int(web.url.rsplit(":", 1)[1])
    stalled = [
        stalled_client(port, "/webhooks/whatsapp/" if n % 2 else "/api/v1/contacts/")
        for n in range(40)
    ]
    try:
        wait_for(lambda: accept_queue(port) == 0, timeout=10)  # each one is a worker's now
        started = time.monotonic()
        health = requests.get(web.url + "/healthz", timeout=5)
        body = status_body(channel, 1)
        webhook = requests.post(
            web.url + "/webhooks/whatsapp/", data=body, headers=signed_headers(body), timeout=5
        )
        answered_in = time.monotonic() - started
        assert health.status_code in (200, 503)  # answered (its checks are its own business)
        assert webhook.status_code == 200
        assert answered_in < 2.0, answered_in
        assert WebhookEvent.objects.filter(body=body.decode()).count() == 1

        for sock in stalled:
            sock.settimeout(10)
        answers = [sock.recv(200).split(b"\r\n", 1)[0] for sock in stalled]
        assert set(answers) == {b"HTTP/1.1 408 Request Timeout"}, set(answers)
    finally:
        for sock in stalled:
            sock.close()


def test_a_web_process_killed_mid_batch_loses_no_answered_webhook(web, channel):
    """Scenario 13. Eight clients post distinct signed webhooks without pause while a worker
    is killed (SIGKILL) three times. Requests in flight on the killed worker fail (the
    client sees the connection drop, and Meta would retry); every webhook answered 200 is
    stored."""
    answered: list[bytes] = []
    dropped: list[bytes] = []
    stop = threading.Event()
    lock = threading.Lock()
    counter = iter(range(10_000_000))

    def client() -> None:
        session = requests.Session()
        session.trust_env = False
        while not stop.is_set():
            with lock:
                body = status_body(channel, next(counter))
            try:
                response = session.post(
                    web.url + "/webhooks/whatsapp/",
                    data=body,
                    headers=signed_headers(body),
                    timeout=10,
                )
            except requests.RequestException:
                with lock:
                    dropped.append(body)
                session = requests.Session()
                session.trust_env = False
                continue
            if response.status_code == 200:
                with lock:
                    answered.append(body)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()

    def serving(more: int = 50):
        """Until the clients have had `more` answers: the server (and a replaced worker) is
        busy, so the next kill lands on requests in flight."""
        with lock:
            target = len(answered) + more
        wait_for(lambda: len(answered) >= target, timeout=60)

    try:
        for _ in range(3):
            serving()
            victim = web.worker_pids()[0]
            os.kill(victim, signal.SIGKILL)
        serving()  # and it recovers
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)

    assert len(answered) > 100
    assert dropped, "no request was in flight on a killed worker; the kill proved nothing"
    stored = set(WebhookEvent.objects.values_list("body", flat=True))
    missing = [body for body in answered if body.decode() not in stored]
    assert not missing, f"{len(missing)} webhooks answered 200 are not stored"
