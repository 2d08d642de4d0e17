"""Fault-injection helpers for the reliability scenarios (RELIABILITY.md).

* `TcpProxy`: a loopback TCP forwarder in front of PostgreSQL or Redis that a test can cut
  (every connection closed, new ones refused: a stopped server) and restore, or make lose the
  answer to one statement (the statement runs and commits, the client never hears back).
* `WebProcess`: the intake as a real gunicorn process, so a database cut hits a web server
  the way it would in production, not a test client sharing the test's connection.
* `campaign_build`: a campaign over many contacts, written in bulk.
* `drive`: the loop beat would run (sweeper every tick) until a condition holds.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
from django.utils import timezone

from crm.models import Contact, Tag
from messaging.models import Campaign, MessageTemplate
from tests.integration.conftest import ROOT, test_database_url

DELAYED_MAPPING = {
    "body": [
        {"source": "field", "value": "name"},
        {"source": "constant", "value": "#1"},
        {"source": "constant", "value": "Monday"},
    ]
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- A database you can unplug ------------------------------------------------------------------


class _Pair:
    """One proxied connection: two pumps, closed together."""

    def __init__(self, proxy: TcpProxy, client: socket.socket, upstream: socket.socket):
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self.swallowing = False
        self.closed = False
        for source, sink, outbound in ((client, upstream, True), (upstream, client, False)):
            threading.Thread(target=self._pump, args=(source, sink, outbound), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, outbound: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if outbound:
                    marker = self.proxy.lose_answer_to
                    if marker and marker in data and not self.swallowing:
                        # The statement reaches the server (and commits); its answer never
                        # reaches the client, whose connection then dies.
                        self.swallowing = True
                        self.proxy.lose_answer_to = None
                        self.proxy.answers_lost += 1
                        threading.Timer(1.0, self.close).start()
                    sink.sendall(data)
                elif not self.swallowing:
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            if not self.swallowing:
                self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        self.proxy._forget(self)


class TcpProxy:
    """127.0.0.1:<port> -> target. `cut()` closes every connection and refuses new ones
    (ECONNREFUSED, as a stopped server); `restore()` listens again on the same port;
    `lose_answer_to = b"INSERT INTO"` loses the answer to the next statement containing it."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, int(target_port))
        self.port = free_port()
        self.lose_answer_to: bytes | None = None
        self.answers_lost = 0
        self.connections_accepted = 0
        self._pairs: set[_Pair] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        if self._listener is not None:
            return
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            pair.close()

    def close(self) -> None:
        self.cut()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self.connections_accepted += 1
                self._pairs.add(_Pair(self, client, upstream))

    def _forget(self, pair: _Pair) -> None:
        with self._lock:
            self._pairs.discard(pair)


# --- The intake as a real web process -----------------------------------------------------------


class WebProcess:
    """gunicorn serving config.wsgi with the test settings and a given DATABASE_URL."""

    def __init__(
        self,
        name: str,
        *,
        database_url: str,
        extra_env: dict[str, str],
        workers: int = 1,
        config: str | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = ROOT / "artifacts" / "integration" / f"{name}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": database_url,
            **extra_env,
        }
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--threads",
                "4",
                "--timeout",
                "30",
                "--log-level",
                "warning",
                *(["--config", config] if config else []),
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"web process exited; see {self.log_path}")
            with contextlib.suppress(requests.RequestException):
                requests.get(self.url + "/webhooks/whatsapp/", timeout=2)
                return
            time.sleep(0.2)
        raise AssertionError(f"web process not ready in {timeout}s; see {self.log_path}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
        self._log.close()


def proxied_database_url(proxy: TcpProxy) -> str:
    """The test database through the proxy; no TLS, so the proxy can see statements."""
    direct = test_database_url()
    scheme, rest = direct.split("://", 1)
    credentials, location = rest.split("@", 1)
    _hostport, name = location.split("/", 1)
    return f"{scheme}://{credentials}@127.0.0.1:{proxy.port}/{name}?sslmode=disable"


def proxied_redis_url(proxy: TcpProxy, redis_url: str) -> str:
    """`redis_url` (same database number) through the proxy."""
    parts = urlsplit(redis_url)
    netloc = f"127.0.0.1:{proxy.port}"
    if parts.username or parts.password:
        netloc = f"{parts.netloc.rsplit('@', 1)[0]}@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


# --- Campaigns and the beat loop ----------------------------------------------------------------


def contacts_bulk(n: int, *, prefix: str = "+91970", start: int = 0, **fields) -> list[Contact]:
    now = timezone.now()
    rows = [
        Contact(
            phone=f"{prefix}{i:07d}",
            wa_id=f"{prefix.lstrip('+')}{i:07d}",
            name=f"Person {i}",
            consent="opted_in",
            last_inbound_at=now,
            **fields,
        )
        for i in range(start, start + n)
    ]
    return Contact.objects.bulk_create(rows, batch_size=1000)


def campaign_build(
    channel,
    contacts: Iterable[Contact],
    *,
    name: str,
    throttle_mps: int,
    template: str = "delivery_delayed",
) -> Campaign:
    tag = Tag.objects.create(name=f"audience-{name}")
    tag.contacts.add(*contacts)
    campaign = Campaign.objects.create(
        name=name,
        channel=channel,
        throttle_mps=throttle_mps,
        parameter_mapping=DELAYED_MAPPING,
        template=MessageTemplate.objects.get(channel=channel, name=template, language="en"),
    )
    campaign.tags.add(tag)
    return campaign


def drive(
    done: Callable[[], object],
    *,
    timeout: float,
    tick: float = 0.5,
    sweep: Callable[[], object] | None = None,
) -> float:
    """Run `sweep` (what beat runs) every `tick` until `done()`; return the seconds it took."""
    started = time.monotonic()
    deadline = started + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"not done within {timeout}s")
        if sweep is not None:
            sweep()
        time.sleep(tick)
    return time.monotonic() - started


def gaps_by_recipient(attempts: list[dict]) -> dict[str, list[tuple[str, float]]]:
    """For each recipient: (outcome of an attempt, seconds until the next attempt)."""
    by_to: dict[str, list[dict]] = {}
    for attempt in attempts:
        by_to.setdefault(attempt["to"], []).append(attempt)
    gaps: dict[str, list[tuple[str, float]]] = {}
    for to, items in by_to.items():
        items.sort(key=lambda a: a["time"])
        gaps[to] = [
            (first["outcome"], second["time"] - first["time"])
            for first, second in itertools.pairwise(items)
        ]
    return gaps


def artifacts_dir() -> Path:
    path = ROOT / "artifacts" / "integration"
    path.mkdir(parents=True, exist_ok=True)
    return path
