"""The MyOperator WhatsApp provider (https://publicapi.myoperator.co, WHATSAPP.md section 3).

Sending and template listing follow the public Postman collection and the integrations that
use it: `POST /chat/messages` and `GET /chat/templates`, authenticated with
`Authorization: Bearer <API key>` (capital B: lower-case is refused with 403) plus
`X-MYOP-COMPANY-ID`.

Template sends take the Cloud API template object (so services build one shape for every
provider) and are translated to MyOperator's `context`: `template_name`, `language`,
`body: {"1": ..., "2": ...}` (or by name for named templates), `header: {...}` for a text
header, `media: {type, url|id}` for a media header and `buttons: [{index, id|text}]`. The
header, media and button keys are not documented publicly [U]; check them against a real
account before relying on them.

MyOperator has no documented read-receipt, typing-indicator or media-by-id endpoint:
`mark_read` (with or without `typing`) is a logged no-op (`supports_read_receipts = False`)
and `fetch_media` accepts only the media URL that their webhook carries.

Template authoring (`template_create`, `template_edit`, `template_delete`) is not offered:
the collection lists template endpoints but their bodies are not public (WHATSAPP.md 3), so
the provider raises `UnsupportedOperation` (a permanent error, shown to the person who
submitted) and templates are made in the MyOperator panel and synced.

Webhook authentication (their format is not public, see `webhooks.py`): MyOperator lets the
panel configure the callback URL and custom headers, so Parley accepts either

* `Authorization: Bearer <webhook_token>` (or `X-MyOperator-Token: <webhook_token>`) when a
  webhook token is configured, or
* `X-MyOperator-Signature: sha256=<hex>` (bare hex also accepted): HMAC-SHA256 of the raw
  body keyed with the webhook secret, which defaults to the API key.

Both comparisons are constant-time; a request carrying neither is rejected.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import phonenumbers

from .. import transport
from ..base import (
    AmbiguousError,
    AuthError,
    InvalidMessage,
    MediaContent,
    OutboundMessage,
    PermanentError,
    Provider,
    ProviderError,
    SendResult,
    TemplateInfo,
    TemporaryError,
    WebhookEvent,
    digits_only,
    header_value,
    template_info_from_graph,
    validate_outbound,
)
from .webhooks import parse_webhook

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://publicapi.myoperator.co"
SIGNATURE_HEADER = "X-MyOperator-Signature"
TOKEN_HEADER = "X-MyOperator-Token"  # noqa: S105 (a header name)
SUPPORTED_TYPES = frozenset({"text", "template"})
TEMPLATE_PAGE_SIZE = 100
MAX_TEMPLATE_PAGES = 1000
MEDIA_MAX_BYTES = 100 * 1024 * 1024


def split_number(number: str) -> tuple[str, str]:
    """E.164 (with or without '+') -> (country code, national number) as MyOperator wants."""
    raw = number.strip()
    if not raw.startswith("+"):
        raw = "+" + digits_only(raw)
    try:
        parsed = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidMessage(f"not a phone number: {number!r}", field="to") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidMessage(f"not a possible phone number: {number!r}", field="to")
    return str(parsed.country_code), str(parsed.national_number)


def _parameter_value(param: Mapping[str, Any]) -> Any:
    kind = param.get("type")
    if kind == "text":
        return param.get("text")
    if kind in ("currency", "date_time"):
        return (param.get(kind) or {}).get("fallback_value")
    if kind == "payload":
        return param.get("payload")
    if kind in ("image", "video", "document"):
        media = param.get(kind) or {}
        return {
            "type": kind,
            **({"url": media["link"]} if media.get("link") else {}),
            **({"id": media["id"]} if media.get("id") else {}),
        }
    return param.get(kind)


def _numbered(params: list[Mapping[str, Any]]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for position, param in enumerate(params, start=1):
        key = param.get("parameter_name") or str(position)
        values[str(key)] = _parameter_value(param)
    return values


def template_context(template: Mapping[str, Any]) -> dict[str, Any]:
    """A Cloud API template object -> MyOperator's template `context`."""
    context: dict[str, Any] = {
        "template_name": template["name"],
        "language": (template.get("language") or {}).get("code"),
    }
    buttons: list[dict[str, Any]] = []
    for component in template.get("components") or ():
        kind = str(component.get("type", "")).lower()
        params = [p for p in component.get("parameters") or () if isinstance(p, Mapping)]
        if kind == "body":
            context["body"] = _numbered(params)
        elif kind == "header":
            media = [p for p in params if p.get("type") in ("image", "video", "document")]
            if media:
                context["media"] = _parameter_value(media[0])
            elif params:
                context["header"] = _numbered(params)
        elif kind == "button":
            for param in params:
                entry: dict[str, Any] = {"index": int(component.get("index", 0))}
                if param.get("type") == "payload":
                    entry["id"] = param.get("payload")
                else:
                    entry["text"] = _parameter_value(param)
                buttons.append(entry)
    if buttons:
        context["buttons"] = buttons
    return context


class MyOperatorProvider(Provider):
    code = "myoperator"
    supports_read_receipts = False
    # MyOperator's collection lists an "Upload Media" call whose request and answer are not
    # public (WHATSAPP.md 3): until they are confirmed, media go by public link.
    supports_media_upload = False

    def upload_media(self, content: bytes, *, mime_type: str, filename: str = "upload") -> str:
        raise PermanentError(
            "MyOperator numbers cannot take uploaded media yet (its upload API is not "
            "documented publicly); send the file by a public link."
        )

    def __init__(
        self,
        *,
        api_key: str,
        company_id: str,
        phone_number_id: str,
        waba_id: str = "",
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | tuple[float, float] = (3.05, 10.0),
        webhook_secret: str | None = None,
        webhook_token: str | None = None,
        media_max_bytes: int = MEDIA_MAX_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.company_id = str(company_id)
        self.phone_number_id = str(phone_number_id)
        self.waba_id = str(waba_id or "")
        self.timeout = timeout
        self.media_max_bytes = media_max_bytes
        self._api_key = api_key
        self._webhook_secret = webhook_secret or api_key
        self._webhook_token = webhook_token

    def __repr__(self) -> str:
        return (
            f"MyOperatorProvider(company_id={self.company_id!r}, "
            f"phone_number_id={self.phone_number_id!r})"
        )

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._api_key}",
            "X-MYOP-COMPANY-ID": self.company_id,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    @staticmethod
    def _error(status: int, body: bytes, retry_after: float | None) -> ProviderError:
        try:
            data = json.loads(body) if body else None
        except (ValueError, UnicodeDecodeError):
            data = None
        data = data if isinstance(data, dict) else {}
        message = data.get("message") or data.get("error") or f"MyOperator HTTP {status}"
        if not isinstance(message, str):
            message = json.dumps(message)[:300]
        code = data.get("code") or status
        kwargs = {"code": code, "detail": data.get("details"), "http_status": status, "raw": data}
        if status in (401, 403):
            return AuthError(message, **kwargs)
        if status == 429 or status >= 500:
            return TemporaryError(message, retry_after=retry_after, **kwargs)
        return PermanentError(message, **kwargs)

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        what: str,
    ) -> dict[str, Any]:
        response = transport.call(
            method,
            f"{self.base_url}{path}",
            logger=logger,
            timeout=self.timeout,
            headers=self._headers(),
            data=json.dumps(body).encode() if body is not None else None,
            params=params,
        )
        if response.status_code >= 400:
            error = self._error(
                response.status_code,
                response.content,
                transport.retry_after_seconds(response.headers),
            )
            logger.info(
                "%s failed: http=%s class=%s", what, response.status_code, type(error).__name__
            )
            raise error
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            message = f"{what}: HTTP {response.status_code} with an unreadable body"
            if method.upper() == "GET":
                raise TemporaryError(message, http_status=response.status_code)
            raise AmbiguousError(message, http_status=response.status_code)
        status = str(data.get("status", "success")).lower()
        if status not in ("success", "ok", "accepted"):
            raise PermanentError(
                str(data.get("message") or f"{what} refused"),
                code=data.get("code"),
                http_status=response.status_code,
                raw=data,
            )
        return data

    # --- sending -----------------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> SendResult:
        validate_outbound(message)
        if message.type not in SUPPORTED_TYPES:
            raise InvalidMessage(
                f"MyOperator sends only {sorted(SUPPORTED_TYPES)}, not {message.type!r}",
                field="type",
            )
        if not message.to:
            raise InvalidMessage("MyOperator needs a phone number; BSUIDs are not supported")
        country_code, national = split_number(message.to)
        if message.type == "text":
            data = {
                "type": "text",
                "context": {
                    "body": message.content["body"],
                    "preview_url": bool(message.content.get("preview_url", False)),
                },
            }
        else:
            data = {"type": "template", "context": template_context(message.content)}
        body = {
            "phone_number_id": self.phone_number_id,
            "customer_country_code": country_code,
            "customer_number": national,
            "data": data,
            "reply_to": message.context_wamid,
            "myop_ref_id": message.callback_data,
        }
        response = self._call("POST", "/chat/messages", body=body, what="send")
        payload = response.get("data") if isinstance(response.get("data"), dict) else {}
        message_id = payload.get("message_id") or payload.get("id")
        if not message_id:
            raise AmbiguousError("send: accepted response without a message id", raw=response)
        logger.info("sent type=%s to=…%s id=%s", message.type, national[-4:], message_id)
        return SendResult(
            provider_message_id=str(message_id),
            wa_id=country_code + national,
            user_id=None,
            message_status=None,
            raw=response,
        )

    def mark_read(self, wamid: str, *, typing: bool = False) -> None:
        logger.debug(
            "mark_read %s (typing=%s) skipped: MyOperator has no read-receipt or typing endpoint",
            wamid,
            typing,
        )

    # --- templates ---------------------------------------------------------------------------

    def list_templates(self, *, page_size: int = TEMPLATE_PAGE_SIZE) -> Iterator[TemplateInfo]:
        offset = 0
        for _page in range(MAX_TEMPLATE_PAGES):
            data = self._call(
                "GET",
                "/chat/templates",
                params={"waba_id": self.waba_id, "limit": page_size, "offset": offset},
                what="list_templates",
            )
            items, total = _template_page(data)
            for item in items:
                yield template_info_from_graph(_graph_shaped(item))
            offset += len(items)
            if len(items) < page_size or (total is not None and offset >= total):
                return
        logger.warning("list_templates stopped after %s pages", MAX_TEMPLATE_PAGES)

    # --- media -------------------------------------------------------------------------------

    def fetch_media(self, media_id: str) -> MediaContent:
        if not str(media_id).lower().startswith(("https://", "http://")):
            raise PermanentError("MyOperator media must be fetched by the URL in the webhook")
        response = transport.call(
            "GET",
            media_id,
            logger=logger,
            timeout=self.timeout,
            headers={k: v for k, v in self._headers().items() if k != "Content-Type"},
            stream=True,
        )
        try:
            if response.status_code >= 400:
                raise self._error(response.status_code, response.content, None)
            chunks, total = [], 0
            try:
                for chunk in response.iter_content(chunk_size=64 * 1024):
                    total += len(chunk)
                    if total > self.media_max_bytes:
                        raise PermanentError(f"media exceeds {self.media_max_bytes} bytes")
                    chunks.append(chunk)
            except (OSError, ValueError) as exc:
                raise TemporaryError("media download interrupted") from exc
            mime_type = response.headers.get("Content-Type", "application/octet-stream")
        finally:
            response.close()
        content = b"".join(chunks)
        return MediaContent(
            media_id=media_id,
            url=media_id,
            mime_type=mime_type.split(";")[0].strip(),
            content=content,
            sha256=hashlib.sha256(content).hexdigest(),
            file_size=len(content),
        )

    # --- webhooks ----------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> bool:
        if self._webhook_token and token_matches(self._webhook_token, headers):
            return True
        return signature_matches(self._webhook_secret, headers, raw_body)

    def parse_webhook(self, payload: Any) -> list[WebhookEvent]:
        return parse_webhook(payload)


def token_matches(webhook_token: str, headers: Mapping[str, str]) -> bool:
    """`Authorization: Bearer <token>` (or `X-MyOperator-Token`) equals the webhook token."""
    if not webhook_token:
        return False
    auth = header_value(headers, "Authorization") or ""
    token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    token = token or (header_value(headers, TOKEN_HEADER) or "").strip()
    return bool(token) and hmac.compare_digest(token.encode(), webhook_token.encode())


def signature_matches(webhook_secret: str, headers: Mapping[str, str], raw_body: bytes) -> bool:
    """`X-MyOperator-Signature` is the HMAC-SHA256 of the raw body keyed with the secret."""
    signature = (header_value(headers, SIGNATURE_HEADER) or "").strip().lower()
    if not signature or not webhook_secret or not isinstance(raw_body, bytes):
        return False
    signature = signature.removeprefix("sha256=")
    expected = hmac.new(webhook_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode())


def _template_page(data: Mapping[str, Any]) -> tuple[list[dict[str, Any]], int | None]:
    """Templates and total count from a `/chat/templates` page, in the shapes seen so far."""
    container: Any = data.get("data", data)
    total = None
    if isinstance(container, dict):
        total = container.get("total") or container.get("count")
        for key in ("templates", "results", "items", "data"):
            if isinstance(container.get(key), list):
                container = container[key]
                break
    items = (
        [item for item in container if isinstance(item, dict)]
        if isinstance(container, list)
        else []
    )
    try:
        total = int(total) if total is not None else None
    except (TypeError, ValueError):
        total = None
    return items, total


def _graph_shaped(item: Mapping[str, Any]) -> dict[str, Any]:
    """MyOperator template fields under the names Graph uses."""
    shaped = dict(item)
    aliases = {
        "id": ("template_id", "waba_template_id", "_id"),
        "name": ("template_name",),
        "language": ("language_code", "template_language"),
        "status": ("waba_template_status", "template_status"),
        "category": ("template_category",),
    }
    for key, candidates in aliases.items():
        if not shaped.get(key):
            for candidate in candidates:
                if shaped.get(candidate):
                    shaped[key] = shaped[candidate]
                    break
    if isinstance(shaped.get("components"), str):
        try:
            shaped["components"] = json.loads(shaped["components"])
        except ValueError:
            shaped["components"] = []
    return shaped
