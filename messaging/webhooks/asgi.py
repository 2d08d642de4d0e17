"""The lean webhook intake: an ASGI endpoint that verifies a body and group-commits it.

`config.asgi` sends POSTs to the webhook paths here and everything else to Django. Nothing
on this path does work a webhook does not need: no middleware, session, user, template or
URL resolver. The body is read on the event loop with a deadline, so a client that declares
a body and sends it a byte at a time holds a connection, never a thread or a worker, and is
answered 408 after WEBHOOK_BODY_TIMEOUT_SECONDS. The verdict is the Django view's
(`intake.webhook_verify`); the channel index it needs is read in a thread when the cached
one is stale, so the loop never waits on a query. A verified body goes to the process's
writer (`group_commit.py`) and the request is answered 200 only after the transaction that
holds it has committed: 503 when that commit failed or did not finish within
WEBHOOK_COMMIT_TIMEOUT_SECONDS (Meta retries; a body committed late is then a duplicate).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections
from django.utils.datastructures import CaseInsensitiveMapping

from core.asgi import text_answer
from core.metrics import webhook_intake_observe, webhook_intake_outcome
from core.queueing import task
from messaging.channels.models import Channel, Provider
from messaging.webhooks.group_commit import webhook_writer
from messaging.webhooks.intake import (
    CHANNELS_CACHE_SECONDS,
    TOO_LARGE,
    UNAVAILABLE,
    Verdict,
    channel_index,
    channel_index_cached,
    recheck_slot_take,
    unknown_channel,
    verdict_log,
    webhook_verify,
)

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

# POST paths served here, with the provider each one is for (the trailing slash is optional,
# as in messaging/webhooks/urls.py).
INTAKE_PATHS = {
    "/webhooks/whatsapp": Provider.META_CLOUD,
    "/webhooks/whatsapp/": Provider.META_CLOUD,
    "/webhooks/myoperator": Provider.MYOPERATOR,
    "/webhooks/myoperator/": Provider.MYOPERATOR,
}

SLOW_BODY = Verdict(408, "request body not received in time")
DISCONNECTED = Verdict(499, "client disconnected")
_STORED = Verdict(0)
_DUPLICATE = Verdict(0, detail="duplicate")

# One thread reads channels when the cached index is stale (every CHANNELS_CACHE_SECONDS).
_index_reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhook-channels")


def webhook_intake_warm() -> None:
    """What the first webhook would otherwise pay for, done as a worker starts (in a thread):
    Celery's task registry (its first import runs Django's checks, seconds under load, while
    the writer holding it would delay every answer) and the channel indexes. Failures are
    left for the first webhook to meet and report."""
    try:
        task("messaging.webhook_drain")
        for code in set(INTAKE_PATHS.values()):
            _channel_index_read(code)
    except Exception:
        logger.warning("webhook intake warm-up incomplete", exc_info=True)


def webhook_intake_path(scope: Scope) -> str | None:
    """The provider whose webhooks `scope` posts, or None when it is not a webhook POST."""
    if scope.get("type") != "http" or scope.get("method") != "POST":
        return None
    return INTAKE_PATHS.get(scope.get("path", ""))


async def webhook_intake(scope: Scope, receive: Receive, send: Send, code: str) -> Verdict:
    """Answer one webhook POST (observed in parley_webhook_intake_*); returns the verdict."""
    started = time.perf_counter()
    headers = CaseInsensitiveMapping(
        {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
    )
    verdict = await _verdict(headers, receive, code)
    if verdict is not DISCONNECTED:
        await text_answer(send, verdict.status or 200, verdict.reason)
    outcome = webhook_intake_outcome(verdict.status or 200, duplicate=verdict is _DUPLICATE)
    webhook_intake_observe(outcome, time.perf_counter() - started)
    return verdict


async def _verdict(headers: CaseInsensitiveMapping, receive: Receive, code: str) -> Verdict:
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    try:
        declared = int(headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return TOO_LARGE
    raw = await _body_read(receive, limit)
    if isinstance(raw, Verdict):
        return raw
    index = channel_index_cached(code)
    if index is None:
        try:
            index = await asyncio.get_running_loop().run_in_executor(
                _index_reader, _channel_index_read, code
            )
        except DatabaseError:
            logger.warning("could not read %s channels; answering 503 so it is retried", code)
            return UNAVAILABLE
    verdict = webhook_verify(code, headers, raw, index)
    if unknown_channel(verdict):
        try:
            fresh = await _index_recheck(code)
        except DatabaseError:
            return UNAVAILABLE
        if fresh is not None:
            verdict = webhook_verify(code, headers, raw, fresh)
    if not verdict.verified:
        verdict_log(code, verdict)
        return verdict
    future = webhook_writer().submit(code, raw, verdict.text)
    try:
        stored = await asyncio.wait_for(
            asyncio.wrap_future(future), timeout=settings.WEBHOOK_COMMIT_TIMEOUT_SECONDS
        )
    except DatabaseError:
        return UNAVAILABLE  # the writer logged it, once for the whole batch
    except TimeoutError:
        logger.warning("a %s webhook's commit did not finish in time; answering 503", code)
        return UNAVAILABLE
    return _STORED if stored else _DUPLICATE


async def _body_read(receive: Receive, limit: int) -> bytes | Verdict:
    """The whole body within WEBHOOK_BODY_TIMEOUT_SECONDS, or why not."""
    deadline = time.monotonic() + settings.WEBHOOK_BODY_TIMEOUT_SECONDS
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return SLOW_BODY
        try:
            message = await asyncio.wait_for(receive(), timeout=remaining)
        except TimeoutError:
            return SLOW_BODY
        if message["type"] == "http.disconnect":
            return DISCONNECTED
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return TOO_LARGE
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


_rechecks: dict[str, asyncio.Future] = {}


async def _index_recheck(code: str):
    """A fresh read of the index after a body named a number it lacks, or None when none is
    due (`recheck_slot_take`). Requests arriving while a read is in flight wait for that
    read instead of being refused, so a burst for a new number is judged by one query."""
    pending = _rechecks.get(code)
    if pending is not None and not pending.done():
        return await asyncio.shield(pending)
    if not recheck_slot_take(code):
        return None
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(_index_reader, _channel_index_read, code, 0)
    _rechecks[code] = future
    return await asyncio.shield(future)


def _channel_index_read(code: str, max_age: float = CHANNELS_CACHE_SECONDS):
    try:
        return channel_index(code, max_age)
    except DatabaseError:
        connections[Channel.objects.db].close()  # reconnect on the next read
        raise
