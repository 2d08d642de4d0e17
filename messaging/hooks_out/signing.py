"""The signature on every event webhook (README "Event webhooks" -> "Verifying a callback").

    X-Parley-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">

keyed with the subscription's secret. The time inside the signed text lets receivers refuse
a captured callback replayed later (older than their tolerance); the event id in the body lets
them drop a redelivery.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)


def secret_generate() -> str:
    return SECRET_PREFIX + secrets.token_hex(32)


def signature_header(*, secret: str, body: bytes, at: int | None = None) -> str:
    t = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def signature_verify(
    *, secret: str, body: bytes, header: str, tolerance: int, now: float | None = None
) -> bool:
    """What a receiver does (the README's example does the same in ten lines): parse the
    header, refuse a stale time, compare in constant time. Used by the tests and the demo's
    receiver."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        t = int(fields["t"])
        given = fields["v1"]
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)
