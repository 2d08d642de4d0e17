"""The demo's event webhooks: a subscription to the simulator's stand-in receiver, whose
delivery log moves as the demo's messages do."""

from __future__ import annotations

import json
import urllib.request

import pytest

from messaging.hooks_out.demo import DEMO_NAME, seed_event_webhooks
from messaging.hooks_out.models import DeliveryState, HookEvent, WebhookDelivery
from messaging.hooks_out.services import deliveries_drain, event_emit

pytestmark = pytest.mark.django_db


def test_the_demo_subscription_delivers_to_the_simulator(channel, simulator, settings):
    settings.WEBHOOK_OUT_ALLOW_PRIVATE = True
    assert seed_event_webhooks(simulator_url=channel.base_url).startswith("one subscription")
    assert seed_event_webhooks(simulator_url=channel.base_url) == "already there"
    event_emit(event_type=HookEvent.MESSAGE_STATUS, data={"message": {"status": "sent"}})
    deliveries_drain(budget_seconds=5)
    delivery = WebhookDelivery.objects.get(subscription__name=DEMO_NAME)
    assert delivery.state == DeliveryState.DELIVERED and delivery.status_code == 200
    with urllib.request.urlopen(f"{simulator.url}/_sim/receiver") as answer:
        received = json.load(answer)
    assert received["received"] == 1
    assert received["last"] == [{"id": str(delivery.event_id), "type": "message.status"}]


def test_no_demo_subscription_where_loopback_receivers_are_refused(channel, settings):
    settings.WEBHOOK_OUT_ALLOW_PRIVATE = False
    assert seed_event_webhooks(simulator_url=channel.base_url).startswith("skipped")
    assert not WebhookDelivery.objects.exists()
