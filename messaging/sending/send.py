"""The front of the send path: decide whether a message may go, then queue it.

Every rule is checked here, before anything reaches a provider: a refused send raises
`SendRefused` with a stable code and a reason a person can act on; it never becomes a failed
message. Accepted sends become `Message` rows in `queued`, and the dispatcher is nudged after
the transaction commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.errors import DomainError
from core.ssrf import UnsafeUrl, url_check_public
from crm.models import Consent, Contact
from crm.selectors import window_expires_at
from messaging.channels.models import Channel, MessageTemplate, TemplateCategory
from messaging.channels.selectors import template_unsendable_reason
from messaging.providers import InvalidMessage, OutboundMessage, validate_outbound
from messaging.sending.models import Conversation, Direction, Lane, Message, MessageType
from messaging.sending.nudge import send_enqueue_on_commit

MEDIA_TYPES = {"image", "video", "audio", "document", "sticker"}
SENDABLE_TYPES = {"text", "template", "interactive", "location", "contacts", "reaction"} | (
    MEDIA_TYPES
)
SENDABLE_TYPE_CHOICES = [(t, t) for t in sorted(SENDABLE_TYPES)]


class SendRefused(DomainError):
    """A message the rules do not allow; `code` says which rule."""

    code = "send_refused"
    status_code = 422


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
    reason = template_unsendable_reason(template)
    if reason is not None:
        raise SendRefused(
            reason, code="template_not_approved" if channel.is_active else "channel_inactive"
        )
    return template


def _component(components: Any, kind: str, index: str | None = None) -> dict | None:
    """The component of `kind` (and button `index`); malformed entries are skipped here and
    refused with their reason by `validate_outbound`, never a server error."""
    for component in components if isinstance(components, list) else []:
        if not isinstance(component, dict):
            continue
        if str(component.get("type", "")).lower() != kind:
            continue
        if index is None or str(component.get("index")) == index:
            return component
    return None


def _header_format(template: MessageTemplate) -> str:
    header = _component(template.components, "header")
    return str((header or {}).get("format", "")).upper()


def _parameters(component: dict | None) -> list[dict]:
    given = (component or {}).get("parameters")
    return [p for p in given if isinstance(p, dict)] if isinstance(given, list) else []


def _check_parameters(where: str, expected: list[str], fmt: str, given: list[dict]) -> None:
    if not expected:
        return
    if fmt == "named":
        names = {p.get("parameter_name") for p in given}
        missing = [name for name in expected if name not in names]
        if missing:
            raise SendRefused(
                f"Template {where} is missing parameters: {', '.join(missing)}.",
                code="template_parameters_missing",
                details={"missing": missing, "component": where},
            )
        return
    if len(given) != len(expected):
        raise SendRefused(
            f"Template {where} needs {len(expected)} parameter(s), got {len(given)}.",
            code="template_parameters_missing",
            details={"expected": len(expected), "given": len(given), "component": where},
        )


def template_parameters_check(*, template: MessageTemplate, content: dict[str, Any]) -> None:
    """Raise SendRefused unless `content` supplies every parameter the template declares."""
    components = content.get("components") or []
    fmt = (template.parameter_format or "positional").lower()
    declared = template.parameters or {}

    body = _component(components, "body")
    _check_parameters("body", declared.get("body", []), fmt, _parameters(body))

    header_format = _header_format(template)
    header_params = _parameters(_component(components, "header"))
    if header_format in {"IMAGE", "VIDEO", "DOCUMENT"}:
        kind = header_format.lower()
        if not any(p.get("type") == kind for p in header_params):
            raise SendRefused(
                f"Template header needs a {kind} parameter.",
                code="template_parameters_missing",
                details={"component": "header"},
            )
    else:
        _check_parameters("header", declared.get("header", []), fmt, header_params)

    for index, expected in (declared.get("buttons") or {}).items():
        button = _component(components, "button", str(index))
        _check_parameters(f"button {index}", expected, "positional", _parameters(button))


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


def contact_refusal(contact: Contact, *, marketing: bool, needs_window: bool) -> SendRefused | None:
    """Why `contact` may not receive this kind of message now, or None if they may."""
    if contact.blocked:
        return SendRefused("The contact is blocked.", code="contact_blocked")
    if contact.undeliverable:
        return SendRefused(
            f"The contact cannot receive WhatsApp messages "
            f"({contact.undeliverable_reason or 'undeliverable'}).",
            code="contact_undeliverable",
        )
    if not (contact.phone or contact.wa_id or contact.bsuid):
        return SendRefused("The contact has no phone number or WhatsApp id.", code="no_address")
    if marketing and contact.consent != Consent.OPTED_IN:
        return SendRefused(
            "Marketing messages need the contact's opt-in "
            f"(consent is {contact.get_consent_display().lower()}).",
            code="no_consent",
        )
    if needs_window:
        expires = window_expires_at(contact)
        if expires is None or expires <= timezone.now():
            return SendRefused(
                "The 24-hour customer-service window is closed: only an approved template "
                "can be sent until the contact writes again.",
                code="window_closed",
                details={"window_expires_at": expires.isoformat() if expires else None},
            )
    return None


def message_check(request: SendRequest) -> MessageTemplate | None:
    """Apply every send rule to `request`; return the template for template sends."""
    channel, contact, type_ = request.channel, request.contact, request.type
    if not channel.is_active or channel.paused_reason:
        raise SendRefused(
            f"Channel {channel.name} is not sending: {channel.paused_reason or 'inactive'}.",
            code="channel_inactive",
        )
    if type_ not in SENDABLE_TYPES:
        raise SendRefused(f"Messages of type {type_!r} cannot be sent.", code="invalid_message")
    template = None
    if type_ == "template":
        template = template_find(channel=channel, content=request.content)
        template_parameters_check(template=template, content=request.content)
    refusal = contact_refusal(
        contact,
        marketing=bool(template and template.category == TemplateCategory.MARKETING),
        needs_window=type_ != "template",
    )
    if refusal is not None:
        raise refusal
    message_check_content(request)
    return template


def message_check_content(request: SendRequest) -> None:
    """Media links pass the SSRF guard and the body keeps WhatsApp's documented limits."""
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

    try:
        validate_outbound(outbound_for(request))
    except InvalidMessage as exc:
        raise SendRefused(exc.reason, code="invalid_message", details={"field": exc.field}) from exc


def outbound_for(request: SendRequest, *, callback_data: str | None = None) -> OutboundMessage:
    contact = request.contact
    return OutboundMessage(
        type=request.type,
        content=request.content,
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
        is_marketing=bool(template and template.category == TemplateCategory.MARKETING),
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

    conversation = (
        Conversation.objects.filter(contact=message.contact, channel=message.channel)
        .only("pk")
        .first()
    )
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
) -> dict[str, Any]:
    """The Cloud API `template` object for `template` with the given parameter values.

    Values are lists (positional templates) or dicts by name (named templates).
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
    header_format = _header_format(template)
    if header_format in {"IMAGE", "VIDEO", "DOCUMENT"} and header_media_link:
        kind = header_format.lower()
        components.append(
            {"type": "header", "parameters": [{"type": kind, kind: {"link": header_media_link}}]}
        )
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
