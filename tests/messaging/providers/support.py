"""Helpers shared by the provider tests: constants, fixture files, a loopback HTTP server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from messaging.providers.meta_cloud import MetaCloudProvider

TOKEN = "test-access-token"
APP_SECRET = "test-app-secret"
WABA_ID = "100000000000001"
PHONE_NUMBER_ID = "200000000000001"
FIXTURES = Path(__file__).parent / "fixtures"

Responder = Callable[[dict[str, Any]], "tuple[int, dict[str, str], bytes] | None"]


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


class Loopback:
    """An HTTP server on 127.0.0.1 that records every request and answers through
    `responder(request) -> (status, headers, body)`; returning None drops the connection
    without an answer."""

    def __init__(self, responder: Responder | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.responder = responder or (lambda request: (200, {}, b""))
        self._cond = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers.items()),
                    "body": body,
                }
                with outer._cond:
                    outer.requests.append(request)
                    outer._cond.notify_all()
                answer = outer.responder(request)
                if answer is None:
                    self.close_connection = True
                    return
                status, headers, payload = answer
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except OSError:  # the client gave up waiting (timeout tests)
                    self.close_connection = True

            do_GET = do_POST = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def wait_for(self, count: int, timeout: float = 3.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} requests, got {len(self.requests)}")
                self._cond.wait(remaining)
            return list(self.requests)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def json_answer(payload: Any, status: int = 200, **headers: str) -> tuple[int, dict, bytes]:
    return status, {"Content-Type": "application/json", **headers}, json.dumps(payload).encode()


def make_provider(url: str, **overrides: Any) -> MetaCloudProvider:
    kwargs: dict[str, Any] = {
        "graph_url": url,
        "access_token": TOKEN,
        "app_secret": APP_SECRET,
        "phone_number_id": PHONE_NUMBER_ID,
        "waba_id": WABA_ID,
        "timeout": (1.0, 2.0),
    }
    kwargs.update(overrides)
    return MetaCloudProvider(**kwargs)
