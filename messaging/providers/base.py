"""The provider interface: what every WhatsApp backend implements, in neutral terms.

Services never see a provider's wire format. They build an `OutboundMessage`, call
`Provider.send()` and get a `SendResult` or one of four errors that say what to do next:

* `TemporaryError`: nothing was accepted; retry later (honour `retry_after` when set).
* `PermanentError`: the provider refused this message; retrying will not help.
* `AmbiguousError`: the request may have reached the provider; do not resend blindly, let the
  status webhook (`biz_opaque_callback_data`) settle it.
* `AuthError`: the credentials are bad or lack permission; stop the channel and alert.

Webhooks come back as a list of neutral events (`InboundMessage`, `StatusUpdate`, ...) so the
webhook processor is the same whichever provider delivered them. Nothing here imports Django.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar

# --- Documented limits (WHATSAPP.md 2.1) ---------------------------------------------------

MAX_TEXT_BODY = 4096
MAX_CAPTION = 1024
MAX_REPLY_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_BUTTON_ID = 256
MAX_LIST_ROWS = 10
MAX_LIST_SECTIONS = 10
MAX_LIST_BUTTON_TEXT = 20
MAX_ROW_ID = 200
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_SECTION_TITLE = 24
MAX_INTERACTIVE_BODY = 1024
MAX_INTERACTIVE_HEADER_TEXT = 60
MAX_INTERACTIVE_FOOTER = 60
MAX_CALLBACK_DATA = 512

MEDIA_TYPES = frozenset({"image", "video", "audio", "document", "sticker"})
MESSAGE_TYPES = frozenset(
    {"text", "template", "interactive", "location", "contacts", "reaction"} | MEDIA_TYPES
)
TEMPLATE_COMPONENT_TYPES = frozenset({"header", "body", "button", "footer", "carousel"})
TEMPLATE_PARAMETER_TYPES = frozenset(
    {
        "text",
        "currency",
        "date_time",
        "image",
        "video",
        "document",
        "location",
        "payload",
        "coupon_code",
        "action",
        "product",
        "order_status",
        "limited_time_offer",
        "tap_target_configuration",
    }
)

_PHONE_RE = re.compile(r"^\+?[1-9]\d{6,14}$")
_PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


# --- Errors ----------------------------------------------------------------------------------


class ProviderError(Exception):
    """A provider call did not produce an accepted message. See the subclasses."""

    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        code: int | str | None = None,
        title: str | None = None,
        detail: str | None = None,
        http_status: int | None = None,
        raw: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.title = title
        self.detail = detail
        self.http_status = http_status
        self.raw = raw

    def __str__(self) -> str:
        parts = [self.message]
        if self.code is not None and f"#{self.code}" not in self.message:
            parts.append(f"code={self.code}")
        if self.http_status is not None:
            parts.append(f"http={self.http_status}")
        return " ".join(parts)


class TemporaryError(ProviderError):
    """Not accepted, safe to retry (throttling, outage, connection refused)."""

    retryable = True

    def __init__(self, message: str, *args: Any, retry_after: float | None = None, **kwargs: Any):
        super().__init__(message, *args, **kwargs)
        self.retry_after = retry_after


class PermanentError(ProviderError):
    """Refused for this message or recipient; retrying the same request will not help."""


class AmbiguousError(ProviderError):
    """The request may have reached the provider (response lost or unreadable). Never resend
    blindly; wait for the status webhook to say what happened."""


class AuthError(ProviderError):
    """Credentials missing, expired or lacking permission: stop the channel and alert."""


class UnsupportedOperation(PermanentError):
    """The provider has no API for this (e.g. creating templates through MyOperator)."""


class InvalidMessage(ValueError):
    """An outbound message breaks a documented limit; raised before any HTTP call."""

    def __init__(self, reason: str, *, field: str | None = None, missing: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.field = field
        self.missing = missing


# --- Outbound ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class OutboundMessage:
    """One message to send. `content` is the object named after `type`, exactly as in the
    Cloud API body (`{"body": ..., "preview_url": ...}` for text). For `contacts`, whose Cloud
    API value is a list, `content` is `{"contacts": [...]}`."""

    type: str
    content: dict[str, Any]
    to: str | None = None
    recipient_bsuid: str | None = None
    context_wamid: str | None = None
    callback_data: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class SendResult:
    provider_message_id: str
    wa_id: str | None = None
    user_id: str | None = None
    message_status: str | None = None
    raw: Any = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class MediaContent:
    media_id: str
    url: str
    mime_type: str
    content: bytes = dataclasses.field(repr=False)
    sha256: str | None = None
    file_size: int | None = None


# --- Templates --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class TemplateParameters:
    """Placeholders declared by a template, per component, in first-use order."""

    format: str  # "POSITIONAL" or "NAMED"
    header: list[str]
    body: list[str]
    buttons: dict[str, list[str]]  # button index ("0".."9") -> placeholders in its URL


@dataclasses.dataclass(frozen=True, kw_only=True)
class TemplateInfo:
    external_id: str
    name: str
    language: str
    category: str
    status: str
    components: list[dict[str, Any]]
    parameter_format: str
    parameters: list[str]  # body placeholders: "1", "2", ... or names
    header_parameters: list[str] = dataclasses.field(default_factory=list)
    button_parameters: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    rejected_reason: str | None = None
    # Meta's quality rating of the template: GREEN, YELLOW, RED or UNKNOWN (too new to rate).
    quality_score: str | None = None
    raw: Any = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class TemplateSubmission:
    """What the provider answered to a template creation or edit: its id for the template,
    and the status and category it gave it (Meta may re-categorise on creation)."""

    external_id: str
    status: str
    category: str | None = None
    raw: Any = None


def _placeholders(text: Any) -> list[str]:
    if not isinstance(text, str):
        return []
    seen: dict[str, None] = {}
    for name in _PLACEHOLDER_RE.findall(text):
        seen.setdefault(name, None)
    return list(seen)


def parse_template_parameters(
    components: Iterable[Mapping[str, Any]] | None, declared_format: str | None = None
) -> TemplateParameters:
    """Read the `{{1}}` / `{{name}}` placeholders of a template definition's components."""
    header: list[str] = []
    body: list[str] = []
    buttons: dict[str, list[str]] = {}
    for component in components or ():
        if not isinstance(component, Mapping):
            continue
        kind = str(component.get("type", "")).upper()
        if kind == "HEADER" and str(component.get("format", "TEXT")).upper() == "TEXT":
            header = _placeholders(component.get("text"))
        elif kind == "BODY":
            body = _placeholders(component.get("text"))
        elif kind == "BUTTONS":
            for index, button in enumerate(component.get("buttons") or ()):
                if isinstance(button, Mapping):
                    names = _placeholders(button.get("url"))
                    if names:
                        buttons[str(index)] = names
    fmt = (declared_format or "").upper()
    if fmt not in ("POSITIONAL", "NAMED"):
        every = header + body + [n for names in buttons.values() for n in names]
        fmt = "NAMED" if any(not n.isdigit() for n in every) else "POSITIONAL"
    return TemplateParameters(format=fmt, header=header, body=body, buttons=buttons)


def _quality_score(value: Any) -> str | None:
    """Graph's `quality_score` object ({"score": "GREEN", "date": ...}), or a bare score."""
    score = value.get("score") if isinstance(value, Mapping) else value
    return str(score).upper()[:16] if isinstance(score, str) and score.strip() else None


def template_info_from_graph(item: Mapping[str, Any]) -> TemplateInfo:
    """Build a `TemplateInfo` from one item of Graph's `message_templates` list."""
    components = [c for c in item.get("components") or () if isinstance(c, Mapping)]
    params = parse_template_parameters(components, item.get("parameter_format"))
    return TemplateInfo(
        external_id=str(item.get("id", "")),
        name=str(item.get("name", "")),
        language=str(item.get("language", "")),
        category=str(item.get("category", "")).upper(),
        status=str(item.get("status", "")).upper(),
        components=[dict(c) for c in components],
        parameter_format=params.format,
        parameters=params.body,
        header_parameters=params.header,
        button_parameters=params.buttons,
        rejected_reason=item.get("rejected_reason"),
        quality_score=_quality_score(item.get("quality_score")),
        raw=dict(item),
    )


# --- Number health ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class NumberHealth:
    """A number's health as the provider's API reports it now (Graph `GET /{phone_number_id}`).

    Values as sent: `messaging_tier` may be a tier code or a number of recipients; the
    channels room reads them and reports what it cannot read.
    """

    quality_rating: str | None
    messaging_tier: Any
    status: str | None
    name_status: str | None = None
    display_phone_number: str | None = None
    verified_name: str | None = None
    raw: Any = None


# --- Inbound (webhook) events -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class InboundMessage:
    channel_key: str | None  # the phone_number_id the message was sent to
    wamid: str
    from_wa_id: str | None
    from_bsuid: str | None
    profile_name: str | None
    timestamp: dt.datetime | None
    type: str
    content: dict[str, Any]
    context_wamid: str | None = None
    context_from: str | None = None
    errors: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    waba_id: str | None = None
    raw: Any = None

    @property
    def text(self) -> str | None:
        """The human text of the message, whatever its type."""
        if self.type == "text":
            return self.content.get("body")
        if self.type == "button":
            return self.content.get("text")
        if self.type == "interactive":
            reply = self.content.get("button_reply") or self.content.get("list_reply") or {}
            return reply.get("title")
        if self.type in MEDIA_TYPES:
            return self.content.get("caption")
        return None

    @property
    def reply_id(self) -> str | None:
        """The payload or id of a tapped button or list row (None for other messages)."""
        if self.type == "button":
            return self.content.get("payload") or self.content.get("text")
        if self.type == "interactive":
            reply = self.content.get("button_reply") or self.content.get("list_reply") or {}
            return reply.get("id")
        return None


@dataclasses.dataclass(frozen=True, kw_only=True)
class MessageEdit:
    """A user edited a message they had sent. `message` is the new version: its `wamid` is
    the edit's own id, its type and content the edited message's. The edit belongs on the
    original message (`original_wamid`), not beside it."""

    channel_key: str | None
    original_wamid: str
    message: InboundMessage
    waba_id: str | None = None

    @property
    def wamid(self) -> str:
        return self.message.wamid

    @property
    def timestamp(self) -> dt.datetime | None:
        return self.message.timestamp


@dataclasses.dataclass(frozen=True, kw_only=True)
class MessageDeletion:
    """A user deleted ("revoked") a message they had sent; `wamid` is the deletion's own id,
    `original_wamid` the deleted message's."""

    channel_key: str | None
    wamid: str
    original_wamid: str
    from_wa_id: str | None
    from_bsuid: str | None
    timestamp: dt.datetime | None
    waba_id: str | None = None
    raw: Any = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class StatusUpdate:
    channel_key: str | None
    wamid: str
    status: str
    timestamp: dt.datetime | None
    recipient_id: str | None = None
    recipient_bsuid: str | None = None
    callback_data: str | None = None
    conversation: dict[str, Any] = dataclasses.field(default_factory=dict)
    pricing: dict[str, Any] = dataclasses.field(default_factory=dict)
    errors: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    waba_id: str | None = None
    raw: Any = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class TemplateStatusUpdate:
    """Meta's `message_template_status_update`: `status` is the event (APPROVED, REJECTED,
    PAUSED, ...); `detail` Meta's explanation (rejection info, why it was disabled)."""

    name: str
    language: str | None
    status: str
    reason: str | None = None
    external_id: str | None = None
    category: str | None = None
    waba_id: str | None = None
    timestamp: dt.datetime | None = None
    detail: dict[str, Any] = dataclasses.field(default_factory=dict)
    raw: Any = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class TemplateQualityUpdate:
    """Meta's `message_template_quality_update`: the template's quality rating changed."""

    name: str
    language: str | None
    quality: str
    previous: str | None = None
    external_id: str | None = None
    waba_id: str | None = None
    raw: Any = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class TemplateCategoryUpdate:
    """Meta's `template_category_update`: Meta re-categorised the template (`new_category`),
    or tells ahead of time what it will become (`correct_category`)."""

    name: str
    language: str | None
    new_category: str | None
    previous: str | None = None
    correct_category: str | None = None
    external_id: str | None = None
    waba_id: str | None = None
    raw: Any = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class UserPreference:
    channel_key: str | None
    wa_id: str | None
    bsuid: str | None
    category: str
    value: str  # "stop" | "resume" (others passed through lower-cased)
    timestamp: dt.datetime | None
    detail: str | None = None
    waba_id: str | None = None
    raw: Any = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class WebhookError:
    channel_key: str | None
    errors: list[dict[str, Any]]
    waba_id: str | None = None
    raw: Any = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class NumberHealthUpdate:
    """What the provider says of a number's or an account's health: quality events, the
    messaging limit, restrictions and bans (Meta's `phone_number_quality_update`,
    `account_update`, `business_capability_update`).

    The number is named by `channel_key` (its phone_number_id) when the change carries one,
    else by `display_phone_number` within `waba_id`; `account_wide` changes concern every
    number of the account. `tier` is the limit as sent (`"TIER_1K"`, `2000`, `-1`), read by
    the channels room, which refuses what it cannot read. `status` is set only when the event
    says what the number's status now is; when `status_replaces` is given, it replaces only
    those statuses (UNFLAGGED clears a flag, not a restriction).
    """

    field: str
    event: str | None
    waba_id: str | None
    channel_key: str | None = None
    display_phone_number: str | None = None
    account_wide: bool = False
    tier: Any = None
    status: str | None = None
    status_replaces: tuple[str, ...] | None = None
    detail: str | None = None
    timestamp: dt.datetime | None = None
    raw: Any = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class UnhandledChange:
    """A webhook change we do not interpret (calls, partner events, ...): kept for the
    audit log."""

    field: str
    waba_id: str | None
    value: Any = None


WebhookEvent = (
    InboundMessage
    | MessageEdit
    | MessageDeletion
    | StatusUpdate
    | TemplateStatusUpdate
    | TemplateQualityUpdate
    | TemplateCategoryUpdate
    | UserPreference
    | NumberHealthUpdate
    | WebhookError
    | UnhandledChange
)


def normalise_timestamp(value: Any) -> dt.datetime | None:
    """Unix seconds (int or string) to an aware UTC datetime; millisecond values, which have
    been observed in the wild, are recognised by their size."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number > 1e14:  # microseconds
        number /= 1_000_000
    elif number > 1e11:  # milliseconds (1e11 s is the year 5138)
        number /= 1000
    try:
        return dt.datetime.fromtimestamp(number, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def normalise_errors(errors: Any) -> list[dict[str, Any]]:
    """Errors as `{code, title, message, details}` whatever shape they arrived in."""
    result: list[dict[str, Any]] = []
    if not isinstance(errors, list):
        return result
    for error in errors:
        if not isinstance(error, Mapping):
            continue
        code = error.get("code")
        with contextlib.suppress(TypeError, ValueError):
            code = int(code) if code is not None else None
        data = error.get("error_data")
        details = data.get("details") if isinstance(data, Mapping) else None
        result.append(
            {
                "code": code,
                "title": error.get("title"),
                "message": error.get("message"),
                "details": details or error.get("details"),
            }
        )
    return result


def digits_only(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


# --- Validation ----------------------------------------------------------------------------


def _require_str(obj: Mapping[str, Any], key: str, where: str, *, max_len: int | None = None):
    value = obj.get(key)
    if value is None or value == "":
        raise InvalidMessage(f"{where}.{key} is required", field=f"{where}.{key}", missing=True)
    if not isinstance(value, str):
        raise InvalidMessage(f"{where}.{key} must be a string", field=f"{where}.{key}")
    if max_len is not None and len(value) > max_len:
        raise InvalidMessage(
            f"{where}.{key} is {len(value)} characters; the limit is {max_len}",
            field=f"{where}.{key}",
        )
    return value


def _optional_str(obj: Mapping[str, Any], key: str, where: str, *, max_len: int):
    if obj.get(key) is None:
        return
    _require_str(obj, key, where, max_len=max_len)


def _validate_media(kind: str, media: Mapping[str, Any]) -> None:
    has_id = bool(media.get("id"))
    has_link = bool(media.get("link"))
    if has_id == has_link:
        raise InvalidMessage(
            f"{kind} needs exactly one of 'id' (uploaded media) or 'link'",
            field=kind,
            missing=not (has_id or has_link),
        )
    if has_link:
        link = media["link"]
        if not isinstance(link, str) or not link.lower().startswith(("https://", "http://")):
            raise InvalidMessage(f"{kind}.link must be an http(s) URL", field=f"{kind}.link")
    if has_id and not isinstance(media["id"], str | int):
        raise InvalidMessage(f"{kind}.id must be a string", field=f"{kind}.id")
    if "caption" in media and media["caption"] is not None:
        if kind in ("audio", "sticker"):
            raise InvalidMessage(f"{kind} messages cannot have a caption", field=f"{kind}.caption")
        _require_str(media, "caption", kind, max_len=MAX_CAPTION)
    if media.get("filename") is not None and kind != "document":
        raise InvalidMessage("only documents take a filename", field=f"{kind}.filename")


def _validate_interactive(obj: Mapping[str, Any]) -> None:
    kind = obj.get("type")
    if not kind:
        raise InvalidMessage("interactive.type is required", field="interactive.type", missing=True)
    header = obj.get("header")
    if isinstance(header, Mapping) and header.get("type") == "text":
        _require_str(header, "text", "interactive.header", max_len=MAX_INTERACTIVE_HEADER_TEXT)
    elif isinstance(header, Mapping) and header.get("type") in MEDIA_TYPES:
        _validate_media(header["type"], header.get(header["type"]) or {})
    footer = obj.get("footer")
    if isinstance(footer, Mapping):
        _optional_str(footer, "text", "interactive.footer", max_len=MAX_INTERACTIVE_FOOTER)
    action = obj.get("action")
    if kind in ("button", "list", "cta_url", "flow"):
        body = obj.get("body")
        if not isinstance(body, Mapping):
            raise InvalidMessage(
                "interactive.body is required", field="interactive.body", missing=True
            )
        _require_str(body, "text", "interactive.body", max_len=MAX_INTERACTIVE_BODY)
        if not isinstance(action, Mapping):
            raise InvalidMessage(
                "interactive.action is required", field="interactive.action", missing=True
            )
    if kind == "button":
        buttons = action.get("buttons")
        if not isinstance(buttons, list) or not buttons:
            raise InvalidMessage(
                "interactive.action.buttons needs 1 to 3 reply buttons",
                field="interactive.action.buttons",
                missing=True,
            )
        if len(buttons) > MAX_REPLY_BUTTONS:
            raise InvalidMessage(
                f"{len(buttons)} reply buttons; the limit is {MAX_REPLY_BUTTONS}",
                field="interactive.action.buttons",
            )
        ids, titles = set(), set()
        for i, button in enumerate(buttons):
            where = f"interactive.action.buttons[{i}]"
            if not isinstance(button, Mapping) or button.get("type") != "reply":
                raise InvalidMessage(f"{where} must be {{type: reply, reply: {{id, title}}}}")
            reply = button.get("reply")
            if not isinstance(reply, Mapping):
                raise InvalidMessage(f"{where}.reply is required", field=where, missing=True)
            ids.add(_require_str(reply, "id", f"{where}.reply", max_len=MAX_BUTTON_ID))
            titles.add(_require_str(reply, "title", f"{where}.reply", max_len=MAX_BUTTON_TITLE))
        if len(ids) != len(buttons) or len(titles) != len(buttons):
            raise InvalidMessage("reply button ids and titles must be unique")
    elif kind == "list":
        _require_str(action, "button", "interactive.action", max_len=MAX_LIST_BUTTON_TEXT)
        sections = action.get("sections")
        if not isinstance(sections, list) or not sections:
            raise InvalidMessage(
                "interactive.action.sections is required",
                field="interactive.action.sections",
                missing=True,
            )
        if len(sections) > MAX_LIST_SECTIONS:
            raise InvalidMessage(f"{len(sections)} sections; the limit is {MAX_LIST_SECTIONS}")
        total = 0
        row_ids: set[str] = set()
        for s, section in enumerate(sections):
            where = f"interactive.action.sections[{s}]"
            if not isinstance(section, Mapping):
                raise InvalidMessage(f"{where} must be an object")
            if len(sections) > 1:
                _require_str(section, "title", where, max_len=MAX_SECTION_TITLE)
            else:
                _optional_str(section, "title", where, max_len=MAX_SECTION_TITLE)
            rows = section.get("rows")
            if not isinstance(rows, list) or not rows:
                raise InvalidMessage(f"{where}.rows is required", missing=True)
            for r, row in enumerate(rows):
                rwhere = f"{where}.rows[{r}]"
                if not isinstance(row, Mapping):
                    raise InvalidMessage(f"{rwhere} must be an object")
                row_ids.add(_require_str(row, "id", rwhere, max_len=MAX_ROW_ID))
                _require_str(row, "title", rwhere, max_len=MAX_ROW_TITLE)
                _optional_str(row, "description", rwhere, max_len=MAX_ROW_DESCRIPTION)
            total += len(rows)
        if total > MAX_LIST_ROWS:
            raise InvalidMessage(f"{total} list rows; the limit is {MAX_LIST_ROWS} in total")
        if len(row_ids) != total:
            raise InvalidMessage("list row ids must be unique")
    elif kind == "cta_url":
        params = action.get("parameters")
        if not isinstance(params, Mapping):
            raise InvalidMessage("interactive.action.parameters is required", missing=True)
        _require_str(
            params, "display_text", "interactive.action.parameters", max_len=MAX_BUTTON_TITLE
        )
        _require_str(params, "url", "interactive.action.parameters")


def _validate_template(template: Mapping[str, Any]) -> None:
    _require_str(template, "name", "template", max_len=512)
    language = template.get("language")
    if not isinstance(language, Mapping) or not language.get("code"):
        raise InvalidMessage(
            "template.language.code is required", field="template.language", missing=True
        )
    components = template.get("components", [])
    if components is None:
        return
    if not isinstance(components, list):
        raise InvalidMessage("template.components must be a list", field="template.components")
    for i, component in enumerate(components):
        where = f"template.components[{i}]"
        if not isinstance(component, Mapping):
            raise InvalidMessage(f"{where} must be an object")
        kind = str(component.get("type", "")).lower()
        if kind not in TEMPLATE_COMPONENT_TYPES:
            raise InvalidMessage(f"{where}.type must be header, body or button", field=where)
        if kind == "button":
            if not component.get("sub_type"):
                raise InvalidMessage(f"{where}.sub_type is required", missing=True)
            index = component.get("index")
            if index is None or not str(index).isdigit():
                raise InvalidMessage(f"{where}.index must be a button position such as '0'")
        params = component.get("parameters", [])
        if not isinstance(params, list):
            raise InvalidMessage(f"{where}.parameters must be a list")
        for p, param in enumerate(params):
            _validate_template_parameter(param, f"{where}.parameters[{p}]")


def _validate_template_parameter(param: Any, where: str) -> None:
    if not isinstance(param, Mapping) or not param.get("type"):
        raise InvalidMessage(f"{where}.type is required", missing=True)
    kind = param["type"]
    if kind not in TEMPLATE_PARAMETER_TYPES:
        raise InvalidMessage(f"{where}.type '{kind}' is not a template parameter type")
    if kind == "text":
        if not isinstance(param.get("text"), str):
            raise InvalidMessage(f"{where}.text is required", missing=True)
    elif kind == "currency":
        currency = param.get("currency")
        if not isinstance(currency, Mapping):
            raise InvalidMessage(f"{where}.currency is required", missing=True)
        for key in ("fallback_value", "code", "amount_1000"):
            if currency.get(key) in (None, ""):
                raise InvalidMessage(f"{where}.currency.{key} is required", missing=True)
        if not isinstance(currency["amount_1000"], int) or isinstance(
            currency["amount_1000"], bool
        ):
            raise InvalidMessage(f"{where}.currency.amount_1000 must be an integer")
    elif kind == "date_time":
        value = param.get("date_time")
        if not isinstance(value, Mapping) or not value.get("fallback_value"):
            raise InvalidMessage(f"{where}.date_time.fallback_value is required", missing=True)
    elif kind in ("image", "video", "document"):
        _validate_media(kind, param.get(kind) or {})
    elif kind == "payload" and (not isinstance(param.get("payload"), str) or not param["payload"]):
        raise InvalidMessage(f"{where}.payload is required", missing=True)


def validate_outbound(message: OutboundMessage) -> None:
    """Enforce the documented limits before any HTTP call; raises `InvalidMessage`."""
    if not message.to and not message.recipient_bsuid:
        raise InvalidMessage("a recipient is required: 'to' or 'recipient_bsuid'", missing=True)
    if message.to and not _PHONE_RE.match(message.to.replace(" ", "").replace("-", "")):
        raise InvalidMessage(f"'to' is not an E.164 number: {message.to!r}", field="to")
    if message.type not in MESSAGE_TYPES:
        raise InvalidMessage(
            f"unknown message type {message.type!r}; expected one of {sorted(MESSAGE_TYPES)}",
            field="type",
        )
    content = message.content
    if not isinstance(content, Mapping):
        raise InvalidMessage(f"content of a {message.type} message must be an object")
    if message.callback_data is not None and len(message.callback_data) > MAX_CALLBACK_DATA:
        raise InvalidMessage(f"callback data is longer than {MAX_CALLBACK_DATA} characters")
    kind = message.type
    if kind == "text":
        _require_str(content, "body", "text", max_len=MAX_TEXT_BODY)
        if "preview_url" in content and not isinstance(content["preview_url"], bool):
            raise InvalidMessage("text.preview_url must be true or false")
    elif kind in MEDIA_TYPES:
        _validate_media(kind, content)
    elif kind == "interactive":
        _validate_interactive(content)
    elif kind == "template":
        _validate_template(content)
    elif kind == "location":
        for key, bound in (("latitude", 90), ("longitude", 180)):
            value = content.get(key)
            if not isinstance(value, int | float | str) or isinstance(value, bool):
                raise InvalidMessage(f"location.{key} is required", missing=True)
            try:
                number = float(value)
            except ValueError:
                raise InvalidMessage(f"location.{key} must be a number") from None
            if not -bound <= number <= bound:
                raise InvalidMessage(f"location.{key} is out of range")
    elif kind == "reaction":
        _require_str(content, "message_id", "reaction")
        if not isinstance(content.get("emoji", None), str):
            raise InvalidMessage("reaction.emoji is required ('' removes a reaction)", missing=True)
        if message.context_wamid:
            raise InvalidMessage("reactions cannot carry a reply context")
    elif kind == "contacts":
        contacts = content.get("contacts")
        if not isinstance(contacts, list) or not contacts:
            raise InvalidMessage("contacts.contacts must be a non-empty list", missing=True)


# --- The interface ------------------------------------------------------------------------


class Provider(abc.ABC):
    """One WhatsApp backend bound to one business number."""

    code: ClassVar[str] = ""
    supports_read_receipts: ClassVar[bool] = True
    supports_number_health: ClassVar[bool] = False
    # Whether templates can be created, edited and deleted through this provider's API.
    supports_template_authoring: ClassVar[bool] = False
    supports_media_upload: ClassVar[bool] = False
    supports_header_examples: ClassVar[bool] = False

    @abc.abstractmethod
    def send(self, message: OutboundMessage) -> SendResult:
        """Send one message; raise `InvalidMessage` or a `ProviderError` subclass."""

    @abc.abstractmethod
    def mark_read(self, wamid: str, *, typing: bool = False) -> None:
        """Tell the provider an inbound message was read (blue ticks).

        With `typing`, the user also sees a typing indicator: WhatsApp shows it until our
        next message or for at most 25 seconds, so send it only when a reply is on its way.
        A provider without read receipts (`supports_read_receipts = False`) does neither.
        """

    @abc.abstractmethod
    def list_templates(self) -> Iterator[TemplateInfo]:
        """Every template of the account, following the provider's paging."""

    def template_create(
        self,
        *,
        name: str,
        language: str,
        category: str,
        components: list[dict[str, Any]],
        parameter_format: str | None = None,
    ) -> TemplateSubmission:
        """Submit a new template for review (`supports_template_authoring`)."""
        raise UnsupportedOperation(self._no_authoring("create templates"))

    def template_edit(
        self, *, external_id: str, components: list[dict[str, Any]], category: str | None = None
    ) -> TemplateSubmission:
        """Submit an edit of a template the provider knows; it goes back to review."""
        raise UnsupportedOperation(self._no_authoring("edit templates"))

    def template_delete(self, *, name: str, external_id: str | None = None) -> None:
        """Delete a template (one language when `external_id` is given, else every one)."""
        raise UnsupportedOperation(self._no_authoring("delete templates"))

    def _no_authoring(self, what: str) -> str:
        return (
            f"{type(self).__name__} cannot {what} through its API: manage them in the "
            "provider's own console, then sync them."
        )

    @abc.abstractmethod
    def fetch_media(self, media_id: str) -> MediaContent:
        """Resolve and download inbound media."""

    def upload_media(self, content: bytes, *, mime_type: str, filename: str = "upload") -> str:
        """Upload a file for later sends by id; returns the provider's media id
        (`supports_media_upload`). A provider without uploads refuses permanently: its media
        go by link."""
        raise PermanentError(
            f"{type(self).__name__} cannot upload media; send the file by a public link."
        )

    def upload_header_example(
        self, content: bytes, *, mime_type: str, filename: str = "upload"
    ) -> str:
        """Upload a file as a template definition's media header example; returns the handle
        for `example.header_handle` (`supports_header_examples`). Not a media id: Meta takes
        it only when a template is created or edited."""
        raise PermanentError(f"{type(self).__name__} cannot take template header examples.")

    def number_health(self) -> NumberHealth:
        """The number's quality, messaging limit and status now (`supports_number_health`)."""
        raise NotImplementedError(f"{type(self).__name__} does not report number health")

    @abc.abstractmethod
    def verify_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> bool:
        """True when a webhook POST is authentic. Pass the raw request bytes."""

    @abc.abstractmethod
    def parse_webhook(self, payload: Mapping[str, Any]) -> list[WebhookEvent]:
        """Neutral events in payload order; never raises on unknown fields or types."""


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that also understands Django's `request.META` keys."""
    getter = getattr(headers, "get", None)
    if getter is not None:
        value = getter(name)
        if value is not None:
            return value
    wanted = name.lower()
    meta_key = "HTTP_" + name.upper().replace("-", "_")
    for key, value in headers.items():
        if key.lower() == wanted or key == meta_key:
            return value
    return None
