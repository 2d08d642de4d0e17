"""Provider statuses: forward only, any order, duplicates ignored, parked until matched."""

import datetime as dt
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import ConsentEvent
from messaging.models import Message, MessageStatusEvent, Status, WebhookState
from messaging.providers import StatusUpdate
from messaging.sending.statuses import (
    statuses_apply,
    statuses_apply_parked,
    statuses_apply_parked_older,
)
from messaging.signals import message_statuses_changed
from tests.factories import ChannelFactory, ContactFactory, MessageFactory
from tests.messaging.webhooks.support import (
    failed,
    fixture,
    process,
    status,
    statuses_payload,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def wa_channel(db):
    return ChannelFactory()


T0 = 1767225700


def at(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


@pytest.fixture
def sent_message(wa_channel):
    return MessageFactory(
        channel=wa_channel,
        contact=ContactFactory(phone="+919812345678"),
        wamid="wamid.OUT.1",
        status=Status.ACCEPTED,
        attempts=1,
    )


@pytest.fixture
def status_signals():
    received = []

    def receiver(sender, changes, **kwargs):
        received.extend((c.message_id, c.previous, c.status, c.at) for c in changes)

    message_statuses_changed.connect(receiver, dispatch_uid="test-status-signals")
    yield received
    message_statuses_changed.disconnect(dispatch_uid="test-status-signals")


def test_a_full_lifecycle_fills_each_timestamp_and_the_pricing(sent_message):
    event = process(fixture("statuses_lifecycle.json"))
    assert event.state == WebhookState.PROCESSED, event.error
    sent_message.refresh_from_db()
    assert sent_message.status == Status.READ
    assert sent_message.sent_at == at(1767225700)
    assert sent_message.delivered_at == at(1767225705)
    assert sent_message.read_at == at(1767225760)
    assert sent_message.pricing["pricing_model"] == "PMP"
    assert sent_message.pricing_category == "marketing"
    assert sent_message.billable is True
    assert sent_message.conversation_info["id"] == "b2f6c1a0e6c41c3a6d1f1a4f5a0e9a21"
    history = MessageStatusEvent.objects.filter(message=sent_message)
    assert sorted(history.values_list("status", flat=True)) == ["delivered", "read", "sent"]
    assert all(history.values_list("applied", flat=True))


def test_read_before_delivered_stays_read_and_fills_delivered_later(sent_message):
    process(statuses_payload(status("wamid.OUT.1", "read", T0 + 60)))
    sent_message.refresh_from_db()
    assert sent_message.status == Status.READ
    assert sent_message.read_at == at(T0 + 60)
    assert sent_message.delivered_at is None

    process(statuses_payload(status("wamid.OUT.1", "delivered", T0 + 5)))
    process(statuses_payload(status("wamid.OUT.1", "sent", T0)))
    sent_message.refresh_from_db()
    assert sent_message.status == Status.READ
    assert sent_message.delivered_at == at(T0 + 5)
    assert sent_message.sent_at == at(T0)


def test_failed_after_delivered_is_kept_in_history_only(sent_message):
    process(statuses_payload(status("wamid.OUT.1", "delivered", T0 + 5)))
    event = process(statuses_payload(failed("wamid.OUT.1", 131026, T0 + 9)))
    assert event.state == WebhookState.PROCESSED
    sent_message.refresh_from_db()
    assert sent_message.status == Status.DELIVERED
    assert sent_message.failed_at is None
    assert sent_message.error_code is None
    assert not sent_message.contact.undeliverable
    assert MessageStatusEvent.objects.filter(wamid="wamid.OUT.1", status="failed").exists()


def test_delivered_and_failed_in_one_batch_means_delivered(sent_message):
    process(
        statuses_payload(
            failed("wamid.OUT.1", 131000, T0 + 1), status("wamid.OUT.1", "delivered", T0)
        )
    )
    sent_message.refresh_from_db()
    assert sent_message.status == Status.DELIVERED


def test_duplicate_statuses_change_nothing(
    sent_message, status_signals, django_capture_on_commit_callbacks
):
    payload = statuses_payload(status("wamid.OUT.1", "sent", T0), status("wamid.OUT.1", "sent", T0))
    with django_capture_on_commit_callbacks(execute=True):
        process(payload)
    sent_message.refresh_from_db()
    first = (sent_message.status, sent_message.sent_at)
    # The same statuses again (Meta redelivers), inside another body.
    payload["entry"][0]["time"] = 1
    with django_capture_on_commit_callbacks(execute=True):
        event = process(payload)
    assert event.state == WebhookState.PROCESSED
    sent_message.refresh_from_db()
    assert (sent_message.status, sent_message.sent_at) == first
    assert MessageStatusEvent.objects.filter(wamid="wamid.OUT.1").count() == 1
    assert status_signals == [(sent_message.pk, Status.ACCEPTED, Status.SENT, at(T0))]


def test_a_status_before_its_send_is_parked_then_applied(
    wa_channel, status_signals, django_capture_on_commit_callbacks
):
    process(
        statuses_payload(
            status("wamid.EARLY", "sent", T0), status("wamid.EARLY", "delivered", T0 + 2)
        )
    )
    parked = MessageStatusEvent.objects.filter(wamid="wamid.EARLY")
    assert parked.count() == 2
    assert not parked.filter(applied=True).exists()
    assert not parked.exclude(message=None).exists()

    # The send pipeline records the wamid, then asks for what was parked.
    message = MessageFactory(channel=wa_channel, wamid="wamid.EARLY", status=Status.ACCEPTED)
    with django_capture_on_commit_callbacks(execute=True):
        assert statuses_apply_parked(wamids=["wamid.EARLY"]) == 2
    message.refresh_from_db()
    assert message.status == Status.DELIVERED
    assert message.sent_at == at(T0) and message.delivered_at == at(T0 + 2)
    assert set(parked.values_list("applied", "message_id")) == {(True, message.pk)}
    assert status_signals == [(message.pk, Status.ACCEPTED, Status.DELIVERED, at(T0 + 2))]
    # Nothing parked any more: a second call is a no-op.
    assert statuses_apply_parked(wamids=["wamid.EARLY"]) == 0


def test_a_batch_looks_again_at_what_it_parked_once_it_commits(
    wa_channel, django_capture_on_commit_callbacks
):
    """A send and a webhook batch committing at the same moment: neither saw the other's
    write, and the send's own look for parked statuses ran before the batch committed."""
    with django_capture_on_commit_callbacks() as callbacks:
        process(statuses_payload(status("wamid.RACE", "delivered", T0)))
    # The send committed its wamid in between (its look found nothing parked yet).
    message = MessageFactory(channel=wa_channel, wamid="wamid.RACE", status=Status.ACCEPTED)
    assert not MessageStatusEvent.objects.filter(wamid="wamid.RACE", applied=True).exists()
    for callback in callbacks:  # the batch's commit
        callback()
    message.refresh_from_db()
    assert message.status == Status.DELIVERED
    assert MessageStatusEvent.objects.get(wamid="wamid.RACE").message_id == message.pk


def test_the_sweeper_applies_parked_statuses_older_than_a_few_seconds(wa_channel):
    process(statuses_payload(status("wamid.LATE", "delivered", T0)))
    message = MessageFactory(channel=wa_channel, wamid="wamid.LATE", status=Status.ACCEPTED)
    assert statuses_apply_parked_older(older_than_seconds=5) == 0  # too recent to sweep
    MessageStatusEvent.objects.update(created_at=timezone.now() - timedelta(seconds=30))
    assert statuses_apply_parked_older(older_than_seconds=5) == 1
    message.refresh_from_db()
    assert message.status == Status.DELIVERED


def test_callback_data_settles_an_unknown_message(wa_channel):
    message = MessageFactory(
        channel=wa_channel,
        uuid=uuid.UUID("3f0c8a8e-0c5e-4b8a-9b0a-0f3d3b6f9a11"),
        status=Status.UNKNOWN,
        wamid=None,
    )
    event = process(fixture("status_callback.json"))
    assert event.state == WebhookState.PROCESSED
    message.refresh_from_db()
    assert message.wamid == "wamid.OUT.ambiguous"
    assert message.status == Status.DELIVERED
    assert message.pricing_category == "service"
    assert message.billable is False  # free_customer_service
    assert MessageStatusEvent.objects.get().message_id == message.pk


def test_callback_data_never_matches_a_queued_message(wa_channel):
    message = MessageFactory(
        channel=wa_channel,
        uuid=uuid.UUID("3f0c8a8e-0c5e-4b8a-9b0a-0f3d3b6f9a11"),
        status=Status.QUEUED,
    )
    process(fixture("status_callback.json"))
    message.refresh_from_db()
    assert message.wamid is None and message.status == Status.QUEUED
    assert MessageStatusEvent.objects.get().applied is False


def test_131026_marks_the_contact_undeliverable(sent_message):
    event = process(fixture("status_failed.json"))
    assert event.state == WebhookState.PROCESSED
    sent_message.refresh_from_db()
    assert sent_message.status == Status.FAILED
    assert sent_message.failed_at == at(1767225710)
    assert sent_message.error_code == 131026
    assert sent_message.error_title == "Message undeliverable"
    assert sent_message.error_detail == "Message Undeliverable."
    sent_message.contact.refresh_from_db()
    assert sent_message.contact.undeliverable is True
    assert "131026" in sent_message.contact.undeliverable_reason


def test_131047_says_a_template_is_needed(sent_message):
    process(statuses_payload(failed("wamid.OUT.1", 131047, T0, title="Re-engagement message")))
    sent_message.refresh_from_db()
    assert sent_message.status == Status.FAILED
    assert sent_message.error_code == 131047
    assert sent_message.error_title == "Outside the 24-hour window: send an approved template"
    assert sent_message.error_detail == "details of 131047"


def test_131050_opts_the_contact_out(sent_message):
    process(statuses_payload(failed("wamid.OUT.1", 131050, T0)))
    contact = sent_message.contact
    contact.refresh_from_db()
    assert contact.consent == "opted_out"
    assert ConsentEvent.objects.get(contact=contact).source == "provider_error"


def test_131050_does_not_override_a_later_opt_in(sent_message):
    contact = sent_message.contact
    contact.consent_updated_at = at(T0 + 100)
    contact.save(update_fields=["consent_updated_at"])
    process(statuses_payload(failed("wamid.OUT.1", 131050, T0)))
    contact.refresh_from_db()
    assert contact.consent == "opted_in"


@pytest.mark.parametrize("code", [130429, 131000, 131016, 131053, 131056, 131057])
def test_retryable_async_failures_are_queued_again(sent_message, code):
    process(statuses_payload(failed("wamid.OUT.1", code, T0)))
    sent_message.refresh_from_db()
    assert sent_message.status == Status.QUEUED
    assert sent_message.wamid is None  # the next attempt gets a new one
    assert sent_message.error_code == code
    assert sent_message.next_attempt_at > timezone.now()


@pytest.mark.parametrize("code", [4, 80007, 131048, 999999])
def test_other_async_failures_stay_failed(sent_message, code):
    """App and WABA rate limits (4, 80007) are retried when a send is answered with them,
    but a failed status carrying them is final, as it always was."""
    process(statuses_payload(failed("wamid.OUT.1", code, T0)))
    sent_message.refresh_from_db()
    assert sent_message.status == Status.FAILED
    assert sent_message.error_code == code


def test_retryable_failure_after_the_last_attempt_is_final(sent_message, settings):
    Message.objects.filter(pk=sent_message.pk).update(attempts=settings.SEND_MAX_ATTEMPTS)
    process(statuses_payload(failed("wamid.OUT.1", 131056, T0)))
    sent_message.refresh_from_db()
    assert sent_message.status == Status.FAILED


def test_played_counts_as_read(sent_message):
    process(statuses_payload(status("wamid.OUT.1", "played", T0 + 30)))
    sent_message.refresh_from_db()
    assert sent_message.status == Status.READ
    assert sent_message.read_at == at(T0 + 30)


def test_unknown_status_names_are_kept_without_moving_the_message(sent_message):
    event = process(statuses_payload(status("wamid.OUT.1", "deleted", T0)))
    assert event.state == WebhookState.PROCESSED
    sent_message.refresh_from_db()
    assert sent_message.status == Status.ACCEPTED
    row = MessageStatusEvent.objects.get()
    assert row.status == "deleted" and row.applied and row.message_id == sent_message.pk


def test_signals_are_sent_after_commit_for_changed_messages(
    sent_message, status_signals, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        process(fixture("statuses_lifecycle.json"))
    assert status_signals == []  # nothing before commit
    for callback in callbacks:
        callback()
    assert status_signals == [(sent_message.pk, Status.ACCEPTED, Status.READ, at(1767225760))]


def test_a_status_without_an_id_is_reported_not_raised(wa_channel):
    event = process(statuses_payload({"status": "sent", "timestamp": str(T0)}))
    assert event.state == WebhookState.FAILED
    assert "usable id" in event.error


def test_thousands_of_statuses_cost_a_bounded_number_of_queries(
    wa_channel, django_assert_max_num_queries
):
    contact = ContactFactory()
    Message.objects.bulk_create(
        [
            Message(
                channel=wa_channel,
                contact=contact,
                direction="out",
                type="text",
                wamid=f"wamid.BULK.{i}",
                status=Status.ACCEPTED,
            )
            for i in range(1500)
        ]
    )
    updates = [
        StatusUpdate(
            channel_key=wa_channel.phone_number_id,
            wamid=f"wamid.BULK.{i}",
            status=name,
            timestamp=at(T0 + offset),
            pricing={"category": "utility", "type": "regular", "pricing_model": "PMP"},
            raw={"id": f"wamid.BULK.{i}", "status": name},
        )
        for i in range(1500)
        for name, offset in (("sent", 0), ("delivered", 2))
    ]
    # A few dozen statements for 3,000 statuses (SQLite's 999-parameter limit splits the bulk
    # INSERT into ~30; PostgreSQL needs ~15): nothing is done per status.
    with django_assert_max_num_queries(60):
        result = statuses_apply(updates=updates)
    assert result.applied == 3000 and result.parked == 0
    assert Message.objects.filter(status=Status.DELIVERED, delivered_at=at(T0 + 2)).count() == 1500
    assert Message.objects.filter(pricing_category="utility", billable=True).count() == 1500
