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

import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from messaging.channels.models import Provider
from messaging.providers import provider_type
from messaging.providers.base import header_value
from messaging.webhooks.intake import body_decode, webhook_credentials_find
from messaging.webhooks.services import webhook_event_store

logger = logging.getLogger(__name__)


def _plain(status: int, text: str = "") -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


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
    decoded = body_decode(raw, allow_list=ptype.webhook_accepts_list)
    if decoded is None:
        expected = "JSON" if ptype.webhook_accepts_list else "a JSON object"
        return _plain(400, f"body is not {expected}")
    text, payload = decoded
    credentials = webhook_credentials_find(ptype, payload)
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
