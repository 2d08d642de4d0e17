"""The send policy: the one answer to "may this message go to this contact, from this number,
now?", asked when a message is queued and asked again just before the provider call.

Every path that creates outbound messages asks it: `message_send` (the API, inbox replies,
auto-replies, notifications, content unlocks, consent confirmations) one message at a time;
the bulk send API for its recipients (`send_policy_check_many`); campaign pre-flight and
launch and content distribution for whole audiences (`send_policy_audience_q`, conditions the
database counts and filters by). The dispatcher asks it for each claimed batch
(`send_policy_check_messages`), because what was true at queue time may not be at send time:
the contact opted out, the window closed, Meta paused the template.

A refusal carries a stable reason code. At queue time it is raised as `SendRefused` (the API
answers 422 with the code) or counted as an exclusion; at send time a refusal of the message
fails it without sending (`Message.refusal` keeps the code), while a refusal of the number
holds the batch: its messages wait, as they do for a paused channel.

| code | refused when |
| --- | --- |
| `channel_inactive` | the number is switched off, or paused (bad credentials, a lock) |
| `channel_restricted` | number health says WhatsApp restricted, banned or deleted it |
| `over_budget` | the number has no business-initiated (template) sends left |
| `template_not_approved` | the template is not APPROVED (pending, rejected, disabled...) |
| `template_paused` | Meta paused the template for its quality |
| `template_parameters_missing` | the content lacks parameters the template declares |
| `contact_blocked` | staff blocked the contact |
| `contact_undeliverable` | WhatsApp said the number cannot receive messages (131026) |
| `no_address` | the contact has no phone, WhatsApp id or BSUID |
| `opted_out` | a marketing template, and the contact opted out of marketing (*) |
| `no_consent` | a marketing template, and the contact never opted in |
| `window_closed` | free-form content, and this number's 24-hour window is closed |

(*) A STOP keyword, a tap on a marketing opt-out button ("Stop promotions"), Meta's marketing
preference "stop" (the `user_preferences` webhook), error 131050 and staff all record the
opt-out as the contact's consent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.db.models import Q
from django.utils import timezone

from core.errors import DomainError
from crm.models import Consent, Contact
from messaging.channels.health import BLOCKED_STATUSES
from messaging.channels.models import Channel, MessageTemplate, TemplateCategory, TemplateStatus
from messaging.channels.selectors import channel_budget_left, template_unsendable_reason
from messaging.sending.models import Conversation, Message, MessageType, window_closes_at


class SendRefused(DomainError):
    """A message the rules do not allow; `code` says which rule."""

    code = "send_refused"
    status_code = 422


class SendKind(StrEnum):
    """What WhatsApp charges and regulates a message as: a template's category, or a service
    message (free-form content inside the customer-service window)."""

    MARKETING = "marketing"
    UTILITY = "utility"
    AUTHENTICATION = "authentication"
    SERVICE = "service"


class Reason(StrEnum):
    CHANNEL_INACTIVE = "channel_inactive"
    CHANNEL_RESTRICTED = "channel_restricted"
    OVER_BUDGET = "over_budget"
    TEMPLATE_NOT_APPROVED = "template_not_approved"
    TEMPLATE_PAUSED = "template_paused"
    TEMPLATE_PARAMETERS_MISSING = "template_parameters_missing"
    CONTACT_BLOCKED = "contact_blocked"
    CONTACT_UNDELIVERABLE = "contact_undeliverable"
    NO_ADDRESS = "no_address"
    OPTED_OUT = "opted_out"
    NO_CONSENT = "no_consent"
    WINDOW_CLOSED = "window_closed"


# Refusals of the number rather than of the message: at send time the message waits.
HOLDING_REASONS = frozenset(
    {Reason.CHANNEL_INACTIVE, Reason.CHANNEL_RESTRICTED, Reason.OVER_BUDGET}
)

# Campaign and content reports have always counted these under shorter names (stored in
# `Campaign.excluded` and returned by their APIs); every other reason counts under its code.
EXCLUSION_KEYS: dict[str, str] = {
    Reason.CONTACT_BLOCKED: "blocked",
    Reason.CONTACT_UNDELIVERABLE: "undeliverable",
    Reason.NO_ADDRESS: "no_phone",
}


def exclusion_key(code: str) -> str:
    """The key a report counts a refusal under (see EXCLUSION_KEYS)."""
    return EXCLUSION_KEYS.get(code, code)


@dataclass(frozen=True)
class Refusal:
    """Why a message may not go: a Reason code and words a person can act on."""

    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def holds(self) -> bool:
        """True when the number, not the message, is refused: at send time it waits."""
        return self.code in HOLDING_REASONS

    def error(self) -> SendRefused:
        return SendRefused(self.message, code=str(self.code), details=dict(self.details))


@dataclass(frozen=True)
class SendCheck:
    """One message to check: who, what kind, which template with what content, and whether
    it needs the customer-service window (free-form content does)."""

    contact: Contact
    kind: str
    needs_window: bool
    template: MessageTemplate | None = None
    content: dict[str, Any] | None = None


def send_kind(template: MessageTemplate | None) -> SendKind:
    """Free-form content is a service message; a template is what its category says."""
    if template is None:
        return SendKind.SERVICE
    if template.category == TemplateCategory.MARKETING:
        return SendKind.MARKETING
    if template.category == TemplateCategory.AUTHENTICATION:
        return SendKind.AUTHENTICATION
    return SendKind.UTILITY


def message_kind(message: Message) -> SendKind:
    """A queued message's kind now: marketing if it was queued as marketing or Meta has since
    recategorised its template as marketing (consent then applies)."""
    if message.is_marketing:
        return SendKind.MARKETING
    return send_kind(message.template if message.template_id else None)


# --- The number --------------------------------------------------------------------------------


def send_policy_check_number(*, channel: Channel, kind: str, count: int = 1) -> Refusal | None:
    """Whether `channel` may send `count` messages of `kind` now (its state and budget)."""
    if not channel.is_active or channel.paused_reason:
        return Refusal(
            Reason.CHANNEL_INACTIVE,
            f"Channel {channel.name} is not sending: {channel.paused_reason or 'inactive'}.",
        )
    # Number health: Meta restricted, banned or deleted the number, so it may not start
    # conversations (replies inside an open window still go).
    status = channel.number_status
    if kind != SendKind.SERVICE and status in BLOCKED_STATUSES:
        return Refusal(
            Reason.CHANNEL_RESTRICTED,
            f"Number {channel.name} is {status.lower()} by WhatsApp: it may not start "
            "conversations until its status recovers.",
            details={"channel_status": status},
        )
    if kind != SendKind.SERVICE and count > 0:
        left = channel_budget_left(channel)
        if left is not None and left < count:
            return Refusal(
                Reason.OVER_BUDGET,
                f"Number {channel.name} may start {left:,} more business-initiated "
                f"conversation(s) today; {count:,} needed.",
                details={"left": left, "needed": count},
            )
    return None


# --- The template ------------------------------------------------------------------------------


def template_component(components: Any, kind: str, index: str | None = None) -> dict | None:
    """The first component of `kind` (header, body, button `index`) of a send body; malformed
    entries are skipped here and refused with their reason by `validate_outbound`, never a
    server error."""
    for component in components if isinstance(components, list) else []:
        if not isinstance(component, dict):
            continue
        if str(component.get("type", "")).lower() != kind:
            continue
        if index is None or str(component.get("index")) == index:
            return component
    return None


def template_header_format(template: MessageTemplate) -> str:
    """TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION; "" when the template has no header."""
    header = template_component(template.components, "header")
    return str((header or {}).get("format", "")).upper()


def _parameters(component: dict | None) -> list[dict]:
    given = (component or {}).get("parameters")
    return [p for p in given if isinstance(p, dict)] if isinstance(given, list) else []


def _parameters_refusal(
    where: str, expected: list[str], fmt: str, given: list[dict]
) -> Refusal | None:
    if not expected:
        return None
    if fmt == "named":
        names = {p.get("parameter_name") for p in given}
        missing = [name for name in expected if name not in names]
        if missing:
            return Refusal(
                Reason.TEMPLATE_PARAMETERS_MISSING,
                f"Template {where} is missing parameters: {', '.join(missing)}.",
                details={"missing": missing, "component": where},
            )
        return None
    if len(given) != len(expected):
        return Refusal(
            Reason.TEMPLATE_PARAMETERS_MISSING,
            f"Template {where} needs {len(expected)} parameter(s), got {len(given)}.",
            details={"expected": len(expected), "given": len(given), "component": where},
        )
    return None


def template_parameters_refusal(
    *, template: MessageTemplate, content: dict[str, Any]
) -> Refusal | None:
    """Whether `content` supplies every parameter the template declares (None: it does)."""
    components = content.get("components") if isinstance(content, dict) else None
    fmt = (template.parameter_format or "positional").lower()
    declared = template.parameters or {}

    body = template_component(components, "body")
    refusal = _parameters_refusal("body", declared.get("body", []), fmt, _parameters(body))
    if refusal is not None:
        return refusal

    header_format = template_header_format(template)
    header_params = _parameters(template_component(components, "header"))
    if header_format in {"IMAGE", "VIDEO", "DOCUMENT"}:
        kind = header_format.lower()
        if not any(p.get("type") == kind for p in header_params):
            return Refusal(
                Reason.TEMPLATE_PARAMETERS_MISSING,
                f"Template header needs a {kind} parameter.",
                details={"component": "header"},
            )
    else:
        refusal = _parameters_refusal("header", declared.get("header", []), fmt, header_params)
        if refusal is not None:
            return refusal

    for index, expected in (declared.get("buttons") or {}).items():
        button = template_component(components, "button", str(index))
        refusal = _parameters_refusal(
            f"button {index}", expected, "positional", _parameters(button)
        )
        if refusal is not None:
            return refusal
    return None


def send_policy_check_template(
    *, template: MessageTemplate, content: dict[str, Any] | None = None
) -> Refusal | None:
    """Whether `template` may be sent now and, given `content`, whether that fills it."""
    reason = template_unsendable_reason(template)
    if reason is not None:
        if template.status == TemplateStatus.PAUSED:
            code = Reason.TEMPLATE_PAUSED
        elif template.status == TemplateStatus.APPROVED:
            code = Reason.CHANNEL_INACTIVE  # approved, but on a number switched off
        else:
            code = Reason.TEMPLATE_NOT_APPROVED
        return Refusal(code, reason, details={"template_status": template.status})
    if content is not None:
        return template_parameters_refusal(template=template, content=content)
    return None


# --- The contact and the window ----------------------------------------------------------------


def _contact_refusal(contact: Contact, kind: str) -> Refusal | None:
    if contact.blocked:
        return Refusal(Reason.CONTACT_BLOCKED, "The contact is blocked.")
    if contact.undeliverable:
        return Refusal(
            Reason.CONTACT_UNDELIVERABLE,
            f"The contact cannot receive WhatsApp messages "
            f"({contact.undeliverable_reason or 'undeliverable'}).",
        )
    if not (contact.phone or contact.wa_id or contact.bsuid):
        return Refusal(Reason.NO_ADDRESS, "The contact has no phone number or WhatsApp id.")
    if kind == SendKind.MARKETING and contact.consent == Consent.OPTED_OUT:
        return Refusal(
            Reason.OPTED_OUT,
            "The contact opted out of marketing messages.",
            details={"consent": contact.consent},
        )
    if kind == SendKind.MARKETING and contact.consent != Consent.OPTED_IN:
        return Refusal(
            Reason.NO_CONSENT,
            "Marketing messages need the contact's opt-in "
            f"(consent is {contact.get_consent_display().lower()}).",
            details={"consent": contact.consent},
        )
    return None


def _window_refusal(last_inbound_at: datetime | None, at: datetime) -> Refusal | None:
    expires = window_closes_at(last_inbound_at)
    if expires is not None and expires > at:
        return None
    return Refusal(
        Reason.WINDOW_CLOSED,
        "The 24-hour customer-service window with this number is closed: only an approved "
        "template can be sent until the contact writes to it again.",
        details={"window_expires_at": expires.isoformat() if expires else None},
    )


def _last_inbound(channel: Channel, contact_ids: set[int]) -> dict[int, datetime | None]:
    """Each contact's last message to `channel` (one query): the window is per number."""
    if not contact_ids:
        return {}
    rows = Conversation.objects.filter(channel=channel, contact_id__in=contact_ids)
    return dict(rows.values_list("contact_id", "last_inbound_at"))


# --- Asking ------------------------------------------------------------------------------------


def send_policy_check_many(
    *, channel: Channel, checks: Sequence[SendCheck], at: datetime | None = None
) -> list[Refusal | None]:
    """The policy for several messages from one number, in order: a refusal or None each.

    Rules apply in this order, the first refusal winning: the number (state, budget), the
    template (state, parameters), the contact (blocked, undeliverable, no address, consent),
    then the window with this number at `at` (default now) for free-form content. The windows
    cost one query for the whole list; templates and contacts are read as given.
    """
    at = at or timezone.now()
    needing_window = {check.contact.pk for check in checks if check.needs_window}
    last_inbound = _last_inbound(channel, needing_window)
    number: dict[str, Refusal | None] = {}
    results: list[Refusal | None] = []
    for check in checks:
        if check.kind not in number:
            number[check.kind] = send_policy_check_number(channel=channel, kind=check.kind)
        refusal = number[check.kind]
        if refusal is None and check.template is not None:
            refusal = send_policy_check_template(template=check.template, content=check.content)
        if refusal is None:
            refusal = _contact_refusal(check.contact, check.kind)
        if refusal is None and check.needs_window:
            refusal = _window_refusal(last_inbound.get(check.contact.pk), at)
        results.append(refusal)
    return results


def send_policy_check(
    *,
    contact: Contact,
    channel: Channel,
    kind: str,
    needs_window: bool,
    template: MessageTemplate | None = None,
    content: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> Refusal | None:
    """Whether one message may go now (None) or why not. See `send_policy_check_many`."""
    check = SendCheck(
        contact=contact, kind=kind, needs_window=needs_window, template=template, content=content
    )
    return send_policy_check_many(channel=channel, checks=[check], at=at)[0]


def send_policy_check_messages(
    *, channel: Channel, messages: Sequence[Message], at: datetime | None = None
) -> dict[int, Refusal]:
    """The policy for queued messages of `channel` about to be sent: {message id: refusal}
    for those that may not go now.

    Messages come with `contact` and `template` loaded (the claim joins them); the windows
    of the free-form ones cost one query. A template's channel is the batch's channel.
    """
    checks = []
    for message in messages:
        template = message.template if message.template_id else None
        if template is not None and template.channel_id == channel.pk:
            template.channel = channel
        checks.append(
            SendCheck(
                contact=message.contact,
                kind=message_kind(message),
                needs_window=message.type != MessageType.TEMPLATE,
                template=template,
                content=message.content if template is not None else None,
            )
        )
    refusals = send_policy_check_many(channel=channel, checks=checks, at=at)
    return {m.pk: r for m, r in zip(messages, refusals, strict=True) if r is not None}


def send_policy_audience_q(*, kind: str, contact_path: str = "") -> dict[str, Q]:
    """The contact rules as conditions over a queryset, for audiences too large to check one
    by one (campaign pre-flight and launch, content distribution): {reason code: Q}, in the
    order `send_policy_check` applies them and mutually exclusive, so counts add up.

    `contact_path` leads from the queryset's model to Contact ("" for Contact itself,
    "contact" for Advisor). Audiences receive templates only, so no window applies; the
    number and the template are checked once for the whole send
    (`send_policy_check_number`, `send_policy_check_template`).
    """
    p = f"{contact_path}__" if contact_path else ""

    def q(**lookups: Any) -> Q:
        return Q(**{p + name: value for name, value in lookups.items()})

    no_address = q(phone__isnull=True, wa_id__isnull=True, bsuid__isnull=True)
    reachable = q(blocked=False, undeliverable=False)
    reasons = {
        Reason.CONTACT_BLOCKED.value: q(blocked=True),
        Reason.CONTACT_UNDELIVERABLE.value: q(blocked=False, undeliverable=True),
        Reason.NO_ADDRESS.value: reachable & no_address,
    }
    if kind == SendKind.MARKETING:
        addressable = reachable & ~no_address
        reasons[Reason.OPTED_OUT.value] = addressable & q(consent=Consent.OPTED_OUT)
        reasons[Reason.NO_CONSENT.value] = addressable & ~q(
            consent__in=[Consent.OPTED_IN, Consent.OPTED_OUT]
        )
    return reasons
