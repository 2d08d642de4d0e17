"""Webhook intake: authenticate, store the raw body, answer at once (DESIGN.md section 5).

Nothing is parsed before the signature has been checked over the exact bytes received, and
nothing is processed here: one INSERT, then 200. A worker does the rest. These are the only
CSRF-exempt views of the project; their authentication is the provider's signature.

Answers: 200 stored (or a duplicate of a stored body), 400 not JSON, 401 no signature,
403 wrong signature, 413 too large, 503 the database is unavailable (Meta retries).
"""

from __future__ import annotations

import hmac
import json
import logging
import time

from django.conf import settings
from django.db import DatabaseError
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from messaging.models import Channel, Provider
from messaging.providers.base import header_value
from messaging.providers.meta_cloud import SIGNATURE_HEADER, verify_signature
from messaging.providers.myoperator import SIGNATURE_HEADER as MYOPERATOR_SIGNATURE_HEADER
from messaging.providers.myoperator import TOKEN_HEADER as MYOPERATOR_TOKEN_HEADER
from messaging.webhooks.services import webhook_event_store

logger = logging.getLogger(__name__)

SECRETS_CACHE_SECONDS = 30.0
_secrets_cache: tuple[float, tuple[str, ...]] | None = None


def _plain(status: int, text: str = "") -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


def meta_app_secrets() -> tuple[str, ...]:
    """WHATSAPP_APP_SECRET plus any other app secret a Meta channel names.

    One Parley install normally has one Meta app, hence one secret; a channel may name its
    own. Cached briefly per process (channel changes in this process clear it at once).
    """
    global _secrets_cache
    now = time.monotonic()
    if _secrets_cache is not None and now - _secrets_cache[0] < SECRETS_CACHE_SECONDS:
        return _secrets_cache[1]
    names = {"WHATSAPP_APP_SECRET"}
    try:
        names.update(
            Channel.objects.filter(provider=Provider.META_CLOUD)
            .exclude(app_secret_setting="")
            .values_list("app_secret_setting", flat=True)
            .distinct()
        )
    except DatabaseError:
        logger.warning("could not read channel secrets; using WHATSAPP_APP_SECRET only")
    secrets = tuple(sorted({str(getattr(settings, n, "") or "") for n in names} - {""}))
    _secrets_cache = (now, secrets)
    return secrets


@receiver([post_save, post_delete], sender=Channel, dispatch_uid="webhook-secrets-cache")
def _forget_secrets(**kwargs) -> None:
    global _secrets_cache
    _secrets_cache = None


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
        webhook_event_store(provider=provider, raw_body=raw, text=text)
    except DatabaseError:
        logger.exception("could not store a %s webhook; answering 503 so it is retried", provider)
        return _plain(503, "temporarily unavailable")
    return _plain(200)


def _decode(raw: bytes, *, allow_list: bool = False) -> str | None:
    """The body as text when it is a JSON object (or list), else None."""
    try:
        text = raw.decode("utf-8")
        payload = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):  # nested past the decoder's depth
        return None
    if isinstance(payload, dict) or (allow_list and isinstance(payload, list)):
        return text
    return None


@csrf_exempt
@require_http_methods(["GET", "POST"])
def whatsapp_webhook(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _verification(request)
    raw = _read_body(request)
    if raw is None:
        return _plain(413, "payload too large")
    if not header_value(request.headers, SIGNATURE_HEADER):
        return _plain(401, "signature missing")
    secrets = meta_app_secrets()
    if not secrets:
        logger.error("webhook refused: WHATSAPP_APP_SECRET is not configured")
    # Every candidate is checked (no early exit) so timing says nothing about which matched.
    valid = [verify_signature(secret, request.headers, raw) for secret in secrets]
    if not any(valid):
        logger.warning("webhook refused: bad X-Hub-Signature-256")
        return _plain(403, "invalid signature")
    text = _decode(raw)
    if text is None:
        return _plain(400, "body is not a JSON object")
    return _store(Provider.META_CLOUD, raw, text)


def _verification(request: HttpRequest) -> HttpResponse:
    """Meta's subscription handshake: echo hub.challenge when the verify token matches."""
    expected = settings.WHATSAPP_WEBHOOK_VERIFY_TOKEN
    mode = request.GET.get("hub.mode")
    token = request.GET.get("hub.verify_token") or ""
    challenge = request.GET.get("hub.challenge") or ""
    if expected and mode == "subscribe" and hmac.compare_digest(token.encode(), expected.encode()):
        return _plain(200, challenge)
    logger.warning("webhook verification refused (mode=%s)", mode)
    return _plain(403, "verification failed")


@csrf_exempt
@require_http_methods(["POST"])
def myoperator_webhook(request: HttpRequest) -> HttpResponse:
    from messaging.providers import provider_from_settings

    raw = _read_body(request)
    if raw is None:
        return _plain(413, "payload too large")
    headers = ("Authorization", MYOPERATOR_TOKEN_HEADER, MYOPERATOR_SIGNATURE_HEADER)
    if not any(header_value(request.headers, name) for name in headers):
        return _plain(401, "credentials missing")
    provider = provider_from_settings(
        "myoperator", webhook_token=settings.MYOPERATOR_WEBHOOK_TOKEN or None
    )
    if not provider.verify_webhook(request.headers, raw):
        logger.warning("MyOperator webhook refused: bad token or signature")
        return _plain(403, "invalid credentials")
    text = _decode(raw, allow_list=True)
    if text is None:
        return _plain(400, "body is not JSON")
    return _store(Provider.MYOPERATOR, raw, text)
