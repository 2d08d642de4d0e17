"""The satisfaction survey after closing: sent as a five-row WhatsApp list on numbers that
opted in and only while the window is open; the customer's list reply (or button reply) is
recorded as the rating, and neither reopens the conversation nor wakes automation."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.utils import timezone

from crm.models import Contact
from messaging.inbox.services import conversation_close
from messaging.inbox.survey import survey_content
from messaging.models import Conversation, Message, SatisfactionSurvey
from messaging.providers import InvalidMessage, OutboundMessage, validate_outbound
from tests.factories import ChannelFactory, ContactFactory, ConversationFactory
from tests.messaging.inbox.support import WA_ID, inbound

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey_channel(db):
    return ChannelFactory(satisfaction_survey=True)


@pytest.fixture
def agent(make_user):
    return make_user("Agent")


def answered_conversation(agent, *, minutes_ago=5):
    """Asha wrote, an agent has the conversation: ready to close."""
    message = inbound(body="Where is my order?")
    conversation = Conversation.objects.get(pk=message.conversation_id)
    Conversation.objects.filter(pk=conversation.pk).update(assignee=agent)
    conversation.refresh_from_db()
    return conversation


def list_reply(row_id: str, title: str = "5 - Excellent", **kwargs) -> Message:
    return inbound(
        body="",
        type="interactive",
        interactive={"type": "list_reply", "list_reply": {"id": row_id, "title": title}},
        **kwargs,
    )


def test_the_survey_is_a_list_of_five_ratings_within_whatsapps_limits():
    content = survey_content(123)
    rows = content["action"]["sections"][0]["rows"]
    assert [r["id"] for r in rows] == [f"csat:123:{n}" for n in (5, 4, 3, 2, 1)]
    assert rows[0]["title"] == "5 - Excellent" and rows[4]["title"] == "1 - Very poor"
    validate_outbound(OutboundMessage(type="interactive", content=content, to="919812345678"))
    # Reply buttons would not do: WhatsApp allows three of them.
    buttons = {"type": "button", "body": {"text": "Rate"}, "action": {"buttons": [
        {"type": "reply", "reply": {"id": f"b{n}", "title": str(n)}} for n in range(1, 6)
    ]}}  # fmt: skip
    with pytest.raises(InvalidMessage):
        validate_outbound(OutboundMessage(type="interactive", content=buttons, to="919812345678"))


def test_closing_sends_the_survey_on_numbers_that_opted_in(survey_channel, agent):
    conversation = answered_conversation(agent)
    conversation_close(conversation=conversation, actor=agent)
    survey = SatisfactionSurvey.objects.get()
    assert (survey.conversation, survey.agent, survey.rating) == (conversation, agent, None)
    message = survey.message
    assert message.type == "interactive" and message.is_automated
    assert message.content["type"] == "list"
    assert message.content["action"]["sections"][0]["rows"][0]["id"] == f"csat:{survey.pk}:5"
    event = conversation.events.get(kind="closed")
    assert event.assignee == agent and event.seconds is not None  # resolution time


def test_no_survey_without_the_opt_in_or_outside_the_window(agent, survey_channel):
    conversation = answered_conversation(agent)
    survey_channel.satisfaction_survey = False
    survey_channel.save(update_fields=["satisfaction_survey"])
    conversation_close(conversation=conversation, actor=agent)
    assert (
        not SatisfactionSurvey.objects.exists()
        and not Message.objects.filter(type="interactive").exists()
    )

    survey_channel.satisfaction_survey = True
    survey_channel.save(update_fields=["satisfaction_survey"])
    stale = ConversationFactory(
        channel=survey_channel,
        contact=ContactFactory(),
        last_inbound_at=timezone.now() - dt.timedelta(hours=30),
    )
    closed = conversation_close(conversation=stale, actor=agent)  # the close itself goes on
    assert not closed.is_open
    assert not SatisfactionSurvey.objects.exists()  # window closed: refused, nothing left


def test_a_list_reply_records_the_rating_and_does_not_reopen(
    survey_channel, agent, django_capture_on_commit_callbacks
):
    conversation = answered_conversation(agent)
    conversation_close(conversation=conversation, actor=agent)
    survey = SatisfactionSurvey.objects.get()
    Contact.objects.filter(pk=conversation.contact_id).update(unread_count=0)
    with (
        mock.patch("messaging.webhooks.inbound.autoreply_enqueue") as autoreply,
        mock.patch("messaging.webhooks.inbound.conversation_route_safely") as route,
        django_capture_on_commit_callbacks(execute=True),
    ):
        reply = list_reply(f"csat:{survey.pk}:4", "4 - Good")
    survey.refresh_from_db()
    assert (survey.rating, survey.reply) == (4, reply) and survey.rated_at
    conversation.refresh_from_db()
    assert not conversation.is_open  # a rating is not a new request
    assert Contact.objects.get(pk=conversation.contact_id).unread_count == 0
    autoreply.assert_not_called()
    route.assert_not_called()
    assert reply.type == "interactive_reply" and reply.content["id"] == f"csat:{survey.pk}:4"


def test_a_later_tap_replaces_the_rating_and_button_replies_count_too(survey_channel, agent):
    conversation = answered_conversation(agent)
    conversation_close(conversation=conversation, actor=agent)
    survey = SatisfactionSurvey.objects.get()
    now = int(timezone.now().timestamp())
    list_reply(f"csat:{survey.pk}:2", at=now)
    inbound(
        body="", at=now + 5, type="interactive",
        interactive={"type": "button_reply", "button_reply": {"id": f"csat:{survey.pk}:5",
                                                              "title": "5"}},
    )  # fmt: skip
    list_reply(f"csat:{survey.pk}:1", at=now - 60)  # older, delivered late: ignored
    survey.refresh_from_db()
    assert survey.rating == 5
    assert not Conversation.objects.get(pk=conversation.pk).is_open


def test_someone_elses_survey_id_is_an_ordinary_message(survey_channel, agent, make_user):
    conversation = answered_conversation(agent)
    conversation_close(conversation=conversation, actor=agent)
    survey = SatisfactionSurvey.objects.get()
    message = list_reply(f"csat:{survey.pk}:5", wa_id="919800000999")
    assert Conversation.objects.get(pk=message.conversation_id).is_open  # a new request
    survey.refresh_from_db()
    assert survey.rating is None
    # A real message from Asha after the survey reopens as usual.
    assert inbound(body="One more thing", wa_id=WA_ID).conversation.is_open


def test_the_thread_shows_the_survey_and_its_answer(client, survey_channel, agent):
    conversation = answered_conversation(agent)
    conversation_close(conversation=conversation, actor=agent)
    survey = SatisfactionSurvey.objects.get()
    list_reply(f"csat:{survey.pk}:3", "3 - Okay")
    client.force_login(agent)
    page = client.get(f"/staff/inbox/{conversation.pk}/").content.decode()
    assert 'data-testid="survey-message"' in page and 'data-testid="survey-answer"' in page
    assert "Customer rating 3/5" in page
