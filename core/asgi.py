"""Django's WSGI application served from an ASGI server, with request bodies buffered first.

The production server is ASGI (`config.asgi`, gunicorn with uvicorn workers): its event loop
holds every connection, so a slow client costs a connection and never a worker. Django's
views stay synchronous and run in a thread pool (a2wsgi's `WSGIMiddleware`). A thread is only
given a request whose body has fully arrived: the body is read on the event loop first
(spooled to a temporary file past 1 MB, refused with 413 past WEB_MAX_BODY_BYTES, and 408 when
no byte arrives for WEB_BODY_IDLE_SECONDS), which is what a buffering proxy such as nginx
would do in front of sync workers. Responses are sent from the loop, so a slow reader does
not hold a thread either beyond the send queue's few chunks.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from typing import Any

from a2wsgi import WSGIMiddleware
from django.conf import settings

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

SPOOL_IN_MEMORY_BYTES = 1024 * 1024
CHUNK_BYTES = 64 * 1024


class BufferedWSGI:
    """An ASGI app running a WSGI app in `threads` threads, each request's body read first."""

    def __init__(self, wsgi_app: Callable, *, threads: int) -> None:
        self.wsgi = WSGIMiddleware(wsgi_app, workers=threads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.wsgi(scope, receive, send)
            return
        body = await _body_buffer(scope, receive)
        if isinstance(body, int):
            await _refuse(send, body)
            return
        try:
            await self.wsgi(scope, _replay(body, receive), send)
        finally:
            body.close()


async def _body_buffer(scope: Scope, receive: Receive) -> tempfile.SpooledTemporaryFile | int:
    """The request body in a spooled file, or the status to refuse it with."""
    limit = settings.WEB_MAX_BODY_BYTES
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                if int(value) > limit:
                    return 413
            except ValueError:
                return 400
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115 (returned)
    size = 0
    while True:
        try:
            message = await asyncio.wait_for(receive(), settings.WEB_BODY_IDLE_SECONDS)
        except TimeoutError:
            spool.close()
            return 408
        if message["type"] == "http.disconnect":
            spool.close()
            return 499
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            spool.close()
            return 413
        if chunk:
            spool.write(chunk)
        if not message.get("more_body", False):
            spool.seek(0)
            return spool


def _replay(body: tempfile.SpooledTemporaryFile, receive: Receive) -> Receive:
    """A `receive` that hands the buffered body over in chunks, then defers to the client's
    (which reports its disconnect)."""
    size = body.seek(0, 2)
    body.seek(0)
    done = False

    async def replay() -> Message:
        nonlocal done
        if done:
            return await receive()
        chunk = body.read(CHUNK_BYTES)
        done = body.tell() >= size
        return {"type": "http.request", "body": chunk, "more_body": not done}

    return replay


async def _refuse(send: Send, status: int) -> None:
    if status == 499:  # nobody is listening
        return
    reason = {400: "bad request", 408: "request timeout", 413: "payload too large"}[status]
    await text_answer(send, status, reason, close=True)


async def text_answer(send: Send, status: int, text: str, *, close: bool = False) -> None:
    """Answer with `text` as plain text (and `Connection: close` when `close`)."""
    body = text.encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
