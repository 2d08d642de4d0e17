"""Webhook authentication shared by every intake path (DESIGN.md section 5).

`webhook_verify` is the one rule for whether a webhook body may be stored, asked by the
Django view (`views.py`, the development server and the test client) and by the lean ASGI
intake (`asgi.py`, production). A body is decoded (it is at most WEBHOOK_MAX_BODY_BYTES)
before its signature is checked, only to learn which channel it is for: a webhook is
verified with the secret of the channel it names and no other, and a body for no channel we
know is refused and stored nowhere.

The verdict reads no database when it is given a channel index: the ASGI intake refreshes
the index in a thread (`channel_index`) only when the cached one is older than
CHANNELS_CACHE_SECONDS, so its event loop never waits on a query.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from django.core.signals import setting_changed
from django.db import DatabaseError
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from messaging.channels.models import Channel
from messaging.providers import ProviderType, provider_type
from messaging.providers.base import header_value
from messaging.providers.registry import WebhookAddressee, WebhookCredentials

logger = logging.getLogger(__name__)

CHANNELS_CACHE_SECONDS = 30.0
_channels_cache: dict[str, tuple[float, ChannelIndex]] = {}


@dataclasses.dataclass
class ChannelIndex:
    by_number: dict[str, Channel]
    by_waba: dict[str, list[Channel]]


def channel_index_cached(code: str, max_age: float = CHANNELS_CACHE_SECONDS) -> ChannelIndex | None:
    """The provider's cached channel index, or None when it is older than `max_age`."""
    cached = _channels_cache.get(code)
    if cached is not None and time.monotonic() - cached[0] < max_age:
        return cached[1]
    return None


def channel_index(code: str, max_age: float = CHANNELS_CACHE_SECONDS) -> ChannelIndex:
    """The provider's channels by phone_number_id and WABA id.

    Cached briefly per process: channel changes in this process, and settings overridden
    (tests), clear it at once; a channel added by another process is found at its first
    webhook (`unknown_channel_recheck`). Secrets are read from the settings at each request.
    A DatabaseError propagates.
    """
    cached = channel_index_cached(code, max_age)
    if cached is not None:
        return cached
    now = time.monotonic()
    index = ChannelIndex(by_number={}, by_waba={})
    for channel in Channel.objects.filter(provider=code):
        index.by_number[channel.phone_number_id] = channel
        if channel.waba_id:
            index.by_waba.setdefault(channel.waba_id, []).append(channel)
    _channels_cache[code] = (now, index)
    return index


def webhook_channels(
    index: ChannelIndex, addressees: list[WebhookAddressee]
) -> list[Channel] | None:
    """The channels a body names, or None when it names none or any we do not know: such a
    body cannot be verified with a channel's secret, so it is refused and stored nowhere."""
    if not addressees:
        return None
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
    _rechecked_at.clear()


def body_decode(raw: bytes, *, allow_list: bool = False) -> tuple[str, Any] | None:
    """The body as text and its decoded value when it is a JSON object (or list), else None."""
    try:
        text = raw.decode("utf-8")
        payload = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):  # nested past the decoder's depth
        return None
    if isinstance(payload, dict) or (allow_list and isinstance(payload, list)):
        return text, payload
    return None


def webhook_credentials_find(
    ptype: ProviderType, payload: Any, index: ChannelIndex
) -> WebhookCredentials | None:
    """What may authenticate this body: the secrets of the channels it names (Meta), or the
    account-wide ones (MyOperator); None when it names a channel we do not know."""
    addressees = ptype.webhook_addressees(payload)
    if addressees is None:
        return ptype.webhook_credentials([])
    channels = webhook_channels(index, addressees)
    if channels is None:
        return None
    for channel in channels:
        if not channel.secret(channel.app_secret_setting):
            logger.error(
                "%s webhook refused: channel %s has no app secret (setting %r unset or not "
                "allowed)", ptype.code, channel.pk, channel.app_secret_setting,
            )  # fmt: skip
    return ptype.webhook_credentials(channels)


def verdict_log(code: str, verdict: Verdict) -> None:
    """Log a refusal for naming no channel we know, with the ids it named (other refusals
    are logged where they are decided)."""
    if verdict.reason == UNKNOWN_CHANNEL.reason:
        logger.warning("%s webhook refused: it names no channel we know (%s)", code, verdict.detail)


def unknown_channel(verdict: Verdict) -> bool:
    """Whether `verdict` refused a body for naming no channel we know."""
    return verdict.reason == UNKNOWN_CHANNEL.reason


_rechecked_at: dict[str, float] = {}


def unknown_channel_recheck(code: str, verdict: Verdict) -> bool:
    """Whether to judge `verdict`'s body again by a fresh read of the index
    (`channel_index(code, max_age=0)`): it named no channel we know, and a fresh read is due
    (`recheck_slot_take`)."""
    return unknown_channel(verdict) and recheck_slot_take(code)


def recheck_slot_take(code: str) -> bool:
    """Whether a fresh read of this provider's index is due, taking it if so: the last one is
    UNKNOWN_CHANNEL_RECHECK_SECONDS old (the first one always is)."""
    now = time.monotonic()
    if now - _rechecked_at.get(code, float("-inf")) < UNKNOWN_CHANNEL_RECHECK_SECONDS:
        return False
    _rechecked_at[code] = now
    return True


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What to answer a webhook: `status` 0 means verified (store `text`), else the HTTP
    status and reason of the refusal."""

    status: int
    reason: str = ""
    text: str = ""
    detail: str = ""  # for the log only

    @property
    def verified(self) -> bool:
        return self.status == 0


TOO_LARGE = Verdict(413, "payload too large")
UNKNOWN_CHANNEL = Verdict(403, "unknown channel")
# A body naming a channel this process's index lacks is checked again against a fresh read,
# at most once per this many seconds per provider: a number added in another process (or
# another server) is known at once, and junk naming unknown numbers costs one query a second.
UNKNOWN_CHANNEL_RECHECK_SECONDS = 1.0
UNAVAILABLE = Verdict(503, "temporarily unavailable")


def webhook_verify(
    code: str, headers: Mapping[str, str], raw: bytes, index: ChannelIndex | None = None
) -> Verdict:
    """Whether a POSTed body may be stored: 401 no credentials, 400 not JSON, 403 a channel we
    do not know or a wrong signature or token, 503 the channels cannot be read; else verified.

    `index` is the provider's channel index (read here, from the cache or the database, when
    not given).
    """
    ptype = provider_type(code)
    if not any(header_value(headers, name) for name in ptype.webhook_auth_headers):
        return Verdict(401, "credentials missing")
    decoded = body_decode(raw, allow_list=ptype.webhook_accepts_list)
    if decoded is None:
        expected = "JSON" if ptype.webhook_accepts_list else "a JSON object"
        return Verdict(400, f"body is not {expected}")
    text, payload = decoded
    if index is not None:
        return _signed(ptype, headers, raw, text, payload, index)
    try:
        verdict = _signed(ptype, headers, raw, text, payload, channel_index(code))
        if unknown_channel_recheck(code, verdict):
            index = channel_index(code, max_age=0)
            verdict = _signed(ptype, headers, raw, text, payload, index)
    except DatabaseError:
        logger.warning("could not read %s channels; answering 503 so it is retried", code)
        return UNAVAILABLE
    verdict_log(code, verdict)
    return verdict


def _signed(
    ptype: ProviderType,
    headers: Mapping[str, str],
    raw: bytes,
    text: str,
    payload: Any,
    index: ChannelIndex,
) -> Verdict:
    code = ptype.code
    credentials = webhook_credentials_find(ptype, payload, index)
    if credentials is None:
        named = sorted({a.value for a in ptype.webhook_addressees(payload) or []})[:5]
        return dataclasses.replace(UNKNOWN_CHANNEL, detail=", ".join(named))
    if not credentials:
        logger.error("%s webhook refused: no webhook secret is configured", code)
    if not ptype.verify_webhook(headers, raw, credentials):
        logger.warning("%s webhook refused: bad signature or token", code)
        return Verdict(403, "invalid credentials")
    return Verdict(0, text=text)
