"""Checks a send body the way the Cloud API does, answering with its error codes.

The typed objects are checked with the same documented limits the providers enforce
(`base.validate_outbound`), so a message the simulator accepts is one Meta would accept, and
the envelope (`messaging_product`, `to`/`recipient`, `type`, `context`, ...) is checked here.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from ..base import MAX_CALLBACK_DATA, MESSAGE_TYPES, InvalidMessage, OutboundMessage
from ..base import validate_outbound as validate_typed_object
from .errors import SimulatorError

_NUMBER_PUNCTUATION = re.compile(r"[\s\-().]")
_BSUID_RE = re.compile(r"^[A-Z]{2}\.[A-Za-z0-9]{6,64}$")


@dataclasses.dataclass(frozen=True)
class SendRequest:
    kind: str
    to_input: str  # exactly as sent ("input" in the response)
    wa_id: str | None  # digits, when addressed by phone number
    bsuid: str | None  # when addressed by business-scoped user id
    body: dict[str, Any]
    content: Any  # the typed object
    context_wamid: str | None
    callback_data: str | None

    @property
    def recipient_key(self) -> str:
        return self.wa_id or self.bsuid or self.to_input


@dataclasses.dataclass(frozen=True)
class ReadRequest:
    wamid: str
    typing_indicator: bool


def _missing(name: str) -> SimulatorError:
    return SimulatorError(131008, f"The parameter {name} is required.")


def _invalid(details: str) -> SimulatorError:
    return SimulatorError(131009, details)


def parse_send_body(body: Any) -> SendRequest | ReadRequest:
    if not isinstance(body, Mapping):
        raise SimulatorError(100, "The request body must be a JSON object.")
    if body.get("messaging_product") is None:
        raise _missing("messaging_product")
    if body["messaging_product"] != "whatsapp":
        raise _invalid("Param messaging_product must be 'whatsapp'.")
    if "status" in body:
        return _parse_read(body)
    recipient_type = body.get("recipient_type", "individual")
    if recipient_type != "individual":
        raise _invalid("Param recipient_type must be 'individual'.")

    to, recipient = body.get("to"), body.get("recipient")
    if not to and not recipient:
        raise _missing("to")
    wa_id = bsuid = None
    if to:
        if not isinstance(to, str | int):
            raise _invalid("Param to must be a phone number string.")
        digits = _NUMBER_PUNCTUATION.sub("", str(to)).removeprefix("+")
        if not digits.isdigit() or not 7 <= len(digits) <= 15 or digits.startswith("0"):
            raise _invalid(f"Param to is not a valid phone number: {to!r}.")
        wa_id = digits
        to_input = str(to)
    else:
        if not isinstance(recipient, str) or not _BSUID_RE.match(recipient):
            raise _invalid("Param recipient must be a business-scoped user id like US.1234567.")
        bsuid = recipient
        to_input = recipient

    kind = body.get("type", "text")
    if kind not in MESSAGE_TYPES:
        raise SimulatorError(131051, f"Message type {kind!r} is not supported.")
    if kind not in body:
        raise _missing(kind)
    content = body[kind]
    typed = {"contacts": content} if kind == "contacts" else content
    if kind == "contacts" and not isinstance(content, list):
        raise _invalid("Param contacts must be an array.")
    if kind != "contacts" and not isinstance(content, Mapping):
        raise _invalid(f"Param {kind} must be a JSON object.")

    context = body.get("context")
    context_wamid = None
    if context is not None:
        if not isinstance(context, Mapping) or not isinstance(context.get("message_id"), str):
            raise _invalid('Param context must be {"message_id": "<wamid>"}.')
        context_wamid = context["message_id"]

    callback = body.get("biz_opaque_callback_data")
    if callback is not None and (
        not isinstance(callback, str) or len(callback) > MAX_CALLBACK_DATA
    ):
        raise _invalid(
            "Param biz_opaque_callback_data must be a string of at most "
            f"{MAX_CALLBACK_DATA} characters."
        )

    try:
        validate_typed_object(
            OutboundMessage(
                type=kind,
                content=dict(typed),
                to=wa_id,
                recipient_bsuid=bsuid,
                context_wamid=context_wamid,
                callback_data=callback,
            )
        )
    except InvalidMessage as exc:
        raise (_missing(exc.field or kind) if exc.missing else _invalid(exc.reason)) from None

    return SendRequest(
        kind=kind,
        to_input=to_input,
        wa_id=wa_id,
        bsuid=bsuid,
        body=dict(body),
        content=content,
        context_wamid=context_wamid,
        callback_data=callback,
    )


def _parse_read(body: Mapping[str, Any]) -> ReadRequest:
    if body.get("status") != "read":
        raise _invalid("Param status must be 'read'.")
    wamid = body.get("message_id")
    if not isinstance(wamid, str) or not wamid:
        raise _missing("message_id")
    indicator = body.get("typing_indicator")
    if indicator is not None and not (
        isinstance(indicator, Mapping) and indicator.get("type") == "text"
    ):
        raise _invalid('Param typing_indicator must be {"type": "text"}.')
    return ReadRequest(wamid=wamid, typing_indicator=indicator is not None)


def _placeholder_count(component: Mapping[str, Any]) -> tuple[int, set[str]]:
    names = set(re.findall(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}", str(component.get("text") or "")))
    return len(names), names


def check_template(template: Mapping[str, Any] | None, request: Mapping[str, Any]) -> None:
    """Meta's synchronous template checks: exists, sendable, parameter count per component."""
    name = request.get("name")
    code = (request.get("language") or {}).get("code")
    if template is None:
        raise SimulatorError(132001, f"template name ({name}) does not exist in {code}")
    status = str(template.get("status", "")).upper()
    if status == "PAUSED":
        raise SimulatorError(132015, f"Template {name} is paused due to low quality.")
    if status == "DISABLED":
        raise SimulatorError(132016, f"Template {name} is disabled due to low quality.")
    if status != "APPROVED":
        raise SimulatorError(132001, f"template name ({name}) is {status} in {code}")

    sent = {
        str(c.get("type", "")).lower(): c
        for c in request.get("components") or ()
        if isinstance(c, Mapping) and str(c.get("type", "")).lower() in ("header", "body")
    }
    for definition in template.get("components") or ():
        kind = str(definition.get("type", "")).lower()
        if kind not in ("header", "body"):
            continue
        fmt = str(definition.get("format", "TEXT")).upper()
        params = [
            p for p in (sent.get(kind) or {}).get("parameters") or () if isinstance(p, Mapping)
        ]
        if kind == "header" and fmt in ("IMAGE", "VIDEO", "DOCUMENT"):
            wanted = fmt.lower()
            if len(params) != 1 or params[0].get("type") != wanted:
                raise SimulatorError(
                    132012, f"header: expected one {wanted} parameter for this template"
                )
            continue
        expected, names = _placeholder_count(definition)
        if len(params) != expected:
            raise SimulatorError(
                132000,
                f"{kind}: number of localizable_params ({len(params)}) does not match the "
                f"expected number of params ({expected})",
            )
        if str(template.get("parameter_format", "")).upper() == "NAMED":
            given = {p.get("parameter_name") for p in params}
            if given != names:
                raise SimulatorError(132000, f"{kind}: named parameters {sorted(names)} expected")
