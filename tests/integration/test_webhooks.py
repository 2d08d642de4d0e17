"""Webhooks end to end: the simulator posts signed webhooks to the live server, a real worker
processes them (PostgreSQL, Redis, Celery worker processes)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import requests

from messaging.channels.clients import provider_for_channel
from messaging.models import (
    Direction,
    Message,
    MessageStatusEvent,
    Status,
    WebhookEvent,
    WebhookState,
)
from messaging.providers import OutboundMessage
from messaging.providers.meta_cloud import signature_for
from tests.factories import ChannelFactory, ContactFactory, MessageFactory
from tests.integration.conftest import APP_SECRET, wait_for


def test_an_inbound_message_reaches_the_database_through_a_worker(sim, sim_channel, celery_worker):
    celery_worker("hooks-in", queues="webhooks", concurrency=2)
    response = requests.post(
        sim.url + "/_sim/inbound",
        json={"from": "919812345678", "text": "STOP", "profile_name": "Asha"},
        timeout=5,
    )
    wamid = response.json()["wamid"]

    message = wait_for(
        lambda: Message.objects.filter(wamid=wamid).select_related("contact").first(), timeout=20
    )
    assert message.direction == Direction.INBOUND and message.status == Status.RECEIVED
    assert message.contact.wa_id == "919812345678"
    assert message.contact.consent == "opted_out"
    assert message.contact.unread_count == 1
    assert WebhookEvent.objects.get().state == WebhookState.PROCESSED


def test_statuses_from_the_simulator_walk_a_message_to_read(sim, sim_channel, celery_worker):
    celery_worker("hooks-status", queues="webhooks", concurrency=2)
    contact = ContactFactory(phone="+919812345678")
    # As the dispatcher does: the row exists (sending) before the request, and carries our
    # UUID, so a status that beats the send response is matched by its callback data.
    message = MessageFactory(channel=sim_channel, contact=contact, status=Status.SENDING)
    result = provider_for_channel(sim_channel).send(
        OutboundMessage(
            type="text",
            content={"body": "Your order shipped"},
            to="919812345678",
            callback_data=str(message.uuid),
        )
    )
    Message.objects.filter(pk=message.pk, wamid__isnull=True).update(
        wamid=result.provider_message_id
    )
    Message.objects.filter(pk=message.pk, status=Status.SENDING).update(status=Status.ACCEPTED)

    def read():
        message.refresh_from_db()
        return message.status == Status.READ

    wait_for(read, timeout=20)
    assert message.wamid == result.provider_message_id
    assert message.sent_at and message.delivered_at and message.read_at
    assert message.sent_at <= message.delivered_at <= message.read_at
    assert message.pricing_category == "service"
    history = MessageStatusEvent.objects.filter(wamid=message.wamid)
    assert sorted(history.values_list("status", flat=True)) == ["delivered", "read", "sent"]
    assert set(history.values_list("applied", flat=True)) == {True}
    assert not WebhookEvent.objects.exclude(state=WebhookState.PROCESSED).exists()


def test_concurrent_identical_posts_make_one_event_and_one_transition(
    webhook_target, transactional_db, celery_worker
):
    channel = ChannelFactory()
    message = MessageFactory(channel=channel, wamid="wamid.CONCURRENT", status=Status.SENT)
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": channel.waba_id,
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": channel.display_phone_number,
                                    "phone_number_id": channel.phone_number_id,
                                },
                                "statuses": [
                                    {
                                        "id": "wamid.CONCURRENT",
                                        "status": "delivered",
                                        "timestamp": "1767225705",
                                        "recipient_id": "919812345678",
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": signature_for(APP_SECRET, body),
    }
    threads = 8
    barrier = threading.Barrier(threads)
    codes: list[int] = []
    lock = threading.Lock()

    def post():
        session = requests.Session()
        session.trust_env = False
        barrier.wait(timeout=10)
        response = session.post(webhook_target, data=body, headers=headers, timeout=15)
        with lock:
            codes.append(response.status_code)

    workers = [threading.Thread(target=post) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=30)
    assert len(codes) == threads and all(200 <= code < 300 for code in codes), codes
    assert WebhookEvent.objects.count() == 1

    celery_worker("hooks-concurrent", queues="webhooks", concurrency=2)
    event = WebhookEvent.objects.get()
    wait_for(
        lambda: WebhookEvent.objects.filter(pk=event.pk, state=WebhookState.PROCESSED).exists(),
        timeout=20,
    )
    message.refresh_from_db()
    assert message.status == Status.DELIVERED
    assert message.delivered_at == datetime.fromtimestamp(1767225705, tz=UTC)
    assert MessageStatusEvent.objects.filter(wamid="wamid.CONCURRENT").count() == 1
    assert WebhookEvent.objects.get().attempts == 1  # processed once
