"""Helpers for the inbox and automation tests: inbound messages through the real webhook
path."""

from __future__ import annotations

import time

from messaging.models import Message
from tests.messaging.webhooks.support import messages_payload, process, text_message

WA_ID = "919812345678"


def now_ts() -> int:
    return int(time.time())


def inbound(
    *,
    body: str = "Hello",
    wa_id: str = WA_ID,
    wamid: str | None = None,
    at: int | None = None,
    name: str = "Asha Rao",
    **extra,
) -> Message:
    """Process one inbound message as the webhook worker would; return it."""
    wamid = wamid or f"wamid.IN.{time.monotonic_ns()}"
    process(
        messages_payload(text_message(wamid, body, at or now_ts(), wa_id=wa_id, **extra), name=name)
    )
    return Message.objects.select_related("contact", "conversation").get(wamid=wamid)


def button_tap(*, payload: str, text: str = "Tap", context: str = "", **kwargs) -> Message:
    extra = {"type": "button", "button": {"payload": payload, "text": text}}
    if context:
        extra["context"] = {"from": "15550001111", "id": context}
    return inbound(body="", **extra, **kwargs)
