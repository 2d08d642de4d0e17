"""Bad data fails its own event at once, with the reason; only the database being unavailable
is retried. And an item's contact is its own sender, never another user's `contacts[]` entry."""

from unittest import mock

import pytest
from django.db import IntegrityError, OperationalError

from crm.models import Contact
from messaging.models import Message, WebhookEvent, WebhookState
from messaging.webhooks.services import webhook_error_is_data, webhook_events_drain
from messaging.webhooks.tasks import webhook_process
from tests.factories import ChannelFactory, ContactFactory
from tests.messaging.webhooks.support import envelope, process, store, text_message

pytestmark = pytest.mark.django_db

T0 = 1767225600


@pytest.fixture
def wa_channel(db):
    return ChannelFactory()


@pytest.fixture
def eager_retries(monkeypatch):
    from config.celery import app

    monkeypatch.setitem(app.conf, "task_eager_propagates", False)


def other_users_entry() -> dict:
    """pywa's edit fixture: the only `contacts[]` entry is not the sender."""
    return {"profile": {"name": "Test Name"}, "wa_id": "972987654321",
            "user_id": "US.13491208655302741918"}  # fmt: skip


def test_an_edit_whose_contacts_entry_is_another_user_goes_to_its_sender(wa_channel):
    someone = ContactFactory(
        phone=None, wa_id="972987654321", bsuid="US.13491208655302741918", profile_name="A"
    )
    edit = {"from": "16505551234", "id": "wamid.EDIT", "timestamp": str(T0), "type": "edit",
            "edit": {"original_message_id": "wamid.ORIG",
                     "message": {"type": "text", "text": {"body": "edited"}}}}  # fmt: skip
    event = process(envelope("messages", {"contacts": [other_users_entry()], "messages": [edit]}))
    assert event.state == WebhookState.PROCESSED, event.error
    assert event.attempts == 1
    message = Message.objects.get(wamid="wamid.ORIG")
    sender = message.contact
    assert (sender.wa_id, sender.phone) == ("16505551234", "+16505551234")
    assert sender.bsuid is None and sender.profile_name == ""  # nothing borrowed
    someone.refresh_from_db()
    assert someone.bsuid == "US.13491208655302741918" and someone.profile_name == "A"


def test_a_message_takes_the_name_and_bsuid_of_its_own_entry_only(wa_channel):
    entries = [
        {"profile": {"name": "Other"}, "wa_id": "919800000001", "user_id": "IN.OTHER"},
        {"profile": {"name": "Asha"}, "wa_id": "919812345678", "user_id": "IN.ASHA"},
    ]
    messages = [text_message("wamid.1", "hi", T0), text_message("wamid.2", "yo", T0, wa_id="99")]
    process(envelope("messages", {"contacts": entries, "messages": messages}))
    asha = Message.objects.get(wamid="wamid.1").contact
    assert (asha.profile_name, asha.bsuid) == ("Asha", "IN.ASHA")
    stranger = Message.objects.get(wamid="wamid.2").contact
    assert (stranger.profile_name, stranger.bsuid) == ("", None)


def constraint_breaking_body() -> dict:
    """A message naming a number and, as the same person, a BSUID another contact holds."""
    bad = text_message("wamid.BAD", "hi", T0, wa_id="919812345678", from_user_id="IN.TAKEN")
    fine = text_message("wamid.FINE", "hello", T0, wa_id="919800000002")
    return envelope("messages", {"messages": [bad, fine]})


@pytest.fixture
def taken(wa_channel):
    ContactFactory(phone="+919812345678")
    return ContactFactory(phone=None, wa_id=None, bsuid="IN.TAKEN")


def test_a_payload_that_breaks_a_constraint_fails_at_once_with_the_reason(taken):
    store(constraint_breaking_body())
    assert webhook_events_drain() == 1  # no database error escapes: nothing to retry
    event = WebhookEvent.objects.get()
    assert event.state == WebhookState.FAILED
    assert event.attempts == 1
    assert "inbound wamid.BAD: IntegrityError" in event.error
    assert Message.objects.filter(wamid="wamid.FINE").exists()  # the rest of the body applied
    assert not Message.objects.filter(wamid="wamid.BAD").exists()
    assert Contact.objects.get(bsuid="IN.TAKEN").pk == taken.pk


def test_a_constraint_error_outside_an_item_fails_the_event_at_once(wa_channel):
    store(envelope("messages", {"messages": [text_message("wamid.X", "hi", T0)]}))
    with mock.patch(
        "messaging.webhooks.services._record_outcomes",
        side_effect=IntegrityError("UNIQUE constraint failed: somewhere"),
    ):
        assert webhook_events_drain() == 0  # does not raise: retrying would not help
    event = WebhookEvent.objects.get()
    assert (event.state, event.attempts) == (WebhookState.FAILED, 1)
    assert event.error.startswith("refused by the database: IntegrityError: UNIQUE constraint")


def test_an_operational_error_is_still_retried(wa_channel):
    store(envelope("messages", {"messages": [text_message("wamid.X", "hi", T0)]}))
    with (
        mock.patch(
            "messaging.webhooks.services._record_outcomes",
            side_effect=OperationalError("server closed the connection"),
        ),
        pytest.raises(OperationalError),
    ):
        webhook_events_drain()
    event = WebhookEvent.objects.get()
    assert (event.state, event.attempts) == (WebhookState.PENDING, 1)
    assert "database error: OperationalError" in event.error


def test_the_task_fails_a_constraint_error_without_retrying(wa_channel, eager_retries):
    event = store(envelope("messages", {"messages": [text_message("wamid.X", "hi", T0)]}))
    with (
        mock.patch(
            "messaging.webhooks.tasks.webhook_event_process",
            side_effect=IntegrityError("NOT NULL constraint failed"),
        ) as run,
        mock.patch("messaging.webhooks.tasks.retry_countdown", return_value=0),
    ):
        webhook_process.apply(args=[event.pk])
    assert run.call_count == 1
    event.refresh_from_db()
    assert (event.state, event.attempts) == (WebhookState.FAILED, 1)
    assert "refused by the database: IntegrityError: NOT NULL" in event.error


def test_data_errors_and_operational_errors_are_told_apart():
    from django.db import DataError, InterfaceError

    assert webhook_error_is_data(IntegrityError("x"))
    assert webhook_error_is_data(DataError("x"))
    assert webhook_error_is_data(ValueError("x"))
    assert not webhook_error_is_data(OperationalError("x"))
    assert not webhook_error_is_data(InterfaceError("x"))
