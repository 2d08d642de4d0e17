"""Webhook intake through Django: authenticate, store the raw body, answer (DESIGN.md section 5).

These views serve the webhook paths under the development server and the test client. In
production the ASGI entry point (`config.asgi`) answers POSTs to the same paths with the lean
intake of `asgi.py` (the same verdict, bodies group-committed) and never reaches Django.

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

from core.metrics import DUPLICATE_ATTR, webhook_intake_timed
from messaging.channels.models import Provider
from messaging.providers import provider_type
from messaging.webhooks.intake import TOO_LARGE, UNAVAILABLE, webhook_verify
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


@webhook_intake_timed  # parley_webhook_intake_* (core.metrics)
def _intake(request: HttpRequest, code: str) -> HttpResponse:
    """Authenticate a POST with its provider type's rules (`intake.webhook_verify`), then
    store it with one autocommitted INSERT."""
    raw = _read_body(request)
    verdict = TOO_LARGE if raw is None else webhook_verify(code, request.headers, raw)
    if not verdict.verified:
        return _plain(verdict.status, verdict.reason)
    try:
        event_id = webhook_event_store(provider=code, raw_body=raw, text=verdict.text)
    except DatabaseError:
        logger.exception("could not store a %s webhook; answering 503 so it is retried", code)
        return _plain(UNAVAILABLE.status, UNAVAILABLE.reason)
    response = _plain(200)
    setattr(response, DUPLICATE_ATTR, event_id is None)  # for the intake metrics
    return response


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
