"""Webhook authentication shared by every intake path (DESIGN.md section 5).

A body is decoded (it is at most WEBHOOK_MAX_BODY_BYTES) before its signature is checked,
only to learn which channel it is for: a webhook is verified with the secret of the channel
it names and no other, and a body for no channel we know is refused and stored nowhere.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from typing import Any

from django.core.signals import setting_changed
from django.db import DatabaseError
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from messaging.channels.models import Channel
from messaging.providers import ProviderType
from messaging.providers.registry import WebhookAddressee, WebhookCredentials

logger = logging.getLogger(__name__)

CHANNELS_CACHE_SECONDS = 30.0
_channels_cache: dict[str, tuple[float, _ChannelIndex]] = {}


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


def webhook_credentials_find(ptype: ProviderType, payload: Any) -> WebhookCredentials | None:
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
