"""The dispatcher against the real simulator over HTTP on loopback."""

from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.models import Lane, Message, Status
from messaging.sending.dispatch import messages_claim, send_batch_run, send_sweep
from messaging.sending.send import message_send
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def queue_texts(channel, n, **contact_kwargs):
    messages = []
    for i in range(n):
        contact = ContactFactory(last_inbound_at=timezone.now(), **contact_kwargs)
        messages.append(
            message_send(channel=channel, contact=contact, type="text", content={"body": f"m{i}"})
        )
    return messages


def make_due():
    Message.objects.filter(status=Status.QUEUED).update(next_attempt_at=timezone.now())


def test_queued_messages_are_accepted_once(channel, simulator):
    messages = queue_texts(channel, 5)
    totals = send_batch_run(channel_id=channel.pk, max_seconds=10)
    assert totals["accepted"] == 5
    for message in messages:
        message.refresh_from_db()
        assert message.status == Status.ACCEPTED
        assert message.wamid.startswith("wamid.")
        assert message.attempts == 1
        assert message.contact.last_outbound_at is not None
    assert sorted(simulator.counts().values()) == [1] * 5
    # Running again sends nothing more.
    assert send_batch_run(channel_id=channel.pk, max_seconds=2)["accepted"] == 0
    assert sum(simulator.counts().values()) == 5


def test_the_simulator_sees_our_uuid_as_callback_data(channel, simulator):
    (message,) = queue_texts(channel, 1)
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    (sent,) = simulator.messages()
    assert sent["callback_data"] == str(message.uuid)


def test_throughput_storm_backs_off_then_every_message_is_accepted_once(
    channel, simulator, settings
):
    # A retry made due at once would otherwise wait out the recipient's gap (tested apart).
    settings.SEND_RECIPIENT_MIN_GAP_SECONDS = 0
    simulator.configure(error_storm={"code": 130429, "count": 3})
    messages = queue_texts(channel, 4)
    first = send_batch_run(channel_id=channel.pk, max_seconds=5)
    assert first["retrying"] == 3 and first["accepted"] == 1
    retrying = Message.objects.filter(status=Status.QUEUED)
    assert retrying.count() == 3
    for message in retrying:
        assert message.error_code == 130429
        assert message.next_attempt_at > timezone.now()
    # Jitter: the three backoffs are not all the same instant.
    assert len({m.next_attempt_at for m in retrying}) > 1
    make_due()
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    assert all(m.status == Status.ACCEPTED for m in Message.objects.all())
    assert sorted(simulator.counts().values()) == [1] * len(messages)


def test_server_errors_are_retried_up_to_the_cap_then_failed(channel, simulator, settings):
    # A retry made due at once would otherwise wait out the recipient's gap (tested apart).
    settings.SEND_RECIPIENT_MIN_GAP_SECONDS = 0
    settings.SEND_MAX_ATTEMPTS = 2
    simulator.configure(error_storm={"code": 500, "count": 10})
    (message,) = queue_texts(channel, 1)
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    message.refresh_from_db()
    assert message.status == Status.QUEUED and message.attempts == 1
    make_due()
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert message.attempts == 2


def test_permanent_failure_marks_the_contact_undeliverable(channel, simulator):
    (message,) = queue_texts(channel, 1)
    simulator.configure(fail_numbers={message.contact.wa_id: 131026})
    totals = send_batch_run(channel_id=channel.pk, max_seconds=5)
    assert totals["failed"] == 1
    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert message.error_code == 131026
    assert message.error_title
    assert message.contact.undeliverable is True
    assert simulator.counts() == {}


def test_marketing_stop_code_records_an_opt_out(channel, simulator):
    (message,) = queue_texts(channel, 1)
    simulator.configure(fail_numbers={message.contact.wa_id: 131050})
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    message.contact.refresh_from_db()
    assert message.contact.consent == "opted_out"
    event = message.contact.consent_events.get()
    assert event.source == "provider_error"


def test_a_lost_response_leaves_the_message_unknown_and_never_resends(channel, simulator, settings):
    settings.PROVIDER_READ_TIMEOUT = 0.5
    (message,) = queue_texts(channel, 1)
    simulator.configure(hang_numbers=[message.contact.wa_id], hang_seconds=2)
    totals = send_batch_run(channel_id=channel.pk, max_seconds=5)
    assert totals["unknown"] == 1
    message.refresh_from_db()
    assert message.status == Status.UNKNOWN
    assert message.wamid is None
    send_batch_run(channel_id=channel.pk, max_seconds=2)
    send_sweep()
    assert simulator.counts() == {message.contact.wa_id: 1}


def test_connection_refused_is_retried_safely(channel, simulator, settings):
    # A retry made due at once would otherwise wait out the recipient's gap (tested apart).
    settings.SEND_RECIPIENT_MIN_GAP_SECONDS = 0
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    good = channel.base_url
    channel.base_url = f"http://127.0.0.1:{port}"
    channel.save()
    (message,) = queue_texts(channel, 1)
    assert send_batch_run(channel_id=channel.pk, max_seconds=5)["retrying"] == 1
    message.refresh_from_db()
    assert message.status == Status.QUEUED
    channel.base_url = good
    channel.save()
    make_due()
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    assert simulator.counts() == {message.contact.wa_id: 1}


def test_bad_credentials_pause_the_channel_and_keep_the_messages(channel, simulator, settings):
    # A retry made due at once would otherwise wait out the recipient's gap (tested apart).
    settings.SEND_RECIPIENT_MIN_GAP_SECONDS = 0
    settings.WHATSAPP_API_TOKEN = "wrong"
    messages = queue_texts(channel, 2)
    totals = send_batch_run(channel_id=channel.pk, max_seconds=5)
    assert totals["auth"] >= 1
    channel.refresh_from_db()
    assert "credentials" in channel.paused_reason
    assert {m.status for m in Message.objects.filter(pk__in=[m.pk for m in messages])} == {
        Status.QUEUED
    }
    # Nothing is sent while paused.
    settings.WHATSAPP_API_TOKEN = "simulator-token"
    assert send_batch_run(channel_id=channel.pk, max_seconds=1)["accepted"] == 0
    from messaging.channels.services import channel_resume

    channel_resume(channel=channel)
    assert send_batch_run(channel_id=channel.pk, max_seconds=5)["accepted"] == 2


def test_consent_and_blocks_are_checked_again_at_send_time(channel, simulator):
    (message,) = queue_texts(channel, 1)
    message.contact.blocked = True
    message.contact.save()
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    message.refresh_from_db()
    assert message.status == Status.CANCELLED
    assert "blocked" in message.error_title.lower()
    assert simulator.counts() == {}


def test_priority_lane_is_claimed_before_bulk(channel):
    bulk = queue_texts(channel, 3)
    Message.objects.filter(pk__in=[m.pk for m in bulk]).update(lane=Lane.BULK)
    (priority,) = queue_texts(channel, 1)
    claimed = messages_claim(channel_id=channel.pk, lane=Lane.PRIORITY, limit=10)
    assert [m.pk for m in claimed] == [priority.pk]
    assert messages_claim(channel_id=channel.pk, lane=Lane.PRIORITY, limit=10) == []
    assert len(messages_claim(channel_id=channel.pk, lane=Lane.BULK, limit=10)) == 3


def test_claims_only_take_due_queued_messages(channel):
    (later,) = queue_texts(channel, 1)
    later.next_attempt_at = timezone.now() + timedelta(minutes=5)
    later.save()
    assert messages_claim(channel_id=channel.pk, lane=Lane.PRIORITY, limit=10) == []


def test_sweeper_turns_stale_claims_into_unknown(channel, settings):
    settings.SEND_CLAIM_STALE_SECONDS = 60
    (message,) = queue_texts(channel, 1)
    Message.objects.filter(pk=message.pk).update(
        status=Status.SENDING, claimed_at=timezone.now() - timedelta(minutes=5)
    )
    assert send_sweep()["stale_to_unknown"] == 1
    message.refresh_from_db()
    assert message.status == Status.UNKNOWN


def test_pacing_follows_the_channel_rate(channel, simulator):
    import time

    channel.throughput_mps = 20
    channel.save()
    queue_texts(channel, 10)
    started = time.monotonic()
    send_batch_run(channel_id=channel.pk, max_seconds=10)
    received = sorted(m["time"] for m in simulator.messages())
    assert len(received) == 10
    # 10 messages at 20/s are spread over about half a second, not sent in one burst.
    assert received[-1] - received[0] >= 0.4
    assert time.monotonic() - started < 5
