"""Conversation cycles, first response times, the signals analytics records, and
`inbox_metrics(day=...)`."""

import datetime as dt

import pytest
from django.utils import timezone

from messaging.automation.services import autoreply_process
from messaging.inbox.selectors import inbox_metrics
from messaging.inbox.services import (
    UploadRefused,
    answer_rate,
    conversation_close,
    conversation_reopen,
    conversation_reply_text,
    upload_check,
)
from messaging.models import (
    AutomatedAnswer,
    Conversation,
    ConversationEvent,
)
from messaging.sending.conversations import conversation_opened_record, conversation_outbound_record
from messaging.signals import answer_rated, conversation_closed
from tests.factories import (
    AutoReplyRuleFactory,
    ChannelFactory,
    ConversationFactory,
    FaqEntryFactory,
    MessageFactory,
    UserFactory,
)
from tests.messaging.inbox.support import inbound, now_ts

pytestmark = pytest.mark.django_db


@pytest.fixture
def wa_channel(db, settings):
    settings.OFFICE_HOURS = ""
    return ChannelFactory()


@pytest.fixture
def heard():
    received = {"closed": [], "rated": []}

    def on_closed(sender, **kwargs):
        received["closed"].append(kwargs)

    def on_rated(sender, **kwargs):
        received["rated"].append(kwargs)

    conversation_closed.connect(on_closed, dispatch_uid="test-closed")
    answer_rated.connect(on_rated, dispatch_uid="test-rated")
    yield received
    conversation_closed.disconnect(dispatch_uid="test-closed")
    answer_rated.disconnect(dispatch_uid="test-rated")


def test_first_response_per_cycle(wa_channel, django_capture_on_commit_callbacks):
    agent = UserFactory(username="agent-1")
    t0 = now_ts() - 3600
    with django_capture_on_commit_callbacks(execute=True):
        question = inbound(body="Where is my order?", at=t0, wamid="wamid.q1")
    conversation = Conversation.objects.get()
    reply = conversation_reply_text(conversation=conversation, user=agent, body="Today")
    conversation.refresh_from_db()
    assert conversation.first_response_at == reply.created_at
    event = ConversationEvent.objects.get(kind="first_response")
    assert event.seconds == pytest.approx((reply.created_at - question.received_at).total_seconds())
    assert not event.automated and event.actor == agent
    conversation_reply_text(conversation=conversation, user=agent, body="Anything else?")
    assert ConversationEvent.objects.filter(kind="first_response").count() == 1

    # Closed, then the contact writes again: a new cycle, opened once, answered once more.
    conversation_close(conversation=conversation, actor=agent)
    with django_capture_on_commit_callbacks(execute=True):
        inbound(body="One more question", wamid="wamid.q2")
        inbound(body="Hello?", wamid="wamid.q3")
    conversation.refresh_from_db()
    assert conversation.is_open
    assert ConversationEvent.objects.filter(kind="opened").count() == 2
    conversation_reply_text(conversation=conversation, user=agent, body="Yes?")
    assert ConversationEvent.objects.filter(kind="first_response").count() == 2


def test_an_outbound_message_before_any_question_is_not_a_response(wa_channel):
    conversation = ConversationFactory(channel=wa_channel)
    message = MessageFactory(channel=wa_channel, contact=conversation.contact)
    assert (
        conversation_outbound_record(conversation=conversation, message=message, automated=False)
        is False
    )
    assert not ConversationEvent.objects.exists()


def test_opened_is_recorded_once_per_cycle(wa_channel):
    conversation = ConversationFactory(channel=wa_channel)
    assert conversation_opened_record(conversation_id=conversation.pk) is True
    assert conversation_opened_record(conversation_id=conversation.pk) is False
    conversation_close(conversation=conversation, actor=None)
    assert conversation_opened_record(conversation_id=conversation.pk) is False  # closed
    conversation_reopen(conversation=conversation, actor=None)
    assert conversation_opened_record(conversation_id=conversation.pk) is False  # staff reopen
    assert ConversationEvent.objects.filter(kind="opened").count() == 2


def test_conversation_closed_signal_carries_the_cycle(
    wa_channel, heard, django_capture_on_commit_callbacks
):
    AutoReplyRuleFactory(trigger="keyword", trigger_value="HI", text="Hello!")
    message = inbound(body="hi")
    autoreply_process(message_id=message.pk)
    conversation = Conversation.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        conversation_close(conversation=conversation, actor=None)
    (event,) = heard["closed"]
    assert event["conversation"].pk == conversation.pk and event["closed_by"] is None
    assert event["first_response_automated"] is True
    assert event["first_response_seconds"] >= 0


def test_answer_rated_signal(wa_channel, heard, django_capture_on_commit_callbacks):
    agent = UserFactory(username="rater")
    answer = AutomatedAnswer.objects.create(
        message=MessageFactory(channel=wa_channel), responder="faq", topic="x"
    )
    with django_capture_on_commit_callbacks(execute=True):
        answer_rate(answer=answer, rating=4, user=agent)
        answer_rate(answer=answer, rating="2", user=agent)
    assert [(e["rating"], e["previous"]) for e in heard["rated"]] == [(4, None), (2, 4)]
    assert heard["rated"][0]["rated_by"] == agent


def test_upload_check():
    assert upload_check(name="a.png", size=10, head=b"\x89PNG\r\n\x1a\nxx") == (
        "image/png",
        "image",
    )
    assert upload_check(name="r.pdf", size=10, head=b"%PDF-1.7") == ("application/pdf", "document")
    with pytest.raises(UploadRefused):
        upload_check(name="a.svg", size=10, head=b"<svg")
    with pytest.raises(UploadRefused):
        upload_check(name="a.jpg", size=6 * 1024 * 1024, head=b"\xff\xd8\xff")


def _at(day, hour, minute=0):
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=dt.UTC)


def test_inbox_metrics_for_a_day(wa_channel, settings):
    settings.ANALYTICS_TIME_ZONE = "UTC"
    day = dt.date(2026, 3, 2)
    a, b, c = (ConversationFactory(channel=wa_channel) for _ in range(3))
    Conversation.objects.filter(pk=c.pk).update(opened_at=_at(day, 23, 59))  # event missing
    events = [
        (a, "opened", _at(day, 9), {}),
        (b, "opened", _at(day, 10), {}),
        (a, "first_response", _at(day, 9, 1), {"seconds": 60, "automated": True}),
        (b, "first_response", _at(day, 10, 5), {"seconds": 300}),
        (c, "first_response", _at(day, 12), {"seconds": 900}),
        (a, "closed", _at(day, 11), {}),
        (a, "opened", _at(day, 15), {}),  # reopened the same day
        (b, "opened", _at(day - dt.timedelta(days=1), 10), {}),  # another day
        (b, "closed", _at(day + dt.timedelta(days=1), 1), {}),  # another day
    ]
    for conversation, kind, at, extra in events:
        ConversationEvent.objects.create(conversation=conversation, kind=kind, at=at, **extra)
    for topic, rating, at in [
        ("delivery", 5, _at(day, 9)),
        ("delivery", 3, _at(day, 13)),
        ("returns", None, _at(day, 14)),
        ("payment", 1, _at(day - dt.timedelta(days=1), 9)),
    ]:
        AutomatedAnswer.objects.create(
            message=MessageFactory(channel=wa_channel),
            responder="faq",
            topic=topic,
            rating=rating,
            created_at=at,
        )
    metrics = inbox_metrics(day=day)
    assert metrics["first_response"] == {
        "median_seconds": 300.0,
        "human_median_seconds": 600.0,
        "automated_median_seconds": 60.0,
        "human_count": 2,
        "automated_count": 1,
    }
    assert metrics["conversations_opened"] == 4  # a twice, b, and c (from the conversation)
    assert metrics["conversations_closed"] == 1
    assert metrics["answered_automatically_share"] == pytest.approx(0.333)
    assert (metrics["automated_answers"], metrics["rated_answers"]) == (3, 2)
    assert metrics["average_rating"] == 4.0
    assert metrics["topics"] == [
        {"topic": "delivery", "count": 2},
        {"topic": "returns", "count": 1},
    ]
    assert inbox_metrics(day=day) == metrics  # recomputable


def test_inbox_metrics_end_to_end_today(wa_channel, django_capture_on_commit_callbacks):
    FaqEntryFactory(keywords="refund", answer="7 days.", topic="returns")
    with django_capture_on_commit_callbacks(execute=True):
        automated = inbound(body="refund?", wamid="wamid.a", wa_id="919800000001")
        human = inbound(body="call me", wamid="wamid.b", wa_id="919800000002")
    autoreply_process(message_id=automated.pk)
    autoreply_process(message_id=human.pk)  # nothing answers: left for an agent
    agent = UserFactory(username="agent-2")
    conversation_reply_text(conversation=human.conversation, user=agent, body="Calling now")
    conversation_close(conversation=human.conversation, actor=agent)
    answer = AutomatedAnswer.objects.get()
    answer_rate(answer=answer, rating=5, user=agent)
    metrics = inbox_metrics(day=timezone.localdate())
    assert metrics["conversations_opened"] == 2 and metrics["conversations_closed"] == 1
    assert metrics["first_response"]["automated_count"] == 1
    assert metrics["first_response"]["human_count"] == 1
    assert metrics["answered_automatically_share"] == 0.5
    assert metrics["average_rating"] == 5.0 and metrics["topics"] == [
        {"topic": "returns", "count": 1}
    ]


def test_empty_day():
    metrics = inbox_metrics(day=dt.date(2020, 1, 1))
    assert metrics["first_response"]["median_seconds"] is None
    assert metrics["answered_automatically_share"] is None and metrics["average_rating"] is None
    assert metrics["topics"] == []
