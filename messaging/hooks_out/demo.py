"""Demo data for event webhooks: one subscription whose log moves while `make run` runs.

The simulator doubles as the integrator's receiver (`POST /_sim/receiver` counts what it
gets), so the demo's live sends, their statuses and the inbound replies become callbacks the
page shows delivered, with their latency and the receiver's answer. Seeded only where
receivers on loopback are allowed (WEBHOOK_OUT_ALLOW_PRIVATE, on in the local demo).
"""

from __future__ import annotations

from django.conf import settings

from messaging.hooks_out.models import HookEvent, WebhookSubscription
from messaging.hooks_out.services import subscription_create

DEMO_NAME = "Order service (demo receiver)"


def seed_event_webhooks(*, simulator_url: str) -> str:
    """`simulator_url`: the demo channel's API address (the simulator)."""
    if WebhookSubscription.objects.filter(name=DEMO_NAME).exists():
        return "already there"
    if not settings.WEBHOOK_OUT_ALLOW_PRIVATE or not simulator_url:
        return "skipped (receivers on loopback are not allowed here)"
    subscription_create(
        name=DEMO_NAME,
        url=f"{simulator_url.rstrip('/')}/_sim/receiver",
        events=[
            HookEvent.MESSAGE_STATUS,
            HookEvent.MESSAGE_INBOUND,
            HookEvent.CONTACT_CONSENT,
            HookEvent.NOTIFICATION_STATUS,
            HookEvent.CAMPAIGN_STATE,
        ],
    )
    return "one subscription, delivering to the simulator"
