"""Event webhooks end to end: real worker processes (PostgreSQL, Redis), the simulator posting
status webhooks, and a local receiver that verifies every signature.

- a notification's message is sent by a worker, the simulator reports sent, delivered and
  read, and the receiver gets accepted, sent, delivered, read: signed, in that order;
- a receiver that is down for a while gets every event once it is back, each message's
  events still in order;
- a replay (through the API) sends the same events again, with the same ids.
"""

from __future__ import annotations

import importlib
import socket
import time
from collections import defaultdict

import pytest
import requests
from django.apps import apps as django_apps

from core.queueing import task
from core.services import api_token_create
from messaging.hooks_out.models import DeliveryState, HookEvent, WebhookDelivery
from messaging.hooks_out.services import events_emit
from messaging.notifications.services import notification_send
from tests.factories import ChannelFactory, ContactFactory, UserFactory, WebhookSubscriptionFactory
from tests.integration.conftest import APP_SECRET, TOKEN, wait_for
from tests.messaging.hooks_out.support import Receiver

ORDER = {"order_id": "#9", "amount": "₹10", "delivery_date": "Friday", "tracking_id": "9"}
WORKER_ENV = {
    "WEBHOOK_OUT_ALLOW_PRIVATE": "1",
    "WEBHOOK_OUT_BACKOFF_MAX_SECONDS": "2",
    "WEBHOOK_OUT_TIMEOUT_SECONDS": "2",
    "WHATSAPP_APP_SECRET": APP_SECRET,
    "WHATSAPP_API_TOKEN": TOKEN,
}


@pytest.fixture(autouse=True)
def _fresh_queue_and_flags():
    """What an earlier test's worker left in Redis must not steer this one: queued sweeps, a
    sweep's lock or failure backoff (a sweep that ran while that test's tables were being
    flushed), the drain flag."""
    from django.core.cache import cache

    from config.celery import app
    from messaging.hooks_out.services import NUDGE_KEY

    app.control.purge()
    sweep = "messaging.hooks_out_sweep"
    cache.delete_many([f"task-lock:{sweep}", f"task-backoff:{sweep}", NUDGE_KEY])


@pytest.fixture(autouse=True)
def _loopback_receivers(settings):
    settings.WEBHOOK_OUT_ALLOW_PRIVATE = True


@pytest.fixture
def sim_channel(transactional_db, sim):
    from messaging.channels.templates import templates_sync

    # Transactional tests flush the tables between tests; put the seeded types back.
    importlib.import_module("messaging.migrations.0010_notification_types").create(
        django_apps, None
    )
    channel = ChannelFactory(base_url=sim.url, throughput_mps=100)
    assert not templates_sync(channel=channel).errors
    return channel


@pytest.fixture
def local_receiver():
    server = Receiver().start()
    yield server
    server.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _sweep_until(predicate, timeout: float = 60.0):
    """Wait for `predicate`, running the periodic sweep as beat would every second."""
    last = 0.0

    def check():
        nonlocal last
        if time.monotonic() - last > 1.0:
            task("messaging.hooks_out_sweep").delay()
            last = time.monotonic()
        return predicate()

    return wait_for(check, timeout=timeout, interval=0.2)


def test_a_messages_statuses_become_signed_callbacks_in_order(
    sim, sim_channel, local_receiver, celery_worker
):
    subscription = WebhookSubscriptionFactory(
        url=local_receiver.url,
        events=[HookEvent.MESSAGE_STATUS, HookEvent.NOTIFICATION_STATUS],
    )
    celery_worker("hooks-out", queues="send,webhooks,default", concurrency=3, **WORKER_ENV)
    notification = notification_send(
        event_type="order_confirmation", contact=ContactFactory(phone="+919812345678"),
        variables=ORDER, reference_id="ORD-HOOKS-1",
    )  # fmt: skip
    assert not notification.refusal_code, notification.refusal_reason

    def statuses(kind: str) -> list[str]:
        key = "message" if kind == HookEvent.MESSAGE_STATUS else "notification"
        return [e["data"][key]["status"] for e in local_receiver.events() if e["type"] == kind]

    # Both events of each step share the message's order (message.status first, written
    # first): the notification's "read" is the last of all.
    _sweep_until(lambda: statuses(HookEvent.NOTIFICATION_STATUS)[-1:] == ["read"], timeout=60)
    assert statuses(HookEvent.MESSAGE_STATUS) == ["accepted", "sent", "delivered", "read"]
    assert statuses(HookEvent.NOTIFICATION_STATUS) == [
        "queued", "accepted", "sent", "delivered", "read",
    ]  # fmt: skip
    assert local_receiver.verified(subscription.secret)
    message_events = [e for e in local_receiver.events() if e["type"] == HookEvent.MESSAGE_STATUS]
    assert {e["data"]["message"]["id"] for e in message_events} == {str(notification.message.uuid)}
    assert len({e["id"] for e in local_receiver.events()}) == len(local_receiver.events())
    # The worker records the answer after the receiver has the event: wait for the last one.
    wait_for(lambda: set(WebhookDelivery.objects.values_list("state", flat=True)) == {"delivered"})


def test_a_receiver_down_for_a_while_gets_every_event_once_back_then_a_replay(
    transactional_db, live_server, settings, celery_worker
):
    settings.WEBHOOK_OUT_ALLOW_PRIVATE = True
    port = _free_port()
    subscription = WebhookSubscriptionFactory(
        url=f"http://127.0.0.1:{port}/hooks", events=[HookEvent.MESSAGE_STATUS]
    )
    celery_worker("hooks-out", queues="webhooks,default", concurrency=2, **WORKER_ENV)
    steps = ["accepted", "sent", "delivered", "read"]
    events_emit(
        event_type=HookEvent.MESSAGE_STATUS,
        items=[
            ({"message": {"id": f"m{n}", "status": step}}, f"m{n}")
            for step in steps
            for n in range(10)
        ],
    )

    # Down: the first events fail and are retried, the rest wait behind them.
    def failing():
        subscription.refresh_from_db()
        return subscription.failing_since is not None and subscription.consecutive_failures >= 2

    _sweep_until(failing, timeout=30)
    assert not WebhookDelivery.objects.filter(state=DeliveryState.DELIVERED).exists()
    assert WebhookDelivery.objects.filter(attempts__gte=1).exists()

    receiver = Receiver(port=port).start()
    try:
        _sweep_until(
            lambda: not WebhookDelivery.objects.exclude(state=DeliveryState.DELIVERED).exists(),
            timeout=60,
        )
        got = receiver.events()
        assert receiver.verified(subscription.secret)
        by_message: dict[str, list[str]] = defaultdict(list)
        for event in got:
            by_message[event["data"]["message"]["id"]].append(event["data"]["message"]["status"])
        assert by_message == {f"m{n}": steps for n in range(10)}
        expected_ids = {str(i) for i in WebhookDelivery.objects.values_list("event_id", flat=True)}
        assert {e["id"] for e in got} == expected_ids
        subscription.refresh_from_db()
        assert subscription.failing_since is None and subscription.is_active

        # Replay one message's first event through the API: the same event, again.
        admin = UserFactory(username="hooks-admin", roles=["Admin"])
        _token, key = api_token_create(user=admin, name="hooks")
        first = WebhookDelivery.objects.order_by("id").first()
        answer = requests.post(
            f"{live_server.url}/api/v1/webhook-subscriptions/{subscription.pk}/replay/",
            json={"delivery": first.pk}, headers={"Authorization": f"Token {key}"}, timeout=10,
        )  # fmt: skip
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"queued": 1}
        _sweep_until(lambda: len(receiver.events()) == len(got) + 1, timeout=30)
        again = receiver.events()[-1]
        assert again == first.payload and again["id"] == str(first.event_id)
    finally:
        receiver.stop()
