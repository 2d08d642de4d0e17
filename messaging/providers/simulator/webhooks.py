"""Signed webhook delivery: a time-ordered queue, a scheduler thread and a few senders.

Jobs (one status, one inbound message, one preference change, ...) are scheduled for a
moment in the future. The scheduler pops whatever is due, up to `max_batch` jobs, groups them
the way Meta does (one entry per WABA, one change per phone number and field) and hands the
notification to a sender. A failed POST is retried with exponential backoff, re-sending the
same bytes with the same signature, as Meta does.

Senders post over `http.client`, one kept-alive connection per sender thread. The simulator
stands in for Meta on the same machine as Parley, so what its client costs is charged to
Parley in every benchmark: `requests` cost about a millisecond of CPU per POST, which made
the simulator, not Parley, the bottleneck of a full cycle with one status per webhook.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import hmac
import http.client
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from ..meta_cloud.webhooks import SIGNATURE_HEADER, signature_for
from .config import SimulatorConfig

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class Job:
    """One item to deliver. `field` is the change field; `value` holds this item's part of
    the change value (`{"statuses": [...]}`, `{"messages": [...], "contacts": [...]}`,
    `{"user_preferences": [...], "contacts": [...]}`), or the whole value for template events."""

    field: str
    waba_id: str
    phone_number_id: str | None
    value: dict[str, Any]
    time: int | None = None  # entry.time, which account and number events carry


@dataclasses.dataclass
class _Retry:
    body: bytes
    attempts: int
    items: int


def build_notification(jobs: list[Job], display_phone_number: str) -> dict[str, Any]:
    """Group jobs into Meta's `{object, entry[{id, changes[{field, value}]}]}` envelope."""
    entries: dict[tuple[str, int | None], list[dict[str, Any]]] = {}
    merged: dict[tuple[str, str, str | None], dict[str, Any]] = {}
    for job in jobs:
        changes = entries.setdefault((job.waba_id, job.time), [])
        if job.field == "message_template_status_update" or job.phone_number_id is None:
            changes.append({"field": job.field, "value": job.value})
            continue
        key = (job.waba_id, job.field, job.phone_number_id)
        value = merged.get(key)
        if value is None:
            value = {
                "messaging_product": "whatsapp",
                "metadata": {
                    "display_phone_number": display_phone_number,
                    "phone_number_id": job.phone_number_id,
                },
            }
            merged[key] = value
            changes.append({"field": job.field, "value": value})
        for name, items in job.value.items():
            bucket = value.setdefault(name, [])
            for item in items:
                if name == "contacts":  # one contact per user in a change, the latest wins
                    key = (item.get("wa_id"), item.get("user_id"))
                    bucket[:] = [c for c in bucket if (c.get("wa_id"), c.get("user_id")) != key]
                bucket.append(item)
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {"id": waba, **({"time": at} if at is not None else {}), "changes": changes}
            for (waba, at), changes in entries.items()
        ],
    }


class WebhookDispatcher:
    def __init__(
        self,
        *,
        config: Callable[[], SimulatorConfig],
        on_delivery: Callable[[dict[str, Any]], None],
    ) -> None:
        self._config = config
        self._on_delivery = on_delivery
        self._heap: list[tuple[float, int, Job | _Retry]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopping = False
        self._in_flight = 0
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._slots: threading.BoundedSemaphore | None = None
        self._local = threading.local()

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        concurrency = max(1, self._config().webhook_concurrency)
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="sim-webhook")
        self._slots = threading.BoundedSemaphore(concurrency)
        self._thread = threading.Thread(target=self._run, name="sim-webhooks", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    # --- queue -------------------------------------------------------------------------------

    def schedule(self, job: Job | _Retry, delay: float = 0.0) -> None:
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), job))
            self._cond.notify()

    def clear(self) -> int:
        with self._cond:
            dropped = len(self._heap)
            self._heap.clear()
            return dropped

    def pending(self) -> int:
        with self._cond:
            return len(self._heap)

    def in_flight(self) -> int:
        with self._cond:
            return self._in_flight

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is queued or being posted (for tests); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._heap or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
        return True

    # --- scheduler and senders ---------------------------------------------------------------

    def _next_batch(self) -> list[Job] | _Retry | None:
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                if self._heap and self._heap[0][0] <= now:
                    break
                timeout = self._heap[0][0] - now if self._heap else None
                self._cond.wait(timeout)
            if self._stopping:
                return None
            first = heapq.heappop(self._heap)[2]
            if isinstance(first, _Retry):
                self._in_flight += 1
                return first
            batch = [first]
            limit = max(1, self._config().max_batch)
            now = time.monotonic()
            while (
                len(batch) < limit
                and self._heap
                and self._heap[0][0] <= now
                and isinstance(self._heap[0][2], Job)
            ):
                batch.append(heapq.heappop(self._heap)[2])
            self._in_flight += 1
            return batch

    def _run(self) -> None:
        assert self._slots is not None and self._pool is not None
        while True:
            # Wait for a free sender first: with a slow receiver the queue grows and later
            # batches get bigger, instead of threads piling up.
            while not self._slots.acquire(timeout=0.1):
                if self._stopping:
                    return
            batch = self._next_batch()
            if batch is None:
                self._slots.release()
                return
            try:
                self._pool.submit(self._deliver, batch)
            except RuntimeError:  # pool shut down
                self._slots.release()
                return

    def _connection(self, url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
        """This thread's kept-alive connection to the receiver, and the request path."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, timeout)
        cached = getattr(self._local, "connection", None)
        if cached is None or cached[0] != key:
            if cached is not None:
                cached[1].close()
            kind = (
                http.client.HTTPSConnection
                if parts.scheme == "https"
                else http.client.HTTPConnection
            )
            cached = (key, kind(parts.netloc, timeout=timeout))
            self._local.connection = cached
        path = parts.path or "/"
        return cached[1], f"{path}?{parts.query}" if parts.query else path

    def _deliver(self, batch: list[Job] | _Retry) -> None:
        config = self._config()
        try:
            if isinstance(batch, _Retry):
                body, attempts, items = batch.body, batch.attempts, batch.items
            else:
                notification = build_notification(batch, config.display_phone_number)
                body = json.dumps(notification, separators=(",", ":"), ensure_ascii=False).encode()
                attempts, items = 0, len(batch)
            if not config.webhooks or not config.webhook_url:
                self._on_delivery({"ok": False, "dropped": True, "items": items})
                return
            started = time.perf_counter()
            status, error = self._post(config, body)
            record = {
                "ok": error is None,
                "status": status,
                "error": error,
                "items": items,
                "attempt": attempts + 1,
                "bytes": len(body),
                "seconds": round(time.perf_counter() - started, 6),
            }
            self._on_delivery(record)
            if error is not None and attempts < config.webhook_retries:
                backoff = config.webhook_retry_backoff * (2**attempts)
                self.schedule(_Retry(body=body, attempts=attempts + 1, items=items), backoff)
            elif error is not None:
                logger.warning("webhook given up after %s attempts: %s", attempts + 1, error)
        except Exception:
            logger.exception("webhook delivery crashed")
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()
            assert self._slots is not None
            self._slots.release()

    def _post(self, config: SimulatorConfig, body: bytes) -> tuple[int | None, str | None]:
        headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua"}
        if config.app_secret:
            headers[SIGNATURE_HEADER] = signature_for(config.app_secret, body)
            sha1 = hmac.new(config.app_secret.encode(), body, hashlib.sha1).hexdigest()
            headers["X-Hub-Signature"] = f"sha1={sha1}"
        for attempt in (1, 2):
            connection, path = self._connection(config.webhook_url, config.webhook_timeout)
            reused = connection.sock is not None
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                if reused and attempt == 1 and not isinstance(exc, TimeoutError):
                    continue  # the receiver closed the kept-alive connection: a new one
                return None, type(exc).__name__
            if response.will_close:
                connection.close()
            break
        if 200 <= response.status < 300:
            return response.status, None
        return response.status, f"HTTP {response.status}"
