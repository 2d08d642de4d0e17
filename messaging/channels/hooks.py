"""How the rooms above channels hear of a number's health change: an extension point,
filled at ready().

A number's health arrives in channels (Meta's webhooks, the Graph refresh), yet what must
follow lives higher up: a quality drop or a flag pauses the number's marketing campaigns.
Channels cannot import campaigns, so campaigns registers a listener here (in
`MessagingConfig.ready()`, beside its `sending.hooks`), and `channel_health_apply` calls every
listener with each change, inside the transaction that recorded it: the change and what
follows from it commit together or not at all. With none registered, health is still kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from messaging.channels.health import HealthChange
    from messaging.channels.models import Channel

HealthListener = Callable[..., object]  # called as fn(channel=Channel, change=HealthChange)

_listeners: list[HealthListener] = []


def health_listener_register(listener: HealthListener) -> None:
    """Add `listener` once (ready() may run again in tests that reload apps)."""
    if listener not in _listeners:
        _listeners.append(listener)


def health_changed(channel: Channel, change: HealthChange) -> None:
    for listener in tuple(_listeners):
        listener(channel=channel, change=change)
