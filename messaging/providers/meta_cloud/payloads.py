"""Cloud API request bodies (WHATSAPP.md 2.1), built from neutral `OutboundMessage`s."""

from __future__ import annotations

import copy
from typing import Any

from ..base import OutboundMessage, digits_only


def message_body(message: OutboundMessage) -> dict[str, Any]:
    """The exact JSON body for `POST /{version}/{phone_number_id}/messages`.

    A phone number, when known, wins over a BSUID: phone routing is what every account
    supports today; `recipient` is only used for username-only users.
    """
    body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    if message.to:
        body["to"] = digits_only(message.to)
    else:
        body["recipient"] = message.recipient_bsuid
    body["type"] = message.type
    content = copy.deepcopy(dict(message.content))
    if message.type == "contacts":
        body["contacts"] = content.get("contacts", [])
    else:
        body[message.type] = content
    if message.context_wamid:
        body["context"] = {"message_id": message.context_wamid}
    if message.callback_data:
        body["biz_opaque_callback_data"] = message.callback_data
    return body


def mark_read_body(wamid: str, *, typing: bool = False) -> dict[str, Any]:
    """Mark `wamid` read; with `typing`, also show the typing indicator. The Cloud API has
    no separate typing call: the indicator rides on the read receipt of the message being
    answered, and lasts until our reply or 25 seconds."""
    body: dict[str, Any] = {"messaging_product": "whatsapp", "status": "read", "message_id": wamid}
    if typing:
        body["typing_indicator"] = {"type": "text"}
    return body
