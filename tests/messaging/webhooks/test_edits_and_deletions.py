"""Edited and deleted messages: recorded on the original message, whatever the order."""

import datetime as dt
from unittest import mock

import pytest

from crm.models import Contact
from messaging.models import Direction, Message, MessageStatusEvent, Status, WebhookState
from messaging.providers import MessageDeletion, MessageEdit
from messaging.providers.meta_cloud import parse_webhook
from tests.factories import ChannelFactory, ContactFactory, MessageFactory
from tests.messaging.webhooks.support import (
    envelope,
    messages_payload,
    process,
    status,
    statuses_payload,
    text_message,
)

pytestmark = pytest.mark.django_db

T0 = 1767225600
WA_ID = "919812345678"


@pytest.fixture
def wa_channel(db):
    return ChannelFactory()


@pytest.fixture(autouse=True)
def media_enqueued():
    with mock.patch("messaging.webhooks.inbound.media_fetch_enqueue") as enqueue:
        yield enqueue


def at(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


def edit(wamid: str, original: str, ts: int, new: dict, *, wa_id: str = WA_ID) -> dict:
    return {"from": wa_id, "id": wamid, "timestamp": str(ts), "type": "edit",
            "edit": {"original_message_id": original, "message": new}}  # fmt: skip


def revoke(wamid: str, original: str, ts: int, *, wa_id: str = WA_ID) -> dict:
    return {"from": wa_id, "id": wamid, "timestamp": str(ts), "type": "revoke",
            "revoke": {"original_message_id": original}}  # fmt: skip


def new_text(body: str) -> dict:
    return {"type": "text", "text": {"body": body}}


# --- The parser -------------------------------------------------------------------------------


def test_edits_and_deletions_are_parsed_as_changes_to_their_original():
    payload = messages_payload(
        edit("wamid.E1", "wamid.O1", T0 + 5, new_text("fixed")),
        revoke("wamid.D1", "wamid.O2", T0 + 6),
        {
            "from": WA_ID,
            "id": "wamid.D2",
            "timestamp": str(T0 + 7),
            "type": "message_deleted",
            "message_deleted": {"message_id": "wamid.O3"},
        },
    )
    first, second, third = parse_webhook(payload)
    assert isinstance(first, MessageEdit)
    assert (first.wamid, first.original_wamid) == ("wamid.E1", "wamid.O1")
    assert (first.message.type, first.message.content) == ("text", {"body": "fixed"})
    assert first.message.from_wa_id == WA_ID and first.timestamp == at(T0 + 5)
    assert isinstance(second, MessageDeletion)
    assert (second.wamid, second.original_wamid, second.from_wa_id) == (
        "wamid.D1",
        "wamid.O2",
        WA_ID,
    )
    assert isinstance(third, MessageDeletion) and third.original_wamid == "wamid.O3"


# --- Edits ------------------------------------------------------------------------------------


def test_an_edit_changes_the_original_and_keeps_every_version(wa_channel):
    process(messages_payload(text_message("wamid.O", "See you at 5", T0)))
    event = process(messages_payload(edit("wamid.E", "wamid.O", T0 + 60, new_text("See you at 6"))))
    assert event.state == WebhookState.PROCESSED, event.error
    message = Message.objects.get(direction=Direction.INBOUND)  # one message, not two
    assert message.wamid == "wamid.O"
    assert message.content == {"body": "See you at 6"}
    assert message.edited_at == at(T0 + 60)
    assert [(v["wamid"], v["content"]["body"]) for v in message.edit_history] == [
        ("wamid.O", "See you at 5"),
        ("wamid.E", "See you at 6"),
    ]
    contact = Contact.objects.get(wa_id=WA_ID)
    assert contact.unread_count == 1  # an edit is not a new message


def test_a_redelivered_edit_changes_nothing(wa_channel):
    process(messages_payload(text_message("wamid.O", "one", T0)))
    body = messages_payload(edit("wamid.E", "wamid.O", T0 + 1, new_text("two")))
    process(body)
    body["entry"][0]["changes"][0]["value"]["new_field"] = 1  # another body, the same edit
    assert process(body).state == WebhookState.PROCESSED
    assert len(Message.objects.get(wamid="wamid.O").edit_history) == 2


def test_edits_arriving_out_of_order_show_the_newest(wa_channel):
    process(messages_payload(text_message("wamid.O", "v1", T0)))
    process(messages_payload(edit("wamid.E3", "wamid.O", T0 + 30, new_text("v3"))))
    process(messages_payload(edit("wamid.E2", "wamid.O", T0 + 20, new_text("v2"))))
    message = Message.objects.get(wamid="wamid.O")
    assert message.content == {"body": "v3"}
    assert message.edited_at == at(T0 + 30)
    assert [v["content"]["body"] for v in message.edit_history] == ["v1", "v2", "v3"]


def test_an_edit_before_its_original_is_completed_by_the_original(wa_channel):
    process(messages_payload(edit("wamid.E", "wamid.O", T0 + 60, new_text("edited"))))
    message = Message.objects.get(wamid="wamid.O")
    assert message.content == {"body": "edited"} and message.edited_at == at(T0 + 60)

    event = process(messages_payload(text_message("wamid.O", "first", T0)))
    assert event.state == WebhookState.PROCESSED, event.error
    message.refresh_from_db()
    assert Message.objects.filter(direction=Direction.INBOUND).count() == 1
    assert message.content == {"body": "edited"}  # the newest version stays shown
    assert [v["content"]["body"] for v in message.edit_history] == ["first", "edited"]
    assert message.created_at == message.received_at == at(T0)  # sent when the original was
    assert Contact.objects.get(wa_id=WA_ID).unread_count == 1


def test_an_edited_caption_keeps_the_media_and_new_media_is_fetched(
    wa_channel, media_enqueued, django_capture_on_commit_callbacks
):
    image = {"from": WA_ID, "id": "wamid.IMG", "timestamp": str(T0), "type": "image",
             "image": {"id": "m-1", "mime_type": "image/jpeg", "caption": "old"}}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        process(messages_payload(image))
    assert media_enqueued.call_count == 1
    new = {"type": "image", "image": {"id": "m-1", "mime_type": "image/jpeg", "caption": "new"}}
    with django_capture_on_commit_callbacks(execute=True):
        process(messages_payload(edit("wamid.E", "wamid.IMG", T0 + 5, new)))
    message = Message.objects.get(wamid="wamid.IMG")
    assert message.content["caption"] == "new" and message.media_id == "m-1"
    assert media_enqueued.call_count == 1  # the same media: nothing to download again

    other = {"type": "image", "image": {"id": "m-2", "mime_type": "image/jpeg"}}
    with django_capture_on_commit_callbacks(execute=True):
        process(messages_payload(edit("wamid.E2", "wamid.IMG", T0 + 9, other)))
    message.refresh_from_db()
    assert message.media_id == "m-2" and not message.media_file
    media_enqueued.assert_called_with(message.pk)


def test_an_edit_naming_no_original_or_our_own_message_fails_with_the_reason(wa_channel):
    MessageFactory(channel=wa_channel, wamid="wamid.OUT", status=Status.SENT)
    event = process(
        messages_payload(
            edit("wamid.E1", "wamid.OUT", T0, new_text("hijack")),
            edit("wamid.E2", "", T0, new_text("nothing")),
            text_message("wamid.OK", "fine", T0),
        )
    )
    assert event.state == WebhookState.FAILED
    assert "not the user's message" in event.error
    assert "without the id of the message it edits" in event.error
    assert event.attempts == 1
    assert Message.objects.get(wamid="wamid.OUT").content == {"body": "Hello"}
    assert Message.objects.filter(wamid="wamid.OK").exists()  # the rest of the body applied


# --- Deletions --------------------------------------------------------------------------------


def test_a_deletion_marks_the_original_deleted(wa_channel):
    process(messages_payload(text_message("wamid.O", "oops", T0)))
    event = process(messages_payload(revoke("wamid.D", "wamid.O", T0 + 9)))
    assert event.state == WebhookState.PROCESSED, event.error
    message = Message.objects.get(direction=Direction.INBOUND)
    assert message.wamid == "wamid.O" and message.deleted_at == at(T0 + 9)
    assert message.content == {"body": "oops"}  # kept for the record; the thread hides it
    # A second deletion (redelivered in another body) keeps the first time.
    process(envelope("messages", {"messages": [revoke("wamid.D", "wamid.O", T0 + 99)]}))
    message.refresh_from_db()
    assert message.deleted_at == at(T0 + 9)


def test_a_deletion_before_its_original_leaves_it_deleted(wa_channel):
    process(messages_payload(revoke("wamid.D", "wamid.O", T0 + 9)))
    placeholder = Message.objects.get(wamid="wamid.O")
    assert placeholder.deleted_at == at(T0 + 9)
    contact = Contact.objects.get(wa_id=WA_ID)
    assert contact.unread_count == 0 and contact.last_inbound_at is None

    assert process(messages_payload(text_message("wamid.O", "secret", T0))).state == "processed"
    placeholder.refresh_from_db()
    assert placeholder.deleted_at == at(T0 + 9)
    assert placeholder.content == {"body": "secret"} and placeholder.received_at == at(T0)
    assert Message.objects.filter(direction=Direction.INBOUND).count() == 1
    assert Contact.objects.get(pk=contact.pk).unread_count == 0  # nothing new to read


def test_a_deletion_of_our_own_message_fails_with_the_reason(wa_channel):
    MessageFactory(channel=wa_channel, wamid="wamid.OUT", status=Status.SENT)
    event = process(messages_payload(revoke("wamid.D", "wamid.OUT", T0)))
    assert event.state == WebhookState.FAILED and "not the user's message" in event.error
    assert Message.objects.get(wamid="wamid.OUT").deleted_at is None


def test_a_deleted_status_is_recorded_and_leaves_the_status_alone(wa_channel):
    sent = MessageFactory(channel=wa_channel, wamid="wamid.S", status=Status.DELIVERED)
    event = process(statuses_payload(status("wamid.S", "deleted", T0 + 3)))
    assert event.state == WebhookState.PROCESSED, event.error
    sent.refresh_from_db()
    assert sent.status == Status.DELIVERED
    assert sent.deleted_at == at(T0 + 3)
    assert MessageStatusEvent.objects.get(wamid="wamid.S").applied


# --- The inbox thread -------------------------------------------------------------------------


def test_the_thread_shows_edited_and_deleted_messages(client, make_user, wa_channel):
    process(
        messages_payload(
            text_message("wamid.A", "Meet at noon", T0), text_message("wamid.B", "my PIN 1234", T0)
        )
    )
    process(messages_payload(edit("wamid.E", "wamid.A", T0 + 5, new_text("Meet at one"))))
    process(messages_payload(revoke("wamid.D", "wamid.B", T0 + 6)))
    contact = Contact.objects.get(wa_id=WA_ID)
    conversation = contact.conversations.get(channel=wa_channel)
    client.force_login(make_user("Agent"))
    html = client.get(f"/staff/inbox/{conversation.pk}/thread/").content.decode()
    assert "Meet at one" in html and 'data-testid="edited"' in html
    assert "text: Meet at noon" in html  # the earlier version, in the badge's title
    assert "This message was deleted by the contact." in html
    assert "my PIN 1234" not in html


def test_the_inbox_api_says_when_a_message_was_edited_or_deleted(api_client, make_user, wa_channel):
    process(messages_payload(text_message("wamid.A", "hi", T0)))
    process(messages_payload(edit("wamid.E", "wamid.A", T0 + 5, new_text("hello"))))
    contact = Contact.objects.get(wa_id=WA_ID)
    conversation = contact.conversations.get()
    api_client.force_authenticate(make_user("Agent"))
    body = api_client.get(f"/api/v1/conversations/{conversation.pk}/messages/").json()
    (message,) = body["results"]
    assert message["content"] == {"body": "hello"}
    assert message["edited_at"] and message["deleted_at"] is None


def test_a_new_contact_placeholder_is_attributed_to_its_sender(wa_channel):
    ContactFactory(phone="+919800000001")
    process(messages_payload(revoke("wamid.D", "wamid.O", T0, wa_id="919800000001")))
    assert Message.objects.get(wamid="wamid.O").contact.phone == "+919800000001"
