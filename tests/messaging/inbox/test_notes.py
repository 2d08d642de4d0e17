"""Internal notes: staff only, never sent, shown inline and distinctly in the thread, listed
and added through the API, cleared by erasure; every permission refused where it should be."""

from __future__ import annotations

import pytest

from crm.services import contact_erase
from messaging.models import ConversationEvent, Message
from tests.factories import ChannelFactory, ConversationFactory, window_open

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(db):
    channel = ChannelFactory()
    conversation = ConversationFactory(channel=channel)
    window_open(conversation.contact, channel)
    return conversation


def test_an_agent_adds_a_note_that_is_shown_but_never_sent(client, make_user, conversation):
    agent = make_user("Agent")
    client.force_login(agent)
    response = client.post(
        f"/staff/inbox/{conversation.pk}/notes/", {"text": "VIP: refund approved by <b>Ravi</b>"}
    )
    assert response.status_code == 302 and response["Location"].endswith("#reply")
    note = ConversationEvent.objects.get(kind="note")
    assert (note.actor, note.note) == (agent, "VIP: refund approved by <b>Ravi</b>")
    assert not Message.objects.exists()  # nothing goes to the contact
    page = client.get(f"/staff/inbox/{conversation.pk}/").content.decode()
    assert 'data-testid="internal-note"' in page and "Internal note" in page
    assert "VIP: refund approved by &lt;b&gt;Ravi&lt;/b&gt;" in page  # escaped
    assert "not sent to the contact" in page


def test_an_empty_note_is_refused_and_a_refresh_sends_nothing(client, make_user, conversation):
    client.force_login(make_user("Agent"))
    response = client.post(f"/staff/inbox/{conversation.pk}/notes/", {"text": "   "})
    assert response.status_code == 302  # POST-redirect-GET, even when refused
    page = client.get(f"/staff/inbox/{conversation.pk}/").content.decode()
    assert "This field is required" in page
    assert not ConversationEvent.objects.filter(kind="note").exists()


@pytest.mark.parametrize("role", ["Analyst", "Campaign manager", "Content reviewer", None])
def test_only_those_who_change_conversations_add_notes(client, make_user, conversation, role):
    client.force_login(make_user(role))
    response = client.post(f"/staff/inbox/{conversation.pk}/notes/", {"text": "x"})
    assert response.status_code == 403
    assert not ConversationEvent.objects.filter(kind="note").exists()


def test_anonymous_users_are_sent_to_sign_in(client, conversation):
    response = client.post(f"/staff/inbox/{conversation.pk}/notes/", {"text": "x"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_notes_api_lists_and_adds(api_client, make_user, conversation):
    agent = make_user("Agent")
    api_client.force_authenticate(agent)
    url = f"/api/v1/conversations/{conversation.pk}/notes/"
    created = api_client.post(url, {"text": "Called her back"}, format="json")
    assert created.status_code == 201
    assert created.json()["text"] == "Called her back" and created.json()["author"] == "agent"
    api_client.post(url, {"text": "Second"}, format="json")
    listed = api_client.get(url).json()
    assert [n["text"] for n in listed] == ["Second", "Called her back"]
    invalid = api_client.post(url, {"text": ""}, format="json")
    assert invalid.status_code == 400
    assert api_client.post(url, {"text": "x" * 5000}, format="json").status_code == 400
    assert not Message.objects.exists()


def test_notes_api_permissions(api_client, make_user, conversation):
    url = f"/api/v1/conversations/{conversation.pk}/notes/"
    assert api_client.get(url).status_code == 401
    assert api_client.post(url, {"text": "x"}, format="json").status_code == 401
    api_client.force_authenticate(make_user("Analyst"))
    assert api_client.get(url).status_code == 200  # may read
    assert api_client.post(url, {"text": "x"}, format="json").status_code == 403
    api_client.force_authenticate(make_user("Content reviewer"))
    assert api_client.get(url).status_code == 403
    assert api_client.get("/api/v1/conversations/999999/notes/").status_code == 403
    api_client.force_authenticate(make_user("Agent"))
    assert api_client.get("/api/v1/conversations/999999/notes/").status_code == 404


def test_erasure_clears_the_notes(make_user, conversation):
    from messaging.inbox.notes import conversation_note_add

    conversation_note_add(conversation=conversation, author=make_user("Agent"), text="Lives at X")
    admin = make_user("Admin")
    contact_erase(contact=conversation.contact, actor=admin)
    assert ConversationEvent.objects.get(kind="note").note == ""
