"""Inbox API: conversations with filters, their messages, replies (window enforced), assign,
close, reopen, read, rating automated answers, and every permission."""

import datetime as dt
from unittest import mock

import pytest
from django.utils import timezone

from messaging.models import AutomatedAnswer, Conversation, Message, Status
from tests.factories import (
    ChannelFactory,
    ContactFactory,
    ConversationFactory,
    MessageFactory,
    TemplateFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def wa_channel(db):
    return ChannelFactory()


@pytest.fixture
def agent(make_user):
    return make_user("Agent")


@pytest.fixture
def api(api_client, agent):
    api_client.force_authenticate(agent)
    return api_client


def open_conversation(channel, *, hours_ago=1, **contact_kwargs):
    contact = ContactFactory(
        last_inbound_at=timezone.now() - dt.timedelta(hours=hours_ago), **contact_kwargs
    )
    return ConversationFactory(
        contact=contact, channel=channel, last_inbound_at=contact.last_inbound_at
    )


def test_list_with_filters_and_order(api, agent, wa_channel, django_assert_max_num_queries):
    mine = open_conversation(wa_channel, name="Mine", pinned=True)
    Conversation.objects.filter(pk=mine.pk).update(assignee=agent)
    closed = ConversationFactory(
        channel=wa_channel, is_open=False, contact=ContactFactory(name="Closed")
    )
    stale = open_conversation(wa_channel, hours_ago=30, name="Stale")
    MessageFactory(channel=wa_channel, contact=stale.contact, content={"body": "lost parcel"})
    with django_assert_max_num_queries(6):
        response = api.get("/api/v1/conversations/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert results[0]["contact"]["name"] == "Mine" and results[0]["assignee"] == agent.username
    assert results[0]["window_open"] is True and results[0]["window_expires_at"]

    def names(query):
        return sorted(
            r["contact"]["name"]
            for r in api.get(f"/api/v1/conversations/?{query}").json()["results"]
        )

    assert names("assigned=mine") == ["Mine"]
    assert names("assigned=unassigned") == ["Closed", "Stale"]
    assert names("state=closed") == ["Closed"]
    assert names("window=open") == ["Mine"]
    assert names("search=parcel") == ["Stale"]
    assert closed.pk


def test_detail_and_messages(api, wa_channel):
    conversation = open_conversation(wa_channel)
    reply = MessageFactory(
        channel=wa_channel, contact=conversation.contact, is_automated=True, status=Status.READ
    )
    AutomatedAnswer.objects.create(message=reply, responder="faq", topic="delivery", rating=5)
    MessageFactory(
        channel=wa_channel,
        contact=conversation.contact,
        direction="in",
        type="reaction",
        content={"emoji": "👍"},
    )
    assert api.get(f"/api/v1/conversations/{conversation.pk}/").json()["id"] == conversation.pk
    data = api.get(f"/api/v1/conversations/{conversation.pk}/messages/").json()
    (message,) = data["results"]
    assert message["status"] == "read" and message["is_automated"]
    assert message["automated_answer"]["topic"] == "delivery"
    assert message["automated_answer"]["rating"] == 5
    assert api.get("/api/v1/conversations/999999/").status_code == 404


def test_reply_text_inside_the_window(api, agent, wa_channel):
    conversation = open_conversation(wa_channel)
    response = api.post(
        f"/api/v1/conversations/{conversation.pk}/reply/",
        {"type": "text", "text": {"body": "On its way"}},
        format="json",
    )
    assert response.status_code == 202, response.json()
    message = Message.objects.get()
    assert message.sent_by == agent and message.content == {"body": "On its way"}
    assert response.json()["sent_by"] == agent.username


def test_reply_outside_the_window_needs_a_template(api, wa_channel):
    conversation = open_conversation(wa_channel, hours_ago=25)
    url = f"/api/v1/conversations/{conversation.pk}/reply/"
    response = api.post(url, {"type": "text", "text": {"body": "Hi"}}, format="json")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "window_closed"
    template = TemplateFactory(channel=wa_channel, name="order_update")
    body = {
        "type": "template",
        "template": {
            "name": "order_update",
            "language": {"code": "en"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Asha"},
                        {"type": "text", "text": "#1"},
                    ],
                }
            ],
        },
    }
    response = api.post(url, body, format="json")
    assert response.status_code == 202, response.json()
    assert Message.objects.get().template == template


def test_reply_is_idempotent_with_a_key(api, wa_channel):
    conversation = open_conversation(wa_channel)
    url = f"/api/v1/conversations/{conversation.pk}/reply/"
    body = {"type": "text", "text": {"body": "Once"}}
    first = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 202
    assert second["Idempotent-Replayed"] == "true" and Message.objects.count() == 1


def test_reply_validation(api, wa_channel):
    conversation = open_conversation(wa_channel)
    url = f"/api/v1/conversations/{conversation.pk}/reply/"
    assert api.post(url, {"type": "text"}, format="json").status_code == 400
    assert api.post(url, {"type": "nope", "nope": {}}, format="json").status_code == 400


def test_assign_close_reopen_read(api, agent, make_user, wa_channel):
    conversation = open_conversation(wa_channel, unread_count=4)
    base = f"/api/v1/conversations/{conversation.pk}"
    assert (
        api.post(f"{base}/assign/", {"assignee": "me"}, format="json").json()["assignee"]
        == agent.username
    )
    other = make_user("Agent", username="second")
    assert (
        api.post(f"{base}/assign/", {"assignee": other.pk}, format="json").json()["assignee"]
        == "second"
    )
    assert api.post(f"{base}/assign/", {"assignee": None}, format="json").json()["assignee"] is None
    outsider = make_user("Content reviewer", username="outsider")
    response = api.post(f"{base}/assign/", {"assignee": outsider.pk}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_assignee"
    data = api.post(f"{base}/close/").json()
    assert data["is_open"] is False and data["closed_by"] == agent.username
    again = api.post(f"{base}/close/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition"
    assert api.post(f"{base}/reopen/").json()["is_open"] is True
    assert api.post(f"{base}/read/").json()["contact"]["unread_count"] == 0


def test_read_with_typing_shows_the_typing_indicator(
    api, api_client, wa_channel, django_capture_on_commit_callbacks
):
    from django.contrib.auth.models import Permission

    from messaging.inbox.tasks import inbox_mark_read
    from tests.factories import UserFactory
    from tests.messaging.inbox.support import inbound

    message = inbound(body="Hello?")
    url = f"/api/v1/conversations/{message.conversation_id}/read/"
    with (
        mock.patch.object(inbox_mark_read, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert api.post(url, {"typing": True}, format="json").status_code == 200
        assert api.post(url).status_code == 200  # no body: the read mark alone
    assert delay.call_args_list == [
        mock.call(wa_channel.pk, message.wamid, typing=True),
        mock.call(wa_channel.pk, message.wamid),
    ]
    assert api.post(url, {"typing": "sometimes"}, format="json").status_code == 400
    # Typing dots promise an answer: only someone who may reply can show them.
    supervisor = UserFactory(username="no-reply")
    supervisor.user_permissions.set(
        Permission.objects.filter(
            codename__in=["access_staff", "view_conversation", "change_conversation"]
        )
    )
    api_client.force_authenticate(supervisor)
    with (
        mock.patch.object(inbox_mark_read, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = api_client.post(url, {"typing": True}, format="json")
        assert response.status_code == 403
        assert api_client.post(url).status_code == 200
    delay.assert_called_once_with(wa_channel.pk, message.wamid)


def test_rating_automated_answers(api, agent, wa_channel):
    conversation = open_conversation(wa_channel)
    reply = MessageFactory(channel=wa_channel, contact=conversation.contact, is_automated=True)
    AutomatedAnswer.objects.create(message=reply, responder="faq", topic="returns")
    url = f"/api/v1/messages/{reply.uuid}/rating/"
    response = api.post(url, {"rating": 3}, format="json")
    assert response.status_code == 200 and response.json()["rating"] == 3
    assert response.json()["rated_by"] == agent.username
    assert api.post(url, {"rating": 6}, format="json").status_code == 400
    human = MessageFactory(channel=wa_channel, contact=conversation.contact)
    response = api.post(f"/api/v1/messages/{human.uuid}/rating/", {"rating": 3}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "not_automated"


@pytest.mark.parametrize("role", [None, "Content reviewer"])
def test_no_inbox_permission_no_access(api_client, make_user, wa_channel, role):
    conversation = open_conversation(wa_channel)
    reply = MessageFactory(channel=wa_channel, contact=conversation.contact, is_automated=True)
    AutomatedAnswer.objects.create(message=reply, responder="faq")
    api_client.force_authenticate(make_user(role))
    base = f"/api/v1/conversations/{conversation.pk}"
    for url in ("/api/v1/conversations/", f"{base}/", f"{base}/messages/"):
        assert api_client.get(url).status_code == 403, url
    for action in ("reply", "assign", "close", "reopen", "read"):
        assert api_client.post(f"{base}/{action}/", {}, format="json").status_code == 403, action
    assert (
        api_client.post(
            f"/api/v1/messages/{reply.uuid}/rating/", {"rating": 5}, format="json"
        ).status_code
        == 403
    )


def test_anonymous_gets_401(api_client, wa_channel):
    conversation = open_conversation(wa_channel)
    assert api_client.get("/api/v1/conversations/").status_code == 401
    assert api_client.post(f"/api/v1/conversations/{conversation.pk}/reply/", {}).status_code == 401


def test_analyst_reads_but_cannot_write(api_client, make_user, wa_channel):
    conversation = open_conversation(wa_channel)
    reply = MessageFactory(channel=wa_channel, contact=conversation.contact, is_automated=True)
    AutomatedAnswer.objects.create(message=reply, responder="faq")
    api_client.force_authenticate(make_user("Analyst"))
    base = f"/api/v1/conversations/{conversation.pk}"
    assert api_client.get("/api/v1/conversations/").status_code == 200
    assert api_client.get(f"{base}/messages/").status_code == 200
    response = api_client.post(
        f"{base}/reply/", {"type": "text", "text": {"body": "x"}}, format="json"
    )
    assert response.status_code == 403
    for action in ("assign", "close", "read"):
        assert api_client.post(f"{base}/{action}/", {}, format="json").status_code == 403
    assert (
        api_client.post(
            f"/api/v1/messages/{reply.uuid}/rating/", {"rating": 5}, format="json"
        ).status_code
        == 403
    )


def test_the_schema_documents_the_inbox(api):
    response = api.get("/api/schema/")
    assert response.status_code == 200
    text = response.content.decode()
    for path in (
        "/api/v1/conversations/",
        "/api/v1/conversations/{id}/reply/",
        "/api/v1/messages/{id}/rating/",
    ):
        assert path in text, path
