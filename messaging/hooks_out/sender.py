"""The HTTP side of event webhooks: one signed POST, bounded in time and in what it reads.

Outbound calls to integrators are not provider calls, so they do not go through
`messaging.providers`; the same rules apply: a timeout on every call, no retries inside the
socket (retrying is the outbox's decision), secrets never logged. A call:

* re-checks the URL with the SSRF guard (`core.ssrf`) at send time, since a host's addresses
  can change after the subscription was saved, and connects only to an address that one
  lookup returned and the guard passed (a second lookup could answer a private address: DNS
  rebinding); TLS still verifies the certificate for the host's name. Private and loopback
  addresses only with WEBHOOK_OUT_ALLOW_PRIVATE, the demo's and tests' setting;
* connects and waits for each read at most WEBHOOK_OUT_TIMEOUT_SECONDS, and for the whole
  exchange at most twice that: a slow receiver cannot hold a worker;
* never follows a redirect (it could lead to an address the guard refuses);
* reads only the first RESPONSE_EXCERPT bytes of the answer, for the delivery log.

Connections are kept alive in one urllib3 pool manager per process (rebuilt after a fork), so
a burst to one receiver reuses a few sockets.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import urllib3
from django.conf import settings

from core.ssrf import UnsafeUrl, host_addresses_public, url_check_public
from messaging.hooks_out.signing import signature_header

logger = logging.getLogger(__name__)

RESPONSE_EXCERPT = 500
USER_AGENT = "Parley-Webhooks/1.0"

_pool: urllib3.PoolManager | None = None
_guarded_pool: urllib3.PoolManager | None = None
_pool_lock = threading.Lock()


def _forget_pool_after_fork() -> None:
    global _pool, _guarded_pool
    _pool = _guarded_pool = None


os.register_at_fork(after_in_child=_forget_pool_after_fork)


class _GuardedConnection(urllib3.connection.HTTPConnection):
    """Connects only to an address the SSRF guard passed, from the one lookup it checked
    (the URL was checked before too, but a second lookup could answer differently)."""

    def _new_conn(self) -> socket.socket:
        try:
            addresses = host_addresses_public(self._dns_host)
        except UnsafeUrl as exc:
            raise urllib3.exceptions.NewConnectionError(
                self, f"refused by the SSRF guard: {exc.message}"
            ) from exc
        host, self._dns_host = self._dns_host, addresses[0]
        try:
            return super()._new_conn()
        finally:
            self._dns_host = host


class _GuardedHTTPSConnection(_GuardedConnection, urllib3.connection.HTTPSConnection):
    """TLS to the checked address, with the certificate and SNI still for the host's name."""


class _GuardedPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _GuardedConnection


class _GuardedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


def _manager() -> urllib3.PoolManager:
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                size = max(4, settings.WEBHOOK_OUT_CONCURRENCY)
                _pool = urllib3.PoolManager(num_pools=64, maxsize=size, block=False)
    return _pool


def _guarded_manager() -> urllib3.PoolManager:
    global _guarded_pool
    if _guarded_pool is None:
        with _pool_lock:
            if _guarded_pool is None:
                size = max(4, settings.WEBHOOK_OUT_CONCURRENCY)
                manager = urllib3.PoolManager(num_pools=64, maxsize=size, block=False)
                manager.pool_classes_by_scheme = {"http": _GuardedPool, "https": _GuardedHTTPSPool}
                _guarded_pool = manager
    return _guarded_pool


@dataclass(frozen=True)
class SendResult:
    ok: bool
    status_code: int | None
    latency_ms: int
    excerpt: str
    error: str


def body_bytes(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed) for a stored payload."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _url_problem(url: str) -> str | None:
    try:
        url_check_public(url, allow_private=settings.WEBHOOK_OUT_ALLOW_PRIVATE)
    except UnsafeUrl as exc:
        return exc.message
    return None


def delivery_post(
    *, url: str, secret: str, payload: dict[str, Any], event_type: str, event_id: str, attempt: int
) -> SendResult:
    """POST one event; never raises for the receiver's failures (they are the result)."""
    started = time.monotonic()
    problem = _url_problem(url)
    if problem:
        return SendResult(False, None, 0, "", f"refused by the SSRF guard: {problem}"[:300])
    body = body_bytes(payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Parley-Event": event_type,
        "X-Parley-Event-Id": event_id,
        "X-Parley-Delivery-Attempt": str(attempt),
        "X-Parley-Signature": signature_header(secret=secret, body=body),
    }
    limit = settings.WEBHOOK_OUT_TIMEOUT_SECONDS
    timeout = urllib3.Timeout(connect=limit, read=limit, total=2 * limit)
    response = None
    try:
        manager = _manager() if settings.WEBHOOK_OUT_ALLOW_PRIVATE else _guarded_manager()
        response = manager.request(
            "POST", url, body=body, headers=headers, timeout=timeout, retries=False,
            redirect=False, preload_content=False,
        )  # fmt: skip
        excerpt = response.read(RESPONSE_EXCERPT, decode_content=False)
        status = response.status
    except urllib3.exceptions.HTTPError as exc:
        latency = int((time.monotonic() - started) * 1000)
        reason = getattr(exc, "reason", None) or exc
        return SendResult(False, None, latency, "", f"{type(exc).__name__}: {reason}"[:300])
    finally:
        if response is not None:
            # Whatever the receiver still sends is not read: close the connection rather than
            # drain it (draining is where a slow receiver would hold us).
            if response.length_remaining or response.chunked:
                response.close()
            response.release_conn()
    latency = int((time.monotonic() - started) * 1000)
    text = excerpt.decode("utf-8", errors="replace")
    if 200 <= status < 300:
        return SendResult(True, status, latency, text, "")
    return SendResult(False, status, latency, text, f"the receiver answered HTTP {status}")
