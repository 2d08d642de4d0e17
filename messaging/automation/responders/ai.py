"""An optional responder backed by an OpenAI-compatible chat completions endpoint.

Off unless AI_RESPONDER_ENABLED. The endpoint (AI_RESPONDER_URL, the full URL of
`.../chat/completions`) comes from settings only, never from data, so it cannot be pointed at
an internal address by a message; redirects are not followed. The key (AI_RESPONDER_API_KEY)
is sent as a Bearer token and never logged. The whole call, connect to last byte, is bounded
by AI_RESPONDER_TIMEOUT; a timeout, an error status, a body that is not the expected JSON, a
hand-off or a confidence below AI_RESPONDER_MIN_CONFIDENCE all return None: an agent answers.

The model is asked for a JSON object `{"answer", "topic", "confidence", "handoff"}` and given
the enabled FAQ entries as the facts it may use.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
import urllib.parse
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from typing import Any

from django.conf import settings

from messaging.automation.models import FaqEntry
from messaging.automation.responders.base import Answer, Responder

logger = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 256 * 1024
MAX_FACTS = 30
SYSTEM_PROMPT = (
    "You answer customers of a business on WhatsApp. Use only the facts below; if they do not "
    "answer the question, or the customer wants a person, hand off. Reply with one JSON "
    'object: {"answer": "<reply, under 600 characters, plain text>", "topic": "<one or two '
    'words>", "confidence": <0..1>, "handoff": <true|false>}.\n\nFacts:\n'
)


def _redacted(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]  # never log credentials or a query string
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def _facts() -> str:

    entries = FaqEntry.objects.filter(enabled=True).order_by("topic", "pk")[:MAX_FACTS]
    return "\n".join(f"- [{e.topic}] {e.question} {e.answer}" for e in entries) or "- (none)"


class AiResponder(Responder):
    name = "ai"

    def __init__(self, *, url=None, api_key=None, model=None, timeout=None, min_confidence=None):
        self.url = settings.AI_RESPONDER_URL if url is None else url
        self.api_key = settings.AI_RESPONDER_API_KEY if api_key is None else api_key
        self.model = settings.AI_RESPONDER_MODEL if model is None else model
        self.timeout = settings.AI_RESPONDER_TIMEOUT if timeout is None else timeout
        self.min_confidence = (
            settings.AI_RESPONDER_MIN_CONFIDENCE if min_confidence is None else min_confidence
        )

    def __repr__(self) -> str:  # never show the key
        return f"AiResponder(url={_redacted(self.url)!r}, model={self.model!r})"

    def answer(self, text: str, contact=None) -> Answer | None:
        if not self.url or not text.strip():
            return None
        if urllib.parse.urlsplit(self.url).scheme not in ("http", "https"):
            logger.warning("AI responder URL is not http(s); not called")
            return None
        try:
            data = self._call(self._body(text))
        except OSError as exc:  # timeouts and connection errors included; no header is logged
            logger.warning("AI responder at %s failed: %s", _redacted(self.url), exc)
            return None
        return self._read(data)

    def _body(self, text: str) -> bytes:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT + _facts()},
                {"role": "user", "content": text[:4000]},
            ],
            "temperature": 0.2,
            "max_tokens": 400,
            "response_format": {"type": "json_object"},
        }
        return json.dumps(body).encode()

    def _call(self, body: bytes) -> bytes:
        """POST `body`; the answer's bytes. Raises OSError (TimeoutError included).

        The socket timeout bounds each step; a watchdog shuts the socket down when the whole
        call outlives AI_RESPONDER_TIMEOUT, so a server that trickles bytes cannot hold it.
        """
        parts = urllib.parse.urlsplit(self.url)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        deadline = time.monotonic() + self.timeout
        connection_class = HTTPSConnection if parts.scheme == "https" else HTTPConnection
        connection = connection_class(parts.hostname, parts.port, timeout=self.timeout)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        watchdog = None
        try:
            connection.connect()
            watchdog = threading.Timer(
                max(0.0, deadline - time.monotonic()), _shutdown, args=(connection.sock,)
            )
            watchdog.daemon = True
            watchdog.start()
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            raw = response.read(MAX_RESPONSE_BYTES + 1)
        except (OSError, HTTPException) as exc:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no answer within {self.timeout:g} s") from exc
            if isinstance(exc, OSError):
                raise
            raise OSError(f"bad HTTP response: {type(exc).__name__}") from exc
        finally:
            if watchdog is not None:
                watchdog.cancel()
            connection.close()
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no complete answer within {self.timeout:g} s")
        if len(raw) > MAX_RESPONSE_BYTES:
            raise OSError("the answer is larger than allowed")
        if response.status >= 300:
            raise OSError(
                f"HTTP {response.status}" + (" (not followed)" if response.status < 400 else "")
            )
        return raw

    def _read(self, raw: bytes) -> Answer | None:
        try:
            data = json.loads(raw)
            content = data["choices"][0]["message"]["content"]
            reply = json.loads(content) if isinstance(content, str) else content
        except (ValueError, KeyError, IndexError, TypeError):
            logger.warning("AI responder at %s answered something unreadable", _redacted(self.url))
            return None
        if not isinstance(reply, dict) or reply.get("handoff") is True:
            return None
        answer = reply.get("answer")
        try:
            confidence = float(reply.get("confidence"))
        except (TypeError, ValueError):
            return None
        if not isinstance(answer, str) or not answer.strip() or confidence < self.min_confidence:
            return None
        topic = str(reply.get("topic") or "ai").strip().lower()[:64] or "ai"
        return Answer(text=answer.strip()[:4096], topic=topic, confidence=min(1.0, confidence))


def _shutdown(sock) -> None:
    """End a call that outlived its deadline: the blocked read returns at once."""
    with contextlib.suppress(OSError, AttributeError):
        sock.shutdown(socket.SHUT_RDWR)
