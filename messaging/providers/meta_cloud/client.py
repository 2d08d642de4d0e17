"""The Meta WhatsApp Cloud API provider (also used against the simulator)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from .. import transport
from ..base import (
    AmbiguousError,
    MediaContent,
    NumberHealth,
    OutboundMessage,
    PermanentError,
    Provider,
    SendResult,
    TemplateInfo,
    TemplateSubmission,
    TemporaryError,
    WebhookEvent,
    template_info_from_graph,
    validate_outbound,
)
from .errors import error_from_response
from .payloads import mark_read_body, message_body
from .webhooks import parse_webhook, verify_signature

logger = logging.getLogger(__name__)

DEFAULT_GRAPH_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v25.0"
DEFAULT_TIMEOUT = (3.05, 10.0)
MEDIA_MAX_BYTES = 100 * 1024 * 1024  # documents, the largest media type
TEMPLATE_FIELDS = "id,name,language,status,category,components,parameter_format,rejected_reason"
# The phone number's health fields (Graph `WhatsAppBusinessPhoneNumber`). The portfolio-wide
# limit replaces the deprecated per-number `messaging_limit_tier` (WHATSAPP.md 2.7); both are
# read, the first present wins. WHATSAPP_PHONE_NUMBER_FIELDS overrides the list.
NUMBER_FIELDS = (
    "quality_rating,whatsapp_business_manager_messaging_limit,messaging_limit_tier,status,"
    "name_status,display_phone_number,verified_name"
)
TIER_FIELDS = ("whatsapp_business_manager_messaging_limit", "messaging_limit_tier")
TEMPLATE_PAGE_SIZE = 100
MAX_TEMPLATE_PAGES = 1000


def _mask(recipient: str | None) -> str:
    if not recipient:
        return "-"
    return f"…{recipient[-4:]}"


class MetaCloudProvider(Provider):
    """One Cloud API business phone number. Pure keyword configuration: no Django here."""

    code = "meta_cloud"
    supports_number_health = True
    supports_template_authoring = True
    supports_media_upload = True
    supports_header_examples = True

    def __init__(
        self,
        *,
        phone_number_id: str,
        access_token: str,
        waba_id: str = "",
        app_secret: str = "",
        graph_url: str = DEFAULT_GRAPH_URL,
        api_version: str = DEFAULT_API_VERSION,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        media_timeout: float | tuple[float, float] = (3.05, 30.0),
        media_max_bytes: int = MEDIA_MAX_BYTES,
        number_fields: str = NUMBER_FIELDS,
        app_id: str = "",
    ) -> None:
        self.phone_number_id = str(phone_number_id)
        self.waba_id = str(waba_id or "")
        self.graph_url = graph_url.rstrip("/")
        self.api_version = api_version.strip("/")
        self.timeout = timeout
        self.media_timeout = media_timeout
        self.media_max_bytes = media_max_bytes
        self.number_fields = number_fields or NUMBER_FIELDS
        self.app_id = str(app_id or "")
        self._access_token = access_token
        self._app_secret = app_secret

    def __repr__(self) -> str:  # never show the token
        return (
            f"MetaCloudProvider(phone_number_id={self.phone_number_id!r}, graph={self.graph_url!r})"
        )

    # --- plumbing --------------------------------------------------------------------------

    def _url(self, *parts: str) -> str:
        return "/".join([self.graph_url, self.api_version, *parts])

    def _headers(self, *, json_body: bool = True) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self._access_token}", "Accept": "application/json"}
        if json_body:
            headers["Content-Type"] = "application/json"
        return headers

    def _json_call(
        self,
        method: str,
        url: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        what: str,
    ) -> dict[str, Any]:
        data = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
        response = transport.call(
            method,
            url,
            logger=logger,
            timeout=self.timeout,
            headers=self._headers(json_body=data is not None),
            data=data,
            params=params,
        )
        if response.status_code >= 400:
            error = error_from_response(
                response.status_code,
                response.content,
                transport.retry_after_seconds(response.headers),
            )
            logger.info(
                "%s failed: http=%s code=%s class=%s",
                what,
                response.status_code,
                error.code,
                type(error).__name__,
            )
            raise error
        try:
            parsed = response.json()
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            message = f"{what}: HTTP {response.status_code} with an unreadable body"
            if method.upper() == "GET":
                raise TemporaryError(message, http_status=response.status_code)
            raise AmbiguousError(message, http_status=response.status_code)
        return parsed

    # --- sending ---------------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> SendResult:
        validate_outbound(message)
        body = message_body(message)
        recipient = message.to or message.recipient_bsuid
        logger.debug(
            "send type=%s to=%s callback=%s", message.type, _mask(recipient), message.callback_data
        )
        data = self._json_call(
            "POST", self._url(self.phone_number_id, "messages"), body=body, what="send"
        )
        messages = data.get("messages")
        first = messages[0] if isinstance(messages, list) and messages else None
        if not isinstance(first, dict) or not first.get("id"):
            raise AmbiguousError("send: accepted response without a message id", raw=data)
        contacts = data.get("contacts")
        contact = contacts[0] if isinstance(contacts, list) and contacts else {}
        contact = contact if isinstance(contact, dict) else {}
        result = SendResult(
            provider_message_id=str(first["id"]),
            wa_id=contact.get("wa_id") or None,
            user_id=contact.get("user_id") or None,
            message_status=first.get("message_status"),
            raw=data,
        )
        logger.info(
            "sent type=%s to=%s wamid=%s",
            message.type,
            _mask(recipient),
            result.provider_message_id,
        )
        return result

    def mark_read(self, wamid: str, *, typing: bool = False) -> None:
        self._json_call(
            "POST",
            self._url(self.phone_number_id, "messages"),
            body=mark_read_body(wamid, typing=typing),
            what="mark_read_typing" if typing else "mark_read",
        )

    # --- number health ---------------------------------------------------------------------

    def number_health(self) -> NumberHealth:
        """`GET /{phone_number_id}?fields=...`: quality rating, messaging limit, status."""
        data = self._json_call(
            "GET",
            self._url(self.phone_number_id),
            params={"fields": self.number_fields},
            what="number_health",
        )
        tier = next((data[k] for k in TIER_FIELDS if data.get(k) not in (None, "")), None)

        def text(key: str) -> str | None:
            value = data.get(key)
            return str(value) if value not in (None, "") else None

        return NumberHealth(
            quality_rating=text("quality_rating"),
            messaging_tier=tier,
            status=text("status"),
            name_status=text("name_status"),
            display_phone_number=text("display_phone_number"),
            verified_name=text("verified_name"),
            raw=data,
        )

    # --- templates -------------------------------------------------------------------------

    def list_templates(self, *, page_size: int = TEMPLATE_PAGE_SIZE) -> Iterator[TemplateInfo]:
        """Every template of the WABA. Pages are requested by cursor from our own base URL
        (Graph's `paging.next` links embed the access token and the production host)."""
        if not self.waba_id:
            raise PermanentError("list_templates needs the WhatsApp Business Account id")
        url = self._url(self.waba_id, "message_templates")
        params: dict[str, Any] = {"limit": page_size, "fields": TEMPLATE_FIELDS}
        seen_cursors: set[str] = set()
        for _page in range(MAX_TEMPLATE_PAGES):
            data = self._json_call("GET", url, params=params, what="list_templates")
            for item in data.get("data") or ():
                if isinstance(item, dict):
                    yield template_info_from_graph(item)
            paging = data.get("paging") if isinstance(data.get("paging"), dict) else {}
            after = (paging.get("cursors") or {}).get("after")
            if not paging.get("next") or not after or after in seen_cursors:
                return
            seen_cursors.add(after)
            params = {**params, "after": after}
        logger.warning("list_templates stopped after %s pages", MAX_TEMPLATE_PAGES)

    def template_create(
        self,
        *,
        name: str,
        language: str,
        category: str,
        components: list[dict[str, Any]],
        parameter_format: str | None = None,
    ) -> TemplateSubmission:
        """`POST /{waba_id}/message_templates`: Meta answers `{id, status, category}`.

        Not idempotent: when the answer is lost (AmbiguousError) the template may exist; a
        sync tells, and a second creation is refused by Meta as a duplicate name.
        """
        if not self.waba_id:
            raise PermanentError("template_create needs the WhatsApp Business Account id")
        body: dict[str, Any] = {
            "name": name,
            "language": language,
            "category": category,
            "components": components,
        }
        if parameter_format:
            body["parameter_format"] = parameter_format
        data = self._json_call(
            "POST", self._url(self.waba_id, "message_templates"), body=body,
            what="template_create",
        )  # fmt: skip
        if not data.get("id"):
            raise AmbiguousError("template_create: accepted response without an id", raw=data)
        logger.info("template created name=%s language=%s id=%s", name, language, data["id"])
        return TemplateSubmission(
            external_id=str(data["id"]),
            status=str(data.get("status") or "PENDING").upper(),
            category=str(data["category"]).upper() if data.get("category") else None,
            raw=data,
        )

    def template_edit(
        self, *, external_id: str, components: list[dict[str, Any]], category: str | None = None
    ) -> TemplateSubmission:
        """`POST /{template_id}` with the new components (and category): back to review."""
        body: dict[str, Any] = {"components": components}
        if category:
            body["category"] = category
        data = self._json_call("POST", self._url(str(external_id)), body=body, what="template_edit")
        if data.get("success") is False:
            raise PermanentError("template_edit: Meta did not accept the edit", raw=data)
        logger.info("template edited id=%s", external_id)
        return TemplateSubmission(
            external_id=str(external_id), status="PENDING", category=category, raw=data
        )

    def template_delete(self, *, name: str, external_id: str | None = None) -> None:
        """`DELETE /{waba_id}/message_templates?name=...` (`hsm_id` limits it to one
        language). A lost answer may be retried: at worst Meta says there is nothing left to
        delete."""
        if not self.waba_id:
            raise PermanentError("template_delete needs the WhatsApp Business Account id")
        params = {"name": name, **({"hsm_id": external_id} if external_id else {})}
        self._json_call(
            "DELETE", self._url(self.waba_id, "message_templates"), params=params,
            what="template_delete",
        )  # fmt: skip
        logger.info("template deleted name=%s id=%s", name, external_id or "-")

    # --- media -----------------------------------------------------------------------------

    def fetch_media(self, media_id: str) -> MediaContent:
        """Resolve the media id to its short-lived URL, then download it (size-capped)."""
        meta = self._json_call("GET", self._url(str(media_id)), what="media_url")
        url = meta.get("url")
        if not url:
            raise PermanentError(f"media {media_id} has no download URL", raw=meta)
        declared_size = meta.get("file_size")
        if isinstance(declared_size, int) and declared_size > self.media_max_bytes:
            raise PermanentError(f"media {media_id} is {declared_size} bytes; too large")
        response = transport.call(
            "GET",
            url,
            logger=logger,
            timeout=self.media_timeout,
            headers=self._headers(json_body=False),
            stream=True,
        )
        try:
            if response.status_code >= 400:
                raise error_from_response(response.status_code, response.content)
            chunks: list[bytes] = []
            total = 0
            try:
                for chunk in response.iter_content(chunk_size=64 * 1024):
                    total += len(chunk)
                    if total > self.media_max_bytes:
                        raise PermanentError(
                            f"media {media_id} exceeds {self.media_max_bytes} bytes"
                        )
                    chunks.append(chunk)
            except (OSError, ValueError) as exc:  # requests wraps socket errors in these
                raise TemporaryError(f"media {media_id} download interrupted") from exc
        finally:
            response.close()
        content = b"".join(chunks)
        sha256 = meta.get("sha256")
        if sha256 and hashlib.sha256(content).hexdigest() != sha256:
            raise TemporaryError(f"media {media_id} failed its checksum")
        return MediaContent(
            media_id=str(media_id),
            url=url,
            mime_type=str(meta.get("mime_type") or response.headers.get("Content-Type") or ""),
            content=content,
            sha256=sha256,
            file_size=len(content),
        )

    def upload_media(self, content: bytes, *, mime_type: str, filename: str = "upload") -> str:
        """Upload media for later sends by id (the recommended way); returns the media id."""
        response = transport.call(
            "POST",
            self._url(self.phone_number_id, "media"),
            logger=logger,
            timeout=self.media_timeout,
            headers=self._headers(json_body=False),
            data={"messaging_product": "whatsapp", "type": mime_type},
            files={"file": (filename, content, mime_type)},
            idempotent=True,  # a duplicate upload only wastes an id
        )
        if response.status_code >= 400:
            raise error_from_response(response.status_code, response.content)
        try:
            media_id = response.json()["id"]
        except (ValueError, KeyError, TypeError):
            raise TemporaryError("media upload: response without an id") from None
        return str(media_id)

    def upload_header_example(
        self, content: bytes, *, mime_type: str, filename: str = "upload"
    ) -> str:
        """A template header example through Graph's resumable upload: open a session on the
        app (`POST /{app_id}/uploads`), send the bytes (`POST /{upload_id}`, `OAuth` token,
        `file_offset: 0`), and return the handle (`h`) that `example.header_handle` takes."""
        if not self.app_id:
            raise PermanentError(
                "Template header examples need the Meta app's id: set WHATSAPP_APP_ID."
            )
        session = self._json_call(
            "POST",
            self._url(self.app_id, "uploads"),
            params={"file_name": filename, "file_length": len(content), "file_type": mime_type},
            what="upload_session",
        )
        upload_id = str(session.get("id") or "")
        if not upload_id.startswith("upload:"):
            raise TemporaryError("upload session: answer without an upload id", raw=session)
        response = transport.call(
            "POST",
            self._url(upload_id),
            logger=logger,
            timeout=self.media_timeout,
            headers={
                "Authorization": f"OAuth {self._access_token}",
                "file_offset": "0",
                "Accept": "application/json",
            },
            data=content,
            idempotent=True,  # a repeated upload only makes another handle
        )
        if response.status_code >= 400:
            raise error_from_response(response.status_code, response.content)
        try:
            handle = response.json()["h"]
        except (ValueError, KeyError, TypeError):
            raise TemporaryError("header example upload: answer without a handle") from None
        return str(handle)

    # --- webhooks --------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> bool:
        return verify_signature(self._app_secret, headers, raw_body)

    def parse_webhook(self, payload: Mapping[str, Any]) -> list[WebhookEvent]:
        return parse_webhook(payload)
