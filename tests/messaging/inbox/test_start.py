"""Starting a conversation with any contact: the inbox search finds contacts who never wrote,
the start page offers templates (their values filled in where known) when the window is
closed and free text when it is open, everything goes through the send path and its policy,
nothing is written on a refusal, and the API does the same with its permissions."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from core.errors import DomainError
from messaging.inbox.routing import team_save
from messaging.inbox.starting import conversation_start
from messaging.models import Conversation, ConversationEvent, Message, Status
from messaging.sending.policy import SendRefused
from tests.factories import (
    ChannelFactory,
    ContactFactory,
    ConversationFactory,
    TemplateFactory,
    window_open,
)

pytestmark = pytest.mark.django_db

GREETING = {
    "components": [{"type": "BODY", "text": "Hi {{1}}, your order {{2}} is ready."}],
    "parameters": {"body": ["1", "2"]},
}


@pytest.fixture
def wa_channel(db):
    return ChannelFactory()


@pytest.fixture
def template(wa_channel):
    return TemplateFactory(channel=wa_channel, name="order_ready", **GREETING)


@pytest.fixture
def agent(make_user):
    return make_user("Agent")


@pytest.fixture
def never_wrote(db):
    return ContactFactory(name="Ravi Kumar", phone="+919800011122", consent="unknown")


# --- The service -------------------------------------------------------------------------------


def test_a_contact_who_never_wrote_gets_a_template_not_free_text(
    wa_channel, template, agent, never_wrote
):
    with pytest.raises(SendRefused) as refused:
        conversation_start(contact=never_wrote, channel=wa_channel, user=agent, text="Hello!")
    assert refused.value.code == "window_closed"
    assert not Conversation.objects.exists() and not Message.objects.exists()  # nothing left

    conversation, message = conversation_start(
        contact=never_wrote, channel=wa_channel, user=agent, template=template,
        values={"body": ["Ravi", "#40321"]},
    )  # fmt: skip
    assert conversation.is_open and conversation.assignee == agent
    assert message.type == "template" and message.status == Status.QUEUED
    assert message.conversation_id == conversation.pk and message.sent_by == agent
    assert [p["text"] for p in message.content["components"][0]["parameters"]] == [
        "Ravi",
        "#40321",
    ]
    opened = ConversationEvent.objects.get(conversation=conversation, kind="opened")
    assert (opened.actor, opened.note, opened.at) == (
        agent,
        "started by staff",
        conversation.opened_at,
    )


def test_free_text_while_the_window_is_open_and_a_closed_one_reopens(wa_channel, agent):
    contact = ContactFactory()
    conversation = ConversationFactory(contact=contact, channel=wa_channel, is_open=False)
    window_open(contact, wa_channel)
    started, message = conversation_start(
        contact=contact, channel=wa_channel, user=agent, text="Following up on your order"
    )
    assert started.pk == conversation.pk and started.is_open
    assert message.content["body"] == "Following up on your order"
    assert ConversationEvent.objects.filter(conversation=conversation, kind="opened").exists()


def test_every_send_rule_applies(wa_channel, template, agent):
    blocked = ContactFactory(blocked=True)
    with pytest.raises(SendRefused) as refused:
        conversation_start(contact=blocked, channel=wa_channel, user=agent, template=template,
                           values={"body": ["a", "b"]})  # fmt: skip
    assert refused.value.code == "contact_blocked"
    with pytest.raises(SendRefused):  # a parameter missing
        conversation_start(contact=ContactFactory(), channel=wa_channel, user=agent,
                           template=template, values={"body": ["a"]})  # fmt: skip
    with pytest.raises(DomainError):
        conversation_start(contact=ContactFactory(), channel=wa_channel, user=agent)
    assert not Conversation.objects.exists() and not Message.objects.exists()


def test_a_started_conversation_joins_the_numbers_team(wa_channel, template, agent, never_wrote):
    team = team_save(name="Support", auto_assign=True, member_ids=[agent.pk],
                     channel_ids=[wa_channel.pk])  # fmt: skip
    conversation, _ = conversation_start(
        contact=never_wrote, channel=wa_channel, user=agent, template=template,
        values={"body": ["Ravi", "#1"]},
    )  # fmt: skip
    assert conversation.team == team


# --- The pages ---------------------------------------------------------------------------------


def test_inbox_search_finds_contacts_without_a_conversation(client, agent, never_wrote, wa_channel):
    talked = ContactFactory(name="Ravi Shah")
    ConversationFactory(contact=talked, channel=wa_channel)
    client.force_login(agent)
    page = client.get("/staff/inbox/?q=ravi")
    assert [c.pk for c in page.context["new_contacts"]] == [never_wrote.pk]
    html = page.content.decode()
    assert f"/staff/inbox/start/?contact={never_wrote.pk}" in html
    by_phone = client.get("/staff/inbox/list/?q=98000 111 22")
    assert [c.pk for c in by_phone.context["new_contacts"]] == [never_wrote.pk]
    assert client.get("/staff/inbox/?q=nobody-like-this").context["new_contacts"] == []


def test_the_start_page_offers_templates_with_the_name_filled_in(
    client, agent, never_wrote, template
):
    client.force_login(agent)
    search = client.get("/staff/inbox/start/?q=Ravi")
    assert [c.pk for c in search.context["results"]] == [never_wrote.pk]
    page = client.get(f"/staff/inbox/start/?contact={never_wrote.pk}")
    assert page.status_code == 200 and page.context["window_open"] is False
    html = page.content.decode()
    assert 'data-testid="start-text-form"' not in html  # window closed: templates only
    (form,) = page.context["template_forms"]
    assert form["body_0"].value() == "Ravi"  # "Hi {{1}}" is the contact's name
    assert form.preview == "Hi Ravi, your order {{2}} is ready."


def test_starting_from_the_page_redirects_to_the_new_thread(client, agent, never_wrote, template):
    client.force_login(agent)
    response = client.post(
        "/staff/inbox/start/",
        {
            "contact": never_wrote.pk, "channel": template.channel_id, "template": template.pk,
            f"t{template.pk}-body_0": "Ravi", f"t{template.pk}-body_1": "#40321",
        },
    )  # fmt: skip
    conversation = Conversation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/staff/inbox/{conversation.pk}/"
    thread = client.get(response["Location"]).content.decode()
    assert "Hi Ravi, your order #40321 is ready." in thread  # rendered, not {{1}}
    assert "Started by" in thread


def test_a_refused_start_keeps_the_draft_and_says_why(client, agent, never_wrote, wa_channel):
    client.force_login(agent)
    response = client.post(
        "/staff/inbox/start/",
        {"contact": never_wrote.pk, "channel": wa_channel.pk, "body": "Hello there"},
    )
    assert response.status_code == 302 and "contact=" in response["Location"]
    page = client.get(response["Location"])
    assert page.context["error"]["code"] == "window_closed"
    assert not Conversation.objects.exists()
    again = client.get(response["Location"])  # a refresh sends nothing and shows no stale error
    assert again.context["error"] is None and not Message.objects.exists()


@pytest.mark.parametrize("role", ["Analyst", "Content reviewer", None])
def test_the_start_page_needs_the_permission_to_reply(client, make_user, never_wrote, role):
    client.force_login(make_user(role))
    assert client.get("/staff/inbox/start/").status_code == 403
    assert client.post("/staff/inbox/start/", {"contact": never_wrote.pk}).status_code == 403


def test_the_start_page_sends_anonymous_users_to_sign_in(client):
    response = client.get("/staff/inbox/start/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- The API -----------------------------------------------------------------------------------


def test_api_starts_with_a_template_by_contact_id_or_phone(
    api_client, agent, never_wrote, template
):
    api_client.force_authenticate(agent)
    response = api_client.post(
        "/api/v1/conversations/",
        {"phone": "+91 98000 11122",
         "template": {"name": "order_ready", "language": "en", "body": ["Ravi", "#7"]}},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["conversation"]["contact"]["id"] == never_wrote.pk
    assert body["conversation"]["assignee"] == agent.username
    assert body["message"]["type"] == "template" and body["message"]["sent_by"] == agent.username


def test_api_refuses_free_text_outside_the_window_and_bad_bodies(
    api_client, agent, never_wrote, wa_channel
):
    api_client.force_authenticate(agent)
    refused = api_client.post(
        "/api/v1/conversations/", {"contact": never_wrote.pk, "text": "Hi"}, format="json"
    )
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "window_closed"
    both = api_client.post(
        "/api/v1/conversations/",
        {"contact": never_wrote.pk, "text": "Hi", "template": {"name": "x", "language": "en"}},
        format="json",
    )
    assert both.status_code == 400
    nobody = api_client.post("/api/v1/conversations/", {"text": "Hi"}, format="json")
    assert nobody.status_code == 400
    unknown = api_client.post(
        "/api/v1/conversations/",
        {"contact": never_wrote.pk, "template": {"name": "nope", "language": "en"}},
        format="json",
    )
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "template_unknown"
    assert not Conversation.objects.exists() and not Message.objects.exists()


def test_api_text_when_the_window_is_open(api_client, agent, wa_channel):
    contact = ContactFactory()
    window_open(contact, wa_channel, at=timezone.now() - dt.timedelta(hours=2))
    api_client.force_authenticate(agent)
    response = api_client.post(
        "/api/v1/conversations/", {"contact": contact.pk, "text": "Hello again"}, format="json"
    )
    assert response.status_code == 201
    assert Message.objects.get().content["body"] == "Hello again"


@pytest.mark.parametrize("role", ["Analyst", "Content reviewer", None])
def test_api_start_needs_the_permission_to_reply(api_client, make_user, never_wrote, role):
    api_client.force_authenticate(make_user(role))
    response = api_client.post(
        "/api/v1/conversations/", {"contact": never_wrote.pk, "text": "Hi"}, format="json"
    )
    assert response.status_code == 403
    assert not Conversation.objects.exists()


def test_api_start_refuses_anonymous_callers(api_client, never_wrote):
    response = api_client.post(
        "/api/v1/conversations/", {"contact": never_wrote.pk, "text": "Hi"}, format="json"
    )
    assert response.status_code == 401


def test_openapi_documents_the_start_notes_and_canned_replies(api_client, agent):
    api_client.force_authenticate(agent)
    schema = api_client.get("/api/schema/?format=json").json()
    assert "post" in schema["paths"]["/api/v1/conversations/"]
    assert set(schema["paths"]["/api/v1/conversations/{id}/notes/"]) >= {"get", "post"}
    assert set(schema["paths"]["/api/v1/canned-replies/{id}/"]) >= {"get", "patch", "delete"}
