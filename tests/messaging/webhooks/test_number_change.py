"""A customer who changes number (`system` message, `user_changed_number`): the same contact,
conversations and consent go on under the new number."""

import pytest

from crm.models import Consent, Contact, ContactNumberChange
from messaging.models import Conversation, Message, WebhookState
from tests.factories import ChannelFactory, ContactFactory
from tests.messaging.webhooks.support import envelope, messages_payload, process, text_message

pytestmark = pytest.mark.django_db

T0 = 1767225600
OLD, NEW = "16505551234", "12195555358"


@pytest.fixture
def wa_channel(db):
    return ChannelFactory()


def changed_number(ts: int, *, key: str = "wa_id", new: str = NEW, wamid: str = "wamid.SYS"):
    """Meta's example (WHATSAPP.md 2.4): sent from the old number, naming the new one."""
    system = {"body": f"User Sheena Nelson changed from {OLD} to {new}", key: new,
              "type": "user_changed_number"}  # fmt: skip
    message = {"from": OLD, "id": wamid, "timestamp": str(ts), "type": "system", "system": system}
    return envelope("messages", {"messages": [message]})


def test_the_contact_takes_the_new_number_and_the_next_message_finds_it(wa_channel):
    process(messages_payload(text_message("wamid.1", "START", T0, wa_id=OLD), name="Sheena"))
    contact = Contact.objects.get(wa_id=OLD)
    assert contact.consent == Consent.OPTED_IN
    conversation = Conversation.objects.get(contact=contact)

    event = process(changed_number(T0 + 60))
    assert event.state == WebhookState.PROCESSED, event.error
    contact.refresh_from_db()
    assert (contact.phone, contact.wa_id) == ("+" + NEW, NEW)
    history = ContactNumberChange.objects.get(contact=contact)
    assert (history.old_phone, history.old_wa_id) == ("+" + OLD, OLD)
    assert history.note == "WhatsApp message wamid.SYS"
    assert Message.objects.get(wamid="wamid.SYS").contact_id == contact.pk

    process(messages_payload(text_message("wamid.2", "hi again", T0 + 120, wa_id=NEW)))
    again = Message.objects.get(wamid="wamid.2")
    assert again.contact_id == contact.pk
    assert again.conversation_id == conversation.pk  # the conversation carried over
    contact.refresh_from_db()
    assert contact.consent == Consent.OPTED_IN  # and the consent
    assert Contact.objects.count() == 1


def test_a_contact_already_on_the_new_number_is_merged(wa_channel):
    process(messages_payload(text_message("wamid.1", "from the old phone", T0, wa_id=OLD)))
    # The person wrote from the new phone before WhatsApp's notice arrived.
    process(messages_payload(text_message("wamid.2", "from the new phone", T0 + 30, wa_id=NEW)))
    old = Contact.objects.get(wa_id=OLD)
    new = Contact.objects.get(wa_id=NEW)

    assert process(changed_number(T0 + 60)).state == WebhookState.PROCESSED
    assert not Contact.objects.filter(pk=new.pk).exists()
    old.refresh_from_db()
    assert old.wa_id == NEW and old.unread_count == 2
    assert set(Message.objects.values_list("contact_id", flat=True)) == {old.pk}
    (conversation,) = Conversation.objects.all()  # one thread per contact and number
    assert conversation.contact_id == old.pk and conversation.messages.count() == 3
    assert ContactNumberChange.objects.get().merged_contact_ids == [new.pk]


def test_a_message_sent_from_the_old_number_before_the_change_still_belongs_to_it(wa_channel):
    process(changed_number(T0 + 60))
    moved = Contact.objects.get(wa_id=NEW)
    # Webhooks are not ordered: this one was sent before the change and arrives after it.
    process(messages_payload(text_message("wamid.late", "sent earlier", T0 + 10, wa_id=OLD)))
    assert Message.objects.get(wamid="wamid.late").contact_id == moved.pk
    # One sent after the change is someone else's: the old number may be theirs now.
    process(messages_payload(text_message("wamid.next", "new owner", T0 + 90, wa_id=OLD)))
    stranger = Message.objects.get(wamid="wamid.next").contact
    assert stranger.pk != moved.pk and stranger.wa_id == OLD


def test_the_new_wa_id_spelling_and_a_redelivery(wa_channel):
    ContactFactory(phone="+" + OLD)
    process(changed_number(T0, key="new_wa_id"))
    assert Contact.objects.get().wa_id == NEW
    body = changed_number(T0, key="new_wa_id")
    body["entry"][0]["changes"][0]["value"]["extra"] = True  # another body, the same message
    assert process(body).state == WebhookState.PROCESSED
    assert ContactNumberChange.objects.count() == 1


def test_a_number_change_without_the_new_number_fails_with_the_reason(wa_channel):
    body = changed_number(T0, new="")
    event = process(body)
    assert event.state == WebhookState.FAILED and event.attempts == 1
    assert "user_changed_number without the new number" in event.error
    assert not Message.objects.exists()


def test_a_system_message_that_is_no_number_change_changes_nothing(wa_channel):
    identity = {"from": OLD, "id": "wamid.ID", "timestamp": str(T0), "type": "system",
                "system": {"body": "User identity changed", "type": "customer_identity_changed"},
                "identity": {"acknowledged": True, "hash": "x"}}  # fmt: skip
    assert process(envelope("messages", {"messages": [identity]})).state == "processed"
    assert Contact.objects.get().wa_id == OLD
    assert not ContactNumberChange.objects.exists()
