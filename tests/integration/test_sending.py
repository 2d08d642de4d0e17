"""The send pipeline end to end: real worker processes, Redis, PostgreSQL, the simulator."""

import time

import pytest
from django.db.models import Count
from django.utils import timezone

from messaging.models import Message, Status
from messaging.sending.dispatch import send_sweep
from messaging.sending.send import message_send
from tests.factories import ChannelFactory, ContactFactory, window_open
from tests.integration.conftest import wait_for

TERMINAL = {Status.ACCEPTED, Status.UNKNOWN, Status.FAILED, Status.CANCELLED}


@pytest.fixture
def live_channel(transactional_db, simulator, settings):
    settings.WHATSAPP_API_TOKEN = "simulator-token"
    return ChannelFactory(base_url=simulator.url, throughput_mps=500)


def queue(channel, n):
    contacts = ContactFactory.create_batch(n, last_inbound_at=timezone.now())
    for contact in contacts:
        window_open(contact, channel)  # the window is the number's
    return [
        message_send(channel=channel, contact=c, type="text", content={"body": "hi"})
        for c in contacts
    ]


def statuses() -> dict[int, int]:
    rows = Message.objects.values("status").order_by().annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def test_a_worker_sends_through_the_simulator(live_channel, simulator, celery_worker):
    celery_worker("send1", concurrency=2)
    messages = queue(live_channel, 30)
    wait_for(
        lambda: Message.objects.filter(status=Status.ACCEPTED).count() == len(messages),
        timeout=30,
    )
    counts = simulator.counts()
    assert len(counts) == 30 and set(counts.values()) == {1}


def test_throughput_storm_then_recovery(live_channel, simulator, celery_worker, settings):
    simulator.configure(error_storm={"code": 130429, "count": 15})
    celery_worker("send-storm", concurrency=2, SEND_RETRY_BASE_SECONDS=0.2)
    messages = queue(live_channel, 20)
    wait_for(
        lambda: Message.objects.filter(status=Status.ACCEPTED).count() == len(messages),
        timeout=45,
    )
    assert set(simulator.counts().values()) == {1}
    assert Message.objects.filter(attempts__gt=1).exists()  # some were retried


def test_worker_killed_mid_batch_then_restarted_sends_nothing_twice(
    live_channel, simulator, celery_worker, settings
):
    settings.SEND_CLAIM_STALE_SECONDS = 2
    live_channel.throughput_mps = 60
    live_channel.save()
    worker = celery_worker("victim", concurrency=1, SEND_CLAIM_STALE_SECONDS=2)
    messages = queue(live_channel, 300)
    wait_for(lambda: sum(simulator.counts().values()) >= 40, timeout=20)
    worker.kill()  # SIGKILL: no cleanup, claimed messages stay in `sending`
    sent_before = sum(simulator.counts().values())
    assert sent_before < len(messages)

    celery_worker("rescuer", concurrency=2, SEND_CLAIM_STALE_SECONDS=2)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        send_sweep()  # what beat runs every 10 s
        if not Message.objects.exclude(status__in=TERMINAL).exists():
            break
        time.sleep(0.5)
    leftover = Message.objects.exclude(status__in=TERMINAL).count()
    assert leftover == 0, statuses()

    counts = simulator.counts()
    assert all(n == 1 for n in counts.values()), "a recipient got a message twice"
    accepted = Message.objects.filter(status=Status.ACCEPTED).count()
    unknown = Message.objects.filter(status=Status.UNKNOWN).count()
    assert accepted + unknown == len(messages)
    # Every accepted message reached the simulator exactly once; unknown ones at most once.
    assert accepted <= len(counts) <= accepted + unknown
