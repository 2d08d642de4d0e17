"""The team pages (list, create, edit, delete), the survey switch per number, the agent's
availability toggle in the inbox, and the reply box's POST-redirect-GET; with every
permission refused where it should be."""

from __future__ import annotations

import pytest

from messaging.inbox.routing import team_save
from messaging.models import AgentAvailability, Channel, Message, Team, TeamChannel
from tests.factories import ChannelFactory, ConversationFactory, window_open

pytestmark = pytest.mark.django_db


@pytest.fixture
def wa_channel(db):
    return ChannelFactory()


def test_admins_create_edit_and_delete_teams(client, make_user, wa_channel):
    admin = make_user("Admin")
    agent = make_user("Agent", username="asha")
    client.force_login(admin)
    assert client.get("/staff/inbox/teams/new/").status_code == 200
    created = client.post(
        "/staff/inbox/teams/new/",
        {"name": "Support", "auto_assign": "on", "members": [agent.pk],
         "channels": [wa_channel.pk]},
    )  # fmt: skip
    assert created.status_code == 302
    team = Team.objects.get()
    assert (team.name, team.auto_assign, list(team.members.all())) == ("Support", True, [agent])
    assert TeamChannel.objects.get().channel == wa_channel
    listing = client.get("/staff/inbox/teams/").content.decode()
    assert "Support" in listing and "asha" in listing and "available" in listing
    edited = client.post(f"/staff/inbox/teams/{team.pk}/edit/", {"name": "Care", "members": []})
    assert edited.status_code == 302
    team.refresh_from_db()
    assert (team.name, team.auto_assign, team.members.count()) == ("Care", False, 0)
    duplicate = client.post("/staff/inbox/teams/new/", {"name": "care"})
    assert duplicate.status_code == 422 and b"already a team" in duplicate.content
    assert client.post(f"/staff/inbox/teams/{team.pk}/delete/").status_code == 302
    assert not Team.objects.exists()


@pytest.mark.parametrize("role", ["Agent", "Campaign manager", "Analyst"])
def test_others_read_teams_but_do_not_change_them(client, make_user, wa_channel, role):
    team = team_save(name="Support", auto_assign=True, member_ids=[], channel_ids=[])
    client.force_login(make_user(role))
    assert client.get("/staff/inbox/teams/").status_code == 200
    assert client.get("/staff/inbox/teams/new/").status_code == 403
    assert client.post("/staff/inbox/teams/new/", {"name": "X"}).status_code == 403
    assert client.post(f"/staff/inbox/teams/{team.pk}/edit/", {"name": "X"}).status_code == 403
    assert client.post(f"/staff/inbox/teams/{team.pk}/delete/").status_code == 403
    assert client.post(f"/staff/inbox/numbers/{wa_channel.pk}/survey/",
                       {"enabled": "1"}).status_code == 403  # fmt: skip
    assert Team.objects.get().name == "Support"
    assert not Channel.objects.get().satisfaction_survey


def test_reviewers_and_anonymous_users_are_kept_out(client, make_user, wa_channel):
    for url in ("/staff/inbox/teams/", "/staff/inbox/teams/new/"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(make_user("Content reviewer"))
    assert client.get("/staff/inbox/teams/").status_code == 403


def test_an_admin_switches_the_survey_per_number(client, make_user, wa_channel):
    client.force_login(make_user("Admin"))
    response = client.post(f"/staff/inbox/numbers/{wa_channel.pk}/survey/", {"enabled": "1"})
    assert response.status_code == 302 and Channel.objects.get().satisfaction_survey
    assert b"Turn off" in client.get("/staff/inbox/teams/").content
    client.post(f"/staff/inbox/numbers/{wa_channel.pk}/survey/", {"enabled": "0"})
    assert not Channel.objects.get().satisfaction_survey


def test_an_agent_toggles_their_availability(client, make_user):
    agent = make_user("Agent")
    client.force_login(agent)
    page = client.get("/staff/inbox/").content.decode()
    assert 'data-testid="availability">Available' in page
    response = client.post(
        "/staff/inbox/availability/", {"available": "0", "next": "/staff/inbox/?q=x"}
    )
    assert response.status_code == 302 and response["Location"] == "/staff/inbox/?q=x"
    assert AgentAvailability.objects.get(user=agent).available is False
    assert 'data-testid="availability">Away' in client.get("/staff/inbox/").content.decode()
    evil = client.post(
        "/staff/inbox/availability/", {"available": "1", "next": "https://evil.example/"}
    )
    assert evil["Location"] == "/staff/inbox/"  # never off-site
    assert AgentAvailability.objects.get(user=agent).available is True


def test_availability_needs_the_inbox(client, make_user):
    response = client.post("/staff/inbox/availability/", {"available": "0"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(make_user("Content reviewer"))
    assert client.post("/staff/inbox/availability/", {"available": "0"}).status_code == 403
    assert not AgentAvailability.objects.exists()


def test_a_refused_reply_redirects_and_a_refresh_sends_nothing(client, make_user, wa_channel):
    conversation = ConversationFactory(channel=wa_channel)
    client.force_login(make_user("Agent"))
    url = f"/staff/inbox/{conversation.pk}/"
    refused = client.post(f"{url}reply/", {"body": "Are you there?"})  # window closed
    assert refused.status_code == 302 and refused["Location"] == f"{url}#reply"
    first = client.get(url).content.decode()
    assert "window_closed" in first and "Are you there?" in first  # the reason and the text
    second = client.get(url).content.decode()  # a refresh: a GET, nothing is sent again
    assert "window_closed" not in second
    assert not Message.objects.exists()


def test_a_sent_reply_forgets_its_draft(client, make_user, wa_channel):
    conversation = ConversationFactory(channel=wa_channel)
    window_open(conversation.contact, wa_channel)
    client.force_login(make_user("Agent"))
    url = f"/staff/inbox/{conversation.pk}/"
    client.post(f"{url}reply/", {"body": ""})  # invalid: kept as a draft
    sent = client.post(f"{url}reply/", {"body": "Here you go"})
    assert sent.status_code == 302 and Message.objects.get().content["body"] == "Here you go"
    page = client.get(url)
    assert page.context["text_form"]["body"].value() in (None, "")


def test_a_form_error_is_shown_once(client, make_user, wa_channel):
    conversation = ConversationFactory(channel=wa_channel)
    window_open(conversation.contact, wa_channel)
    client.force_login(make_user("Agent"))
    url = f"/staff/inbox/{conversation.pk}/"
    assert client.post(f"{url}reply/", {"body": ""}).status_code == 302
    assert "This field is required" in client.get(url).content.decode()
    assert "This field is required" not in client.get(url).content.decode()
