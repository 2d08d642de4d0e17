"""Inbound messages, consent keywords, user preferences and template status updates."""

import datetime as dt
import importlib
import time
from unittest import mock

import pytest
from django.apps import apps
from django.db import DatabaseError

from crm.models import ConsentEvent, Contact
from messaging.automation.tasks import autoreply_run
from messaging.models import (
    Conversation,
    ConversationEvent,
    ConversationEventKind,
    Direction,
    Lane,
    Message,
    MessageTemplate,
    Status,
    WebhookState,
)
from messaging.providers import MediaContent, PermanentError, TemporaryError
from messaging.signals import button_clicked, inbound_message_received
from messaging.webhooks.inbound import message_media_fetch
from messaging.webhooks.services import webhook_event_process
from messaging.webhooks.tasks import webhook_fetch_media
from tests.factories import ChannelFactory, ContactFactory, MessageFactory, TemplateFactory
from tests.messaging.webhooks.support import (
    envelope,
    fixture,
    messages_payload,
    process,
    store,
    text_message,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def wa_channel(db):
    return ChannelFactory()


T0 = 1767225600
WA_ID = "919812345678"


@pytest.fixture
def eager_retries(monkeypatch):
    """Eager retries run nested `apply()` calls that re-raise unless this is off."""
    from config.celery import app

    monkeypatch.setitem(app.conf, "task_eager_propagates", False)


def at(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


@pytest.fixture
def media_enqueued():
    with mock.patch.object(webhook_fetch_media, "delay") as delay:
        yield delay


@pytest.fixture
def signals():
    received = {"inbound": [], "clicks": []}

    def on_inbound(sender, message, contact, **kwargs):
        received["inbound"].append(message.wamid)

    def on_click(sender, message, payload, title, replied_to, **kwargs):
        received["clicks"].append((message.wamid, payload, title, replied_to))

    inbound_message_received.connect(on_inbound, dispatch_uid="test-inbound")
    button_clicked.connect(on_click, dispatch_uid="test-click")
    yield received
    inbound_message_received.disconnect(dispatch_uid="test-inbound")
    button_clicked.disconnect(dispatch_uid="test-click")


# --- Messages ---------------------------------------------------------------------------------


def test_a_text_message_creates_contact_message_and_conversation(
    wa_channel, signals, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        event = process(fixture("text_message.json"))
    assert event.state == WebhookState.PROCESSED, event.error
    message = Message.objects.get()
    assert message.direction == Direction.INBOUND
    assert message.status == Status.RECEIVED
    assert message.type == "text"
    assert message.content == {"body": "Hi, is my order on its way?"}
    assert message.received_at == at(1767225600)  # the payload's time, not arrival
    assert message.channel == wa_channel
    assert message.wa_id == WA_ID
    contact = message.contact
    assert (contact.wa_id, contact.phone, contact.profile_name) == (
        WA_ID,
        "+919812345678",
        "Asha Rao",
    )
    assert contact.last_inbound_at == at(1767225600)
    assert contact.unread_count == 1
    conversation = Conversation.objects.get(contact=contact, channel=wa_channel)
    assert message.conversation == conversation
    assert conversation.is_open
    assert conversation.first_inbound_at == at(1767225600)
    assert conversation.last_activity_at == at(1767225600)
    assert signals["inbound"] == [message.wamid]


def test_a_redelivered_message_is_stored_once(
    wa_channel, signals, django_capture_on_commit_callbacks
):
    payload = fixture("text_message.json")
    with django_capture_on_commit_callbacks(execute=True):
        process(payload)
        payload["entry"][0]["changes"][0]["value"]["redelivered"] = True  # another body
        event = process(payload)
    assert event.state == WebhookState.PROCESSED
    assert Message.objects.count() == 1
    assert Contact.objects.get().unread_count == 1
    assert len(signals["inbound"]) == 1


def test_every_inbound_type_is_stored(
    wa_channel, media_enqueued, django_capture_on_commit_callbacks
):
    campaign = MessageFactory(
        channel=wa_channel,
        contact=ContactFactory(phone="+919812345678"),
        wamid="wamid.OUT.campaign",
    )
    with django_capture_on_commit_callbacks(execute=True):
        event = process(fixture("inbound_types.json"))
    assert event.state == WebhookState.PROCESSED, event.error
    by_id = {m.wamid.removeprefix("wamid.IN."): m for m in Message.objects.filter(direction="in")}
    assert {k: m.type for k, m in by_id.items()} == {
        "text": "text",
        "image": "image",
        "video": "video",
        "audio": "audio",
        "document": "document",
        "sticker": "sticker",
        "location": "location",
        "contacts": "contacts",
        "button": "button",
        "button_reply": "interactive_reply",
        "list_reply": "interactive_reply",
        "nfm_reply": "interactive_reply",
        "reaction": "reaction",
        "system": "system",
        "order": "order",
        "unsupported": "unsupported",
        "future": "unsupported",
    }
    image = by_id["image"]
    assert image.media_id == "1003383421387256"
    assert image.content["caption"] == "My receipt" and image.content["mime_type"] == "image/jpeg"
    document = by_id["document"]
    assert document.content["filename"] == "invoice-1042.pdf"
    assert document.media_id == "1003383421387259"
    location = by_id["location"].content
    assert location["latitude"] == 12.971598765432101  # full precision
    assert location["longitude"] == 77.59456234567891
    assert location["name"] == "Cubbon Park"
    assert by_id["contacts"].content["contacts"][0]["phones"][0]["wa_id"] == "919845000000"
    button = by_id["button"]
    assert button.content == {"payload": "UNLOCK_DAILY_TIP", "text": "Unlock today's tip"}
    assert button.context_wamid == "wamid.OUT.campaign"
    reply = by_id["button_reply"].content
    assert (reply["id"], reply["title"]) == ("confirm-yes", "Yes")
    row = by_id["list_reply"].content
    assert (row["id"], row["title"], row["description"]) == (
        "slot-2",
        "Tuesday 10:00",
        "Morning slot",
    )
    assert by_id["nfm_reply"].content["response"] == {"flow_token": "t-1", "rating": "5"}
    assert by_id["reaction"].content == {"message_id": "wamid.OUT.campaign", "emoji": "👍"}
    assert by_id["system"].content["type"] == "user_changed_number"
    assert by_id["order"].content["product_items"][0]["product_retailer_id"] == "SKU-1"
    unsupported = by_id["unsupported"]
    assert unsupported.error_code == 131051
    assert unsupported.content["errors"][0]["code"] == 131051
    future = by_id["future"].content
    assert future["original_type"] == "hologram"
    assert future["message"]["hologram"] == {"shape": "cube"}
    # The reaction shows on the message it reacted to.
    campaign.refresh_from_db()
    assert campaign.reaction == "👍"
    # Media is fetched in the background, one task per media message.
    fetched = sorted(call.args[0] for call in media_enqueued.call_args_list)
    media = ("image", "video", "audio", "document", "sticker")
    assert fetched == sorted(by_id[k].pk for k in media)
    # System messages and reactions do not count as unread. The system message is a number
    # change: its contact moved to the new number, and the three messages the old number
    # sent after it (order, unsupported, future) belong to whoever writes from it now.
    moved = Contact.objects.get(pk=by_id["system"].contact_id)
    assert moved.wa_id == "919812345679"
    later = Contact.objects.get(wa_id=WA_ID)
    assert (moved.unread_count, later.unread_count) == (12, 3)


def test_an_empty_emoji_removes_the_reaction_whatever_the_order(wa_channel):
    target = MessageFactory(channel=wa_channel, contact=ContactFactory(phone="+919812345678"),
                            wamid="wamid.OUT.r")  # fmt: skip

    def reaction(wamid, emoji, ts):
        return {"from": WA_ID, "id": wamid, "timestamp": str(ts), "type": "reaction",
                "reaction": {"message_id": "wamid.OUT.r", "emoji": emoji}}  # fmt: skip

    # The removal (later) arrives before the reaction (earlier).
    process(messages_payload(reaction("wamid.R2", "", T0 + 10)))
    process(messages_payload(reaction("wamid.R1", "❤️", T0)))
    target.refresh_from_db()
    assert target.reaction == ""
    process(messages_payload(reaction("wamid.R3", "😂", T0 + 20)))
    target.refresh_from_db()
    assert target.reaction == "😂"


def test_a_button_tap_reports_the_campaign_message_it_answered(
    wa_channel, signals, django_capture_on_commit_callbacks
):
    contact = ContactFactory(phone="+919812345678")
    campaign = MessageFactory(channel=wa_channel, contact=contact, wamid="wamid.OUT.campaign")
    tap = text_message("wamid.TAP", "", T0, type="button",
                       context={"from": "15550001111", "id": "wamid.OUT.campaign"},
                       button={"payload": "UNLOCK", "text": "Unlock"})  # fmt: skip
    del tap["text"]
    with django_capture_on_commit_callbacks(execute=True):
        process(messages_payload(tap))
    assert signals["clicks"] == [("wamid.TAP", "UNLOCK", "Unlock", campaign)]


def test_an_interactive_reply_without_context_falls_back_to_the_latest_outbound(
    wa_channel, signals, django_capture_on_commit_callbacks
):
    contact = ContactFactory(phone="+919812345678")
    MessageFactory(channel=wa_channel, contact=contact, wamid="wamid.OUT.old",
                   created_at=at(T0 - 100))  # fmt: skip
    latest = MessageFactory(channel=wa_channel, contact=contact, wamid="wamid.OUT.new",
                            created_at=at(T0 - 10))  # fmt: skip
    MessageFactory(channel=wa_channel, contact=contact, wamid=None, status=Status.QUEUED)
    reply = {
        "from": WA_ID,
        "id": "wamid.LIST",
        "timestamp": str(T0),
        "type": "interactive",
        "interactive": {"type": "list_reply", "list_reply": {"id": "r1", "title": "Row 1"}},
    }
    with django_capture_on_commit_callbacks(execute=True):
        process(messages_payload(reply))
    assert signals["clicks"] == [("wamid.LIST", "r1", "Row 1", latest)]


def test_a_bsuid_only_user_becomes_a_contact_without_a_phone(wa_channel):
    event = process(fixture("bsuid_only.json"))
    assert event.state == WebhookState.PROCESSED, event.error
    message = Message.objects.get()
    contact = message.contact
    assert contact.bsuid == "IN.11829371928371928"
    assert contact.phone is None and contact.wa_id is None
    assert contact.profile_name == "quiet_user"
    assert message.wa_id == ""
    assert contact.last_inbound_at == at(1767225600)


def test_the_window_never_moves_backwards_and_a_closed_conversation_reopens(wa_channel):
    process(messages_payload(text_message("wamid.NEW", "later", T0 + 3600)))
    contact = Contact.objects.get()
    Conversation.objects.filter(contact=contact).update(is_open=False, closed_at=at(T0 + 3700))
    process(messages_payload(text_message("wamid.OLD", "earlier", T0)))
    contact.refresh_from_db()
    assert contact.last_inbound_at == at(T0 + 3600)
    assert contact.unread_count == 2
    conversation = Conversation.objects.get(contact=contact)
    assert conversation.is_open and conversation.closed_at is None
    assert conversation.first_inbound_at == at(T0)
    assert conversation.last_activity_at == at(T0 + 3600)


def test_a_batch_with_several_entries_and_changes_is_processed_whole(wa_channel):
    second = ChannelFactory(phone_number_id="200000000000002", name="Second")
    third = ChannelFactory(
        phone_number_id="200000000000003", name="Third", waba_id="100000000000002"
    )
    out1 = MessageFactory(channel=second, wamid="wamid.BATCH.out1", status=Status.SENT)
    out2 = MessageFactory(channel=third, wamid="wamid.BATCH.out2", status=Status.SENT)
    event = process(fixture("batch_multi.json"))
    # The change for a number we do not have is an error on the event, not a crash ...
    assert event.state == WebhookState.FAILED
    assert "unknown phone_number_id '299999999999999'" in event.error
    assert "wamid.BATCH.unknown" in event.error
    # ... and every other entry and change was processed.
    assert set(Message.objects.filter(direction="in").values_list("wamid", flat=True)) == {
        "wamid.BATCH.in1",
        "wamid.BATCH.in2",
    }
    assert Contact.objects.filter(wa_id__in=["919812345678", "919812345679"]).count() == 2
    out1.refresh_from_db()
    out2.refresh_from_db()
    assert (out1.status, out2.status) == (Status.DELIVERED, Status.READ)


def test_replaying_after_adding_the_missing_channel_completes_the_event(wa_channel):
    from messaging.webhooks.services import webhook_event_process, webhook_events_replay

    event = process(fixture("batch_multi.json"))
    assert event.state == WebhookState.FAILED
    ChannelFactory(phone_number_id="299999999999999", name="Forgotten")
    ChannelFactory(phone_number_id="200000000000002", name="Second")
    ChannelFactory(phone_number_id="200000000000003", name="Third")
    assert webhook_events_replay(event_ids=[event.pk], enqueue=False) == 1
    webhook_event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.state == WebhookState.PROCESSED, event.error
    assert event.attempts == 2
    assert Message.objects.filter(direction="in").count() == 3  # nothing stored twice


def test_a_message_without_a_sender_is_an_error_and_the_rest_goes_on(wa_channel):
    anonymous = text_message("wamid.ANON", "who am I", T0)
    del anonymous["from"]
    contacts = [
        {"wa_id": WA_ID, "profile": {"name": "A"}},
        {"wa_id": "919800000001", "profile": {"name": "B"}},
    ]
    payload = envelope(
        "messages",
        {"messages": [anonymous, text_message("wamid.OK", "hi", T0)], "contacts": contacts},
    )
    event = process(payload)
    assert event.state == WebhookState.FAILED
    assert "wamid.ANON" in event.error and "without a sender" in event.error
    assert list(Message.objects.values_list("wamid", flat=True)) == ["wamid.OK"]


# --- Inbox and automation, on commit -----------------------------------------------------------


@pytest.fixture
def autoreply_enqueued():
    """The message ids handed to `messaging.autoreply_run` (nothing runs them)."""
    with mock.patch.object(autoreply_run, "delay") as delay:
        yield delay


def test_an_inbound_message_enqueues_its_auto_reply_once_on_commit(
    wa_channel, autoreply_enqueued, django_capture_on_commit_callbacks
):
    payload = fixture("text_message.json")
    with django_capture_on_commit_callbacks() as callbacks:
        event = process(payload)
    assert event.state == WebhookState.PROCESSED, event.error
    message = Message.objects.get()
    autoreply_enqueued.assert_not_called()  # nothing inside the processing transaction
    assert not ConversationEvent.objects.exists()
    for callback in callbacks:
        callback()
    autoreply_enqueued.assert_called_once_with(message.pk)
    assert ConversationEvent.objects.filter(
        conversation=message.conversation, kind=ConversationEventKind.OPENED
    ).count() == 1  # fmt: skip

    # A redelivery (another body, the same message) stores nothing and enqueues nothing more.
    payload["entry"][0]["changes"][0]["value"]["redelivered"] = True
    with django_capture_on_commit_callbacks(execute=True):
        process(payload)
    assert Message.objects.count() == 1
    autoreply_enqueued.assert_called_once_with(message.pk)


def test_no_auto_reply_is_enqueued_when_the_processing_rolls_back(
    wa_channel, autoreply_enqueued, django_capture_on_commit_callbacks
):
    event = store(fixture("text_message.json"))
    with (
        mock.patch(
            "messaging.webhooks.services._record_outcomes", side_effect=DatabaseError("gone")
        ),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(DatabaseError),
    ):
        webhook_event_process(event_id=event.pk)
    assert callbacks == []
    autoreply_enqueued.assert_not_called()
    assert not Message.objects.exists()
    assert not ConversationEvent.objects.exists()


def test_the_inbound_signal_drives_no_automation(wa_channel, autoreply_enqueued):
    """`inbound_message_received` is analytics' to hear: messaging calls its own code."""
    message = MessageFactory(channel=wa_channel, direction=Direction.INBOUND)
    inbound_message_received.send(sender=Message, message=message, contact=message.contact)
    autoreply_enqueued.assert_not_called()
    assert not ConversationEvent.objects.exists()


# --- Consent ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, consent",
    [
        ("STOP", "opted_out"),
        ("  stop \n", "opted_out"),
        ("Unsubscribe", "opted_out"),
        ("stop   ALL", "opted_out"),
        ("start", "opted_in"),
        (" UnStop ", "opted_in"),
        ("please stop", "unknown"),
        ("stopped", "unknown"),
    ],
)
def test_keywords_change_consent_ignoring_case_and_spacing(wa_channel, text, consent):
    ContactFactory(phone="+919812345678", consent="unknown")
    process(messages_payload(text_message("wamid.KW", text, T0)))
    contact = Contact.objects.get()
    assert contact.consent == consent
    if consent != "unknown":
        event = ConsentEvent.objects.get(contact=contact)
        assert event.source == "keyword" and event.created_at == at(T0)


def test_keyword_order_does_not_matter(wa_channel):
    ContactFactory(phone="+919812345678", consent="opted_in")
    process(messages_payload(text_message("wamid.START", "START", T0 + 60)))
    process(messages_payload(text_message("wamid.STOP", "STOP", T0)))  # older, arrives late
    assert Contact.objects.get().consent == "opted_in"


def test_a_confirmation_is_queued_when_enabled(wa_channel, settings):
    settings.CONSENT_CONFIRMATION_REPLIES = True
    with mock.patch("messaging.sending.nudge.send_enqueue") as enqueue:
        process(messages_payload(text_message("wamid.STOP", "stop", int(time.time()))))
    reply = Message.objects.get(direction=Direction.OUTBOUND)
    assert reply.status == Status.QUEUED
    assert reply.lane == Lane.PRIORITY
    assert reply.is_automated
    assert reply.content == {"body": settings.OPT_OUT_CONFIRMATION_TEXT}
    assert not enqueue.called  # only after commit


def test_the_enqueue_of_a_confirmation_happens_after_commit(
    wa_channel, settings, django_capture_on_commit_callbacks
):
    settings.CONSENT_CONFIRMATION_REPLIES = True
    now = int(time.time())
    with (
        mock.patch("messaging.sending.nudge.send_enqueue") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        process(messages_payload(text_message("wamid.START", "START", now)))
    enqueue.assert_called_once_with(channel_id=wa_channel.pk, fanout=1)


def test_no_confirmation_by_default_or_outside_the_window(wa_channel, settings):
    process(messages_payload(text_message("wamid.STOP1", "stop", int(time.time()))))
    assert Contact.objects.get(wa_id=WA_ID).consent == "opted_out"
    settings.CONSENT_CONFIRMATION_REPLIES = True
    # Another user's START from long ago: consent changes, but the window is shut.
    process(messages_payload(text_message("wamid.START1", "start", T0, wa_id="919800000001")))
    assert Contact.objects.get(wa_id="919800000001").consent == "opted_in"
    assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()


def test_user_preferences_stop_and_resume(wa_channel):
    ContactFactory(phone="+919812345678", consent="opted_in")
    event = process(fixture("user_preferences.json"))
    assert event.state == WebhookState.PROCESSED, event.error
    contact = Contact.objects.get()
    assert contact.consent == "opted_out"
    stop = ConsentEvent.objects.get(contact=contact)
    assert stop.source == "meta" and stop.created_at == at(1767225800)

    payload = fixture("user_preferences.json")
    preference = payload["entry"][0]["changes"][0]["value"]["user_preferences"][0]
    preference.update(value="resume", timestamp=1767225900)
    process(payload)
    contact.refresh_from_db()
    assert contact.consent == "opted_in"


# --- Templates --------------------------------------------------------------------------------


def test_template_status_updates_follow_name_and_language(wa_channel):
    template = TemplateFactory(channel=wa_channel, name="order_confirmation", language="en_US")
    other = TemplateFactory(channel=wa_channel, name="order_confirmation", language="hi")
    event = process(fixture("template_status_update.json"))
    assert event.state == WebhookState.PROCESSED, event.error
    template.refresh_from_db()
    other.refresh_from_db()
    assert (template.status, template.rejected_reason) == ("REJECTED", "INCORRECT_CATEGORY")
    assert other.status == "APPROVED"


def test_a_template_update_for_an_unknown_waba_is_an_error(wa_channel):
    payload = fixture("template_status_update.json")
    payload["entry"][0]["id"] = "999"
    event = process(payload)
    assert event.state == WebhookState.FAILED
    assert "unknown WABA" in event.error
    assert not MessageTemplate.objects.exists()


# --- Media ------------------------------------------------------------------------------------


def _inbound_image(channel):
    return MessageFactory(channel=channel, direction="in", type="image", status=Status.RECEIVED,
                          media_id="1003383421387256", content={"mime_type": "image/jpeg"},
                          wamid="wamid.IMG")  # fmt: skip


def test_media_is_downloaded_into_the_message(wa_channel):
    message = _inbound_image(wa_channel)
    provider = mock.Mock()
    provider.fetch_media.return_value = MediaContent(
        media_id="1003383421387256", url="http://x", mime_type="image/jpeg", content=b"\xff\xd8jpeg"
    )
    with mock.patch("messaging.webhooks.inbound.provider_for_channel", return_value=provider):
        assert message_media_fetch(message_id=message.pk) is True
    message.refresh_from_db()
    assert message.media_file.name.endswith(".jpg")
    assert message.media_file.read() == b"\xff\xd8jpeg"
    assert message.media_error == ""


def test_a_media_failure_is_recorded_not_raised(wa_channel):
    message = _inbound_image(wa_channel)
    provider = mock.Mock()
    provider.fetch_media.side_effect = PermanentError("media gone", code=131052)
    with mock.patch("messaging.webhooks.inbound.provider_for_channel", return_value=provider):
        assert message_media_fetch(message_id=message.pk) is False
    message.refresh_from_db()
    assert "media gone" in message.media_error and not message.media_file


def test_a_temporary_media_failure_is_retried_then_recorded(wa_channel, eager_retries):
    message = _inbound_image(wa_channel)
    provider = mock.Mock()
    provider.fetch_media.side_effect = TemporaryError("timeout")
    with mock.patch("messaging.webhooks.inbound.provider_for_channel", return_value=provider):
        result = webhook_fetch_media.apply(args=[message.pk])
    assert result.successful() and result.result is False
    assert provider.fetch_media.call_count == 5  # first try + 4 retries
    message.refresh_from_db()
    assert "timeout" in message.media_error


def test_each_number_keeps_its_own_window_which_only_moves_forward(wa_channel):
    second = ChannelFactory(name="Second", phone_number_id="200000000000002")
    process(messages_payload(text_message("wamid.NEW", "later", T0 + 3600)))
    process(messages_payload(text_message("wamid.OLD", "earlier", T0)))
    first = Conversation.objects.get(channel=wa_channel)
    assert first.last_inbound_at == at(T0 + 3600)
    assert first.window_expires_at == at(T0 + 3600) + dt.timedelta(hours=24)
    assert not Conversation.objects.filter(channel=second).exists()
    other = text_message("wamid.B", "to the other number", T0 + 7200)
    process(messages_payload(other, phone_number_id=second.phone_number_id))
    assert Conversation.objects.get(channel=second).last_inbound_at == at(T0 + 7200)
    first.refresh_from_db()
    assert first.last_inbound_at == at(T0 + 3600)  # a message to B opens no window on A


def test_the_backfill_reads_each_numbers_last_inbound_message(wa_channel):
    """The data migration that introduced per-number windows."""
    backfill = importlib.import_module(
        "messaging.migrations.0024_conversation_last_inbound_at_backfill"
    ).backfill
    second = ChannelFactory(name="Second", phone_number_id="200000000000002")
    contact = ContactFactory()
    here = Conversation.objects.create(contact=contact, channel=wa_channel)
    there = Conversation.objects.create(contact=contact, channel=second)
    silent = Conversation.objects.create(contact=ContactFactory(), channel=wa_channel)
    for seconds, channel, kind in [
        (T0, wa_channel, "text"), (T0 + 60, wa_channel, "text"), (T0 + 120, wa_channel, "system"),
        (T0 + 30, second, "image"),
    ]:  # fmt: skip
        MessageFactory(
            channel=channel, contact=contact, direction=Direction.INBOUND, type=kind,
            status=Status.RECEIVED, received_at=at(seconds),
        )  # fmt: skip
    MessageFactory(channel=wa_channel, contact=silent.contact)  # outbound: opens nothing
    backfill(apps, None)
    for conversation, expected in [(here, at(T0 + 60)), (there, at(T0 + 30)), (silent, None)]:
        conversation.refresh_from_db()
        assert conversation.last_inbound_at == expected
