"""Provider timestamps never run ahead of the moment the webhook reached us."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from crm.models import Consent, ConsentEvent, Contact
from messaging.models import Conversation, Message, MessageStatusEvent, Status, WebhookState
from messaging.webhooks.services import webhook_event_process
from tests.factories import ChannelFactory, ContactFactory, MessageFactory
from tests.messaging.webhooks.support import (
    envelope,
    messages_payload,
    status,
    statuses_payload,
    store,
    text_message,
)

pytestmark = pytest.mark.django_db

WA_ID = "919812345678"


@pytest.fixture
def wa_channel(db):
    return ChannelFactory()


def a_year_ahead() -> int:
    return int((timezone.now() + dt.timedelta(days=365)).timestamp())


def processed(payload) -> "object":
    event = store(payload)
    webhook_event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.state == WebhookState.PROCESSED, event.error
    return event


def test_an_inbound_message_from_the_future_opens_the_window_for_24_hours_only(wa_channel):
    future = a_year_ahead()
    event = processed(messages_payload(text_message("wamid.F", "hello", future)))
    message = Message.objects.get(wamid="wamid.F")
    assert message.received_at == message.created_at == event.received_at
    contact = Contact.objects.get(wa_id=WA_ID)
    assert contact.last_inbound_at == event.received_at
    assert contact.window_open
    assert contact.last_inbound_at + dt.timedelta(hours=24) < timezone.now() + dt.timedelta(days=2)
    conversation = Conversation.objects.get(contact=contact)
    assert conversation.last_activity_at == conversation.first_inbound_at == event.received_at
    # The raw value stays in the stored body.
    stored = json.loads(event.body)["entry"][0]["changes"][0]["value"]["messages"][0]
    assert stored["timestamp"] == str(future)


def test_a_later_message_is_not_hidden_behind_a_clamped_one(wa_channel):
    early = store(messages_payload(text_message("wamid.F", "from the future", a_year_ahead())))
    received = timezone.now() - dt.timedelta(minutes=10)
    type(early).objects.filter(pk=early.pk).update(received_at=received)
    webhook_event_process(event_id=early.pk)
    assert Contact.objects.get(wa_id=WA_ID).last_inbound_at == received
    later = int(timezone.now().timestamp()) - 60
    processed(messages_payload(text_message("wamid.N", "now", later)))
    contact = Contact.objects.get(wa_id=WA_ID)
    assert contact.last_inbound_at == dt.datetime.fromtimestamp(later, tz=dt.UTC)


def test_status_timestamps_are_clamped_and_the_raw_one_kept(wa_channel):
    message = MessageFactory(channel=wa_channel, wamid="wamid.S", status=Status.ACCEPTED)
    future = a_year_ahead()
    event = processed(
        statuses_payload(status("wamid.S", "sent", future), status("wamid.S", "read", future))
    )
    message.refresh_from_db()
    assert message.status == Status.READ
    assert message.sent_at == message.read_at == event.received_at
    row = MessageStatusEvent.objects.get(wamid="wamid.S", status="read")
    assert row.timestamp == event.received_at
    assert row.raw["timestamp"] == str(future)


def test_a_consent_change_from_the_future_is_dated_when_it_arrived(wa_channel):
    contact = ContactFactory(phone="+919812345678", consent=Consent.OPTED_IN)
    preference = {"wa_id": WA_ID, "detail": "stop", "category": "marketing_messages",
                  "value": "stop", "timestamp": a_year_ahead()}  # fmt: skip
    event = processed(envelope("user_preferences", {"user_preferences": [preference]}))
    contact.refresh_from_db()
    assert contact.consent == Consent.OPTED_OUT
    assert contact.consent_updated_at == event.received_at
    assert ConsentEvent.objects.get(contact=contact).created_at == event.received_at
    # A START sent right after still wins: the STOP is not dated a year ahead.
    processed(messages_payload(text_message("wamid.START", "START", a_year_ahead() - 1)))
    contact.refresh_from_db()
    assert contact.consent == Consent.OPTED_IN


def test_a_missing_timestamp_is_the_time_of_receipt(wa_channel):
    message = text_message("wamid.T", "no time", 0)
    del message["timestamp"]
    event = processed(messages_payload(message))
    assert Message.objects.get(wamid="wamid.T").received_at == event.received_at
