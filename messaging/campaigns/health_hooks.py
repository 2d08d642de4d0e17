"""Campaigns' part in number health (see `messaging.channels.hooks`), registered at ready():
an alarm on a number pauses its running marketing campaigns."""

from __future__ import annotations

from messaging.campaigns.services import campaigns_pause_for_number
from messaging.channels.hooks import health_listener_register


def campaign_health_hooks_register() -> None:
    health_listener_register(campaigns_pause_for_number)
