"""Notification idempotency under concurrency, on real PostgreSQL.

Eight callers send the same (event type, reference) at the same moment, each on its own
database connection: exactly one notification and one message may come out, and every
caller gets that same notification back.
"""

import importlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.apps import apps as django_apps
from django.db import connection

from core.services import api_token_create
from messaging.models import Message, Notification
from messaging.notifications import services as svc
from tests.factories import ChannelFactory, ContactFactory, UserFactory

THREADS = 8
ORDER = {"order_id": "#9", "amount": "₹10", "delivery_date": "Friday", "tracking_id": "9"}


@pytest.fixture
def synced_channel(transactional_db, simulator, settings):
    from messaging.channels.templates import templates_sync

    settings.WHATSAPP_API_TOKEN = "simulator-token"
    # Transactional tests flush the tables between tests; put the seeded types back.
    seed = importlib.import_module("messaging.migrations.0010_notification_types")
    seed.create(django_apps, None)
    channel = ChannelFactory(base_url=simulator.url)
    assert not templates_sync(channel=channel).errors
    return channel


@pytest.fixture
def slow_attempt(monkeypatch):
    """Hold each sending transaction open a moment, so the racers really overlap."""
    original = svc._attempt

    def slow(notification, **kwargs):
        time.sleep(0.3)
        return original(notification, **kwargs)

    monkeypatch.setattr(svc, "_attempt", slow)


def test_concurrent_identical_sends_through_the_service(synced_channel, slow_attempt):
    contact = ContactFactory()
    barrier = threading.Barrier(THREADS)

    def send(_):
        try:
            barrier.wait(timeout=10)
            notification = svc.notification_send(
                event_type="order_confirmation", contact=contact, variables=ORDER,
                reference_id="RACE-1",
            )  # fmt: skip
            return notification.pk, notification.replayed
        finally:
            connection.close()

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(send, range(THREADS)))

    assert len({pk for pk, _ in results}) == 1
    assert sum(1 for _, replayed in results if not replayed) == 1
    assert Notification.objects.filter(reference_id="RACE-1").count() == 1
    assert Message.objects.filter(contact=contact).count() == 1


def test_concurrent_identical_api_requests(synced_channel, live_server, slow_attempt):
    contact = ContactFactory()
    user = UserFactory(username="shop", roles=["Campaign manager"])
    _token, key = api_token_create(user=user, name="shop")
    barrier = threading.Barrier(THREADS)
    body = {
        "event_type": "order_confirmation", "phone": contact.phone, "variables": ORDER,
        "reference_id": "RACE-API",
    }  # fmt: skip

    def post(_):
        barrier.wait(timeout=10)
        response = requests.post(
            f"{live_server.url}/api/v1/notifications/", json=body,
            headers={"Authorization": f"Token {key}"}, timeout=30,
        )  # fmt: skip
        return response.status_code, response.json()

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(post, range(THREADS)))

    codes = sorted(code for code, _ in results)
    assert codes == [200] * (THREADS - 1) + [202], results
    assert len({body["id"] for _, body in results}) == 1
    assert Notification.objects.filter(reference_id="RACE-API").count() == 1
    assert Message.objects.filter(contact=contact).count() == 1
