"""Webhook intake: authenticate, store the raw body, answer at once (DESIGN.md section 5).

The signature is checked over the exact bytes received, with the secret of the channel the
body names (the body is decoded first only to learn which channel that is), and nothing is
processed here: one INSERT, then 200. A worker does the rest. These are the only
CSRF-exempt views of the project; their authentication is the provider's signature.

Each provider type (`messaging.providers.registry`) says which headers carry credentials,
which channels a body names, which secrets are valid and how to check them. Answers: 200
stored (or a duplicate of a stored body), 400 not JSON, 401 no credentials, 403 wrong
signature or token, or a body for no channel we know, 413 too large, 503 the database is
unavailable (Meta retries).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.db import DatabaseError
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from core.metrics import DUPLICATE_ATTR, webhook_intake_timed
from messaging.channels.models import Channel, Provider
from messaging.providers import ProviderType, provider_type
from messaging.providers.base import header_value
from messaging.providers.registry import WebhookAddressee, WebhookCredentials
from messaging.webhooks.services import webhook_event_store

logger = logging.getLogger(__name__)

CHANNELS_CACHE_SECONDS = 30.0
_channels_cache: dict[str, tuple[float, _ChannelIndex]] = {}


def _plain(status: int, text: str = "") -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


@dataclasses.dataclass
class _ChannelIndex:
    by_number: dict[str, Channel]
    by_waba: dict[str, list[Channel]]


def _channel_index(code: str) -> _ChannelIndex:
    """The provider's channels by phone_number_id and WABA id.

    Cached briefly per process: channel changes in this process, and settings overridden
    (tests), clear it at once. Secrets are read from the settings at each request.
    """
    now = time.monotonic()
    cached = _channels_cache.get(code)
    if cached is not None and now - cached[0] < CHANNELS_CACHE_SECONDS:
        return cached[1]
    index = _ChannelIndex(by_number={}, by_waba={})
    for channel in Channel.objects.filter(provider=code):
        index.by_number[channel.phone_number_id] = channel
        if channel.waba_id:
            index.by_waba.setdefault(channel.waba_id, []).append(channel)
    _channels_cache[code] = (now, index)
    return index


def webhook_channels(code: str, addressees: list[WebhookAddressee]) -> list[Channel] | None:
    """The channels a body names, or None when it names none or any we do not know: such a
    body cannot be verified with a channel's secret, so it is refused and stored nowhere."""
    if not addressees:
        return None
    index = _channel_index(code)
    channels: dict[int, Channel] = {}
    for addressee in addressees:
        if addressee.kind == "waba_id":
            found = index.by_waba.get(addressee.value, [])
        else:
            one = index.by_number.get(addressee.value)
            found = [one] if one is not None else []
        if not found:
            return None
        channels.update((c.pk, c) for c in found)
    return list(channels.values())


@receiver([post_save, post_delete], sender=Channel, dispatch_uid="webhook-secrets-cache")
@receiver(setting_changed, dispatch_uid="webhook-secrets-cache-settings")
def _forget_secrets(**kwargs) -> None:
    _channels_cache.clear()


def _read_body(request: HttpRequest) -> bytes | None:
    """The raw body, or None when it exceeds WEBHOOK_MAX_BODY_BYTES.

    Read from the stream with an explicit cap, never through `request.body` (whose
    DATA_UPLOAD_MAX_MEMORY_SIZE check would turn a legitimate 3 MB payload into a 400).
    """
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


def _store(provider: str, raw: bytes, text: str) -> HttpResponse:
    try:
        event_id = webhook_event_store(provider=provider, raw_body=raw, text=text)
    except DatabaseError:
        logger.exception("could not store a %s webhook; answering 503 so it is retried", provider)
        return _plain(503, "temporarily unavailable")
    response = _plain(200)
    setattr(response, DUPLICATE_ATTR, event_id is None)  # for the intake metrics
    return response


def _decode(raw: bytes, *, allow_list: bool = False) -> tuple[str, Any] | None:
    """The body as text and its decoded value when it is a JSON object (or list), else None."""
    try:
        text = raw.decode("utf-8")
        payload = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):  # nested past the decoder's depth
        return None
    if isinstance(payload, dict) or (allow_list and isinstance(payload, list)):
        return text, payload
    return None


def _credentials(ptype: ProviderType, payload: Any) -> WebhookCredentials | None:
    """What may authenticate this body: the secrets of the channels it names (Meta), or the
    account-wide ones (MyOperator); None when it names a channel we do not know."""
    addressees = ptype.webhook_addressees(payload)
    if addressees is None:
        return ptype.webhook_credentials([])
    try:
        channels = webhook_channels(ptype.code, addressees)
    except DatabaseError:
        logger.warning("could not read %s channels; webhook refused", ptype.code)
        return WebhookCredentials()
    if channels is None:
        named = sorted({a.value for a in addressees})[:5]
        logger.warning("%s webhook refused: it names no channel we know (%s)", ptype.code, named)
        return None
    for channel in channels:
        if not channel.secret(channel.app_secret_setting):
            logger.error(
                "%s webhook refused: channel %s has no app secret (setting %r unset or not "
                "allowed)", ptype.code, channel.pk, channel.app_secret_setting,
            )  # fmt: skip
    return ptype.webhook_credentials(channels)


@webhook_intake_timed  # parley_webhook_intake_* (core.metrics)
def _intake(request: HttpRequest, code: str) -> HttpResponse:
    """Authenticate a POST with its provider type's rules, then store it.

    The body is decoded (it is at most WEBHOOK_MAX_BODY_BYTES) before its signature is
    checked, only to learn which channel it is for: a webhook is verified with the secret of
    the channel it names and no other, and a body for no channel we know is refused.
    """
    ptype = provider_type(code)
    raw = _read_body(request)
    if raw is None:
        return _plain(413, "payload too large")
    if not any(header_value(request.headers, name) for name in ptype.webhook_auth_headers):
        return _plain(401, "credentials missing")
    decoded = _decode(raw, allow_list=ptype.webhook_accepts_list)
    if decoded is None:
        expected = "JSON" if ptype.webhook_accepts_list else "a JSON object"
        return _plain(400, f"body is not {expected}")
    text, payload = decoded
    credentials = _credentials(ptype, payload)
    if credentials is None:
        return _plain(403, "unknown channel")
    if not credentials:
        logger.error("%s webhook refused: no webhook secret is configured", code)
    if not ptype.verify_webhook(request.headers, raw, credentials):
        logger.warning("%s webhook refused: bad signature or token", code)
        return _plain(403, "invalid credentials")
    return _store(code, raw, text)


def _verification(request: HttpRequest, code: str) -> HttpResponse:
    """A subscription handshake (Meta's GET): echo what the provider type answers."""
    challenge = provider_type(code).verify_subscription(request.GET)
    if challenge is not None:
        return _plain(200, challenge)
    logger.warning("webhook verification refused (mode=%s)", request.GET.get("hub.mode"))
    return _plain(403, "verification failed")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def whatsapp_webhook(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _verification(request, Provider.META_CLOUD)
    return _intake(request, Provider.META_CLOUD)


@csrf_exempt
@require_http_methods(["POST"])
def myoperator_webhook(request: HttpRequest) -> HttpResponse:
    return _intake(request, Provider.MYOPERATOR)
