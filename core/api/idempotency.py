"""`Idempotency-Key` support for API endpoints that create things.

The key row is inserted in the same transaction as the work. A concurrent duplicate blocks on
the unique index until the first commits, then sees the stored response (PostgreSQL); a
failed request rolls its key back, so it can be retried with the same key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from django.db import IntegrityError, transaction
from rest_framework.response import Response

from core.errors import Conflict
from core.models import IdempotencyKey

HEADER = "Idempotency-Key"


def _hash(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _replay(row: IdempotencyKey, request_hash: str) -> Response:
    if row.request_hash != request_hash:
        raise Conflict(
            "This Idempotency-Key was used with a different request body.",
            code="idempotency_key_reused",
        )
    response = Response(row.response_body, status=row.response_status)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(request, *, scope: str, handler: Callable[[], Response]) -> Response:
    """Run `handler` at most once per (user, scope, Idempotency-Key)."""
    key = (request.headers.get(HEADER) or "").strip()
    if not key:
        return handler()
    if len(key) > 200:
        raise Conflict("Idempotency-Key is longer than 200 characters.", code="invalid")
    request_hash = _hash(request.data)
    existing = IdempotencyKey.objects.filter(user=request.user, scope=scope, key=key).first()
    if existing is not None and existing.response_status is not None:
        return _replay(existing, request_hash)
    try:
        with transaction.atomic():
            row = IdempotencyKey.objects.create(
                user=request.user, scope=scope, key=key, request_hash=request_hash
            )
            response = handler()
            if response.status_code >= 400:
                transaction.set_rollback(True)
                return response
            row.response_status = response.status_code
            row.response_body = response.data
            row.save(update_fields=["response_status", "response_body"])
            return response
    except IntegrityError:
        existing = IdempotencyKey.objects.get(user=request.user, scope=scope, key=key)
        if existing.response_status is None:
            raise Conflict(
                "A request with this Idempotency-Key is still being processed.",
                code="idempotency_in_progress",
            ) from None
        return _replay(existing, request_hash)
