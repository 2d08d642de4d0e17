"""The front of the send path: decide whether a message may go, then queue it.

Before anything is written, the send policy (`messaging.sending.policy`) is asked and the body
is checked against WhatsApp's limits: a refused send raises `SendRefused` with a stable code
and a reason a person can act on; it never becomes a message. Accepted sends become `Message`
rows in `queued`, and the dispatcher is nudged after the transaction commits; the dispatcher
asks the policy again just before the provider call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from core.ssrf import UnsafeUrl, url_check_public
from crm.models import Contact
from messaging.channels.models import Channel, MessageTemplate
from messaging.media.content import content_has_assets
from messaging.media.services import (
    MediaAssetUnusable,
    media_assets_check,
    media_content_placeholders,
)
from messaging.providers import InvalidMessage, OutboundMessage, validate_outbound
from messaging.sending.models import Direction, Lane, Message, MessageType
from messaging.sending.nudge import send_enqueue_on_commit
from messaging.sending.policy import (
    SendKind,
    SendRefused,
    send_kind,
    send_policy_check,
    template_header_format,
)
from messaging.sending.selectors import message_conversation

MEDIA_TYPES = {"image", "video", "audio", "document", "sticker"}
SENDABLE_TYPES = {"text", "template", "interactive", "location", "contacts", "reaction"} | (
    MEDIA_TYPES
)
SENDABLE_TYPE_CHOICES = [(t, t) for t in sorted(SENDABLE_TYPES)]


@dataclass(frozen=True)
class SendRequest:
    """What a caller wants sent, before any rule is checked."""

    channel: Channel
    contact: Contact
    type: str
    content: dict[str, Any]
    context_wamid: str = ""
    lane: int = Lane.PRIORITY


# --- Rules -------------------------------------------------------------------------------------


def template_find(*, channel: Channel, content: dict[str, Any]) -> MessageTemplate:
    """The synced template a send body names (whether it may be sent is the policy's call)."""
    name = content.get("name")
    language = (content.get("language") or {}).get("code")
    if not name or not language:
        raise SendRefused("A template needs a name and language.code.", code="invalid_message")
    template = MessageTemplate.objects.filter(channel=channel, name=name, language=language).first()
    if template is None:
        raise SendRefused(
            f"Unknown template {name!r} in {language!r} for this channel; sync templates "
            "if it was approved recently.",
            code="template_unknown",
        )
    template.channel = channel
    return template


def _media_links(content: Any) -> list[Any]:
    """Every media link in a send body, however deep it sits.

    WhatsApp media objects carry their URL under `link`: a media message's own object,
    template header parameters, interactive headers, and the per-card headers of carousels
    (which a check of the known places alone would let through). Nothing else in a send body
    uses that key: buttons and contacts carry theirs under `url` or `text`, and those are
    opened by the user's phone, not fetched for us. Walked without recursion, so a deeply
    nested body cannot exhaust the stack.
    """
    links: list[Any] = []
    stack: list[Any] = [content]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "link" and value not in (None, ""):
                    links.append(value)
                elif isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
    return links


def message_check(request: SendRequest) -> MessageTemplate | None:
    """Ask the send policy about `request` and check its body; return the template for
    template sends. Raises SendRefused with the policy's reason code."""
    if request.type not in SENDABLE_TYPES:
        raise SendRefused(
            f"Messages of type {request.type!r} cannot be sent.", code="invalid_message"
        )
    template = None
    if request.type == "template":
        template = template_find(channel=request.channel, content=request.content)
    refusal = send_policy_check(
        contact=request.contact,
        channel=request.channel,
        kind=send_kind(template),
        needs_window=template is None,
        template=template,
        content=request.content,
    )
    if refusal is not None:
        raise refusal.error()
    message_check_content(request)
    return template


def message_check_content(request: SendRequest) -> None:
    """Media links pass the SSRF guard, library assets exist and fit where they are used, and
    the body keeps WhatsApp's documented limits."""
    links = _media_links(request.content)
    if any(not isinstance(link, str) for link in links):
        raise SendRefused("A media link must be a URL.", code="media_url_refused")
    for link in dict.fromkeys(links):  # a carousel may repeat one image: one lookup
        try:
            url_check_public(link)
        except UnsafeUrl as exc:
            raise SendRefused(
                f"Media URL refused: {exc.message}", code="media_url_refused"
            ) from exc

    content = request.content
    if content_has_assets(content, request.type):
        try:
            media_assets_check(content=content, kind=request.type)
        except MediaAssetUnusable as exc:
            raise SendRefused(exc.message, code=exc.code, details=exc.details) from exc
        # The real id is put in just before the provider call (the dispatcher).
        content = media_content_placeholders(content, request.type)
    try:
        validate_outbound(outbound_for(request, content=content))
    except InvalidMessage as exc:
        raise SendRefused(exc.reason, code="invalid_message", details={"field": exc.field}) from exc


def outbound_for(
    request: SendRequest,
    *,
    callback_data: str | None = None,
    content: dict[str, Any] | None = None,
) -> OutboundMessage:
    """The provider's view of a send; `content` replaces the stored body (library assets
    resolved to media ids)."""
    contact = request.contact
    return OutboundMessage(
        type=request.type,
        content=request.content if content is None else content,
        to=(contact.wa_id or (contact.phone or "").lstrip("+")) or None,
        recipient_bsuid=None if (contact.wa_id or contact.phone) else contact.bsuid,
        context_wamid=request.context_wamid or None,
        callback_data=callback_data,
    )


# --- Queueing ----------------------------------------------------------------------------------


def message_send(
    *,
    channel: Channel,
    contact: Contact,
    type: str,
    content: dict[str, Any],
    context_wamid: str = "",
    lane: int = Lane.PRIORITY,
    sent_by=None,
    is_automated: bool = False,
    extra: dict[str, Any] | None = None,
) -> Message:
    """Check every rule, then queue one outbound message and nudge the dispatcher.

    Raises SendRefused (nothing is written) when a rule says no. `extra` sets further Message
    fields (links to a campaign or notification).
    """
    request = SendRequest(channel, contact, type, content, context_wamid, lane)
    template = message_check(request)
    message = Message(
        channel=channel,
        contact=contact,
        direction=Direction.OUTBOUND,
        type=MessageType(type),
        content=content,
        template=template,
        is_marketing=send_kind(template) == SendKind.MARKETING,
        context_wamid=context_wamid,
        lane=lane,
        sent_by=sent_by,
        is_automated=is_automated,
        **(extra or {}),
    )
    with transaction.atomic():
        message.save()
        message_conversation_touch(message)
        send_enqueue_on_commit(channel_id=channel.pk)
    return message


def message_conversation_touch(message: Message) -> None:
    """Attach an outbound message to its open conversation, if the contact has one."""
    conversation = message_conversation(message)
    if conversation is not None:
        Message.objects.filter(pk=message.pk).update(conversation=conversation)
        message.conversation = conversation


# --- Template content ---------------------------------------------------------------------------


def template_content_build(
    *,
    template: MessageTemplate,
    body: list[str] | dict[str, str] | None = None,
    header: list[str] | dict[str, str] | None = None,
    header_media_link: str | None = None,
    button_payloads: dict[str, str] | None = None,
    button_url_values: dict[str, str] | None = None,
    header_media_asset: int | None = None,
) -> dict[str, Any]:
    """The Cloud API `template` object for `template` with the given parameter values.

    Values are lists (positional templates) or dicts by name (named templates). A media
    header takes a library file (`header_media_asset`, its id: sent by the number's media
    id) or a public link.
    """
    named = (template.parameter_format or "").lower() == "named"

    def params(values, names):
        if not values:
            return []
        if named:
            values = values if isinstance(values, dict) else dict(zip(names, values, strict=False))
            return [
                {"type": "text", "parameter_name": n, "text": str(values.get(n, ""))} for n in names
            ]
        values = list(values.values()) if isinstance(values, dict) else list(values)
        return [{"type": "text", "text": str(v)} for v in values]

    declared = template.parameters or {}
    components: list[dict[str, Any]] = []
    header_format = template_header_format(template)
    if header_format in {"IMAGE", "VIDEO", "DOCUMENT"} and (
        header_media_asset or header_media_link
    ):
        kind = header_format.lower()
        media = {"asset": header_media_asset} if header_media_asset else {"link": header_media_link}
        components.append({"type": "header", "parameters": [{"type": kind, kind: media}]})
    elif header:
        components.append({"type": "header", "parameters": params(header, declared.get("header"))})
    if body:
        components.append({"type": "body", "parameters": params(body, declared.get("body", []))})
    for index, value in sorted((button_url_values or {}).items()):
        components.append(
            {
                "type": "button",
                "sub_type": "url",
                "index": str(index),
                "parameters": [{"type": "text", "text": value}],
            }
        )
    for index, payload in sorted((button_payloads or {}).items()):
        components.append(
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": str(index),
                "parameters": [{"type": "payload", "payload": payload}],
            }
        )
    content: dict[str, Any] = {
        "name": template.name,
        "language": {"code": template.language, "policy": "deterministic"},
    }
    if components:
        content["components"] = components
    return content
