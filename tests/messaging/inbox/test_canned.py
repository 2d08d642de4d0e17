"""Canned replies: who sees and writes which (global ones, a team's), the staff pages, the
reply box's list (with {{name}} filled in), and the API with its permissions."""

from __future__ import annotations

import json

import pytest

from messaging.inbox.canned import (
    NotYourTeam,
    canned_replies_for_reply_box,
    canned_replies_visible,
    canned_reply_save,
)
from messaging.inbox.routing import team_save
from messaging.models import CannedReply
from tests.factories import ChannelFactory, ContactFactory, ConversationFactory, window_open

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(make_user):
    agent = make_user("Agent", username="asha")
    stranger = make_user("Agent", username="bela")
    manager = make_user("Campaign manager", username="meera")
    support = team_save(name="Support", auto_assign=False, member_ids=[agent.pk], channel_ids=[])
    sales = team_save(name="Sales", auto_assign=False, member_ids=[stranger.pk], channel_ids=[])
    hello = canned_reply_save(
        user=manager, team=None, shortcut="hello", title="Greeting", body="Hi {{name}}!"
    )
    refund = canned_reply_save(
        user=agent, team=support, shortcut="refund", title="Refunds", body="Refunds take 5 days."
    )
    pitch = canned_reply_save(
        user=stranger, team=sales, shortcut="pitch", title="Pitch", body="Our best offer."
    )
    return {"agent": agent, "stranger": stranger, "manager": manager, "support": support,
            "sales": sales, "hello": hello, "refund": refund, "pitch": pitch}  # fmt: skip


def test_scope_what_each_sees_and_writes(setup):
    agent, manager = setup["agent"], setup["manager"]
    assert {r.shortcut for r in canned_replies_visible(agent)} == {"hello", "refund"}
    assert {r.shortcut for r in canned_replies_visible(manager)} == {"hello", "refund", "pitch"}
    assert {r.shortcut for r in canned_replies_for_reply_box(agent)} == {"hello", "refund"}
    with pytest.raises(NotYourTeam):  # the global ones are read-only to agents
        canned_reply_save(user=agent, reply=setup["hello"], team=None, shortcut="hello",
                          title="Mine now", body="x")  # fmt: skip
    with pytest.raises(NotYourTeam):  # other teams' too
        canned_reply_save(user=agent, team=setup["sales"], shortcut="x", title="x", body="x")
    with pytest.raises(NotYourTeam):  # and they cannot make one global
        canned_reply_save(user=agent, reply=setup["refund"], team=None, shortcut="refund",
                          title="Refunds", body="x")  # fmt: skip
    assert CannedReply.objects.get(shortcut="hello").title == "Greeting"


def test_shortcuts_are_unique_per_team_and_among_global_ones(setup):
    manager = setup["manager"]
    with pytest.raises(Exception, match="already used in the global replies"):
        canned_reply_save(user=manager, team=None, shortcut="/Hello", title="t", body="b")
    with pytest.raises(Exception, match="already used in team Support"):
        canned_reply_save(user=manager, team=setup["support"], shortcut="refund", title="t",
                          body="b")  # fmt: skip
    # The same shortcut in another team is fine.
    canned_reply_save(user=manager, team=setup["sales"], shortcut="refund", title="t", body="b")


def test_the_reply_box_offers_them_with_the_contacts_name(client, setup):
    channel = ChannelFactory()
    contact = ContactFactory(name="Kavya Menon")
    conversation = ConversationFactory(contact=contact, channel=channel)
    window_open(contact, channel)
    client.force_login(setup["agent"])
    page = client.get(f"/staff/inbox/{conversation.pk}/")
    offered = page.context["canned_replies"]
    assert {r["shortcut"]: r["body"] for r in offered} == {
        "hello": "Hi Kavya Menon!",
        "refund": "Refunds take 5 days.",
    }
    html = page.content.decode()
    assert 'id="canned-replies"' in html and 'aria-controls="canned-menu"' in html
    # Embedded as JSON data (never run, never HTML): a hostile body stays text.
    CannedReply.objects.filter(shortcut="refund").update(body="</script><script>alert(1)")
    html = client.get(f"/staff/inbox/{conversation.pk}/").content.decode()
    data = html.split('id="canned-replies" type="application/json">')[1].split("</script>")[0]
    assert "<script>" not in data and json.loads(data)[1]["body"] == "</script><script>alert(1)"


def test_pages_list_create_edit_delete_within_scope(client, setup):
    client.force_login(setup["agent"])
    listing = client.get("/staff/inbox/canned-replies/")
    assert listing.status_code == 200
    rows = {r.shortcut: writable for r, writable in listing.context["rows"]}
    assert rows == {"hello": False, "refund": True}
    form = client.get("/staff/inbox/canned-replies/new/")
    assert [t.name for t in form.context["form"].fields["team"].queryset] == ["Support"]
    created = client.post(
        "/staff/inbox/canned-replies/new/",
        {
            "team": setup["support"].pk,
            "shortcut": "Thanks",
            "title": "Thanks",
            "body": "Thank you!",
        },
    )
    assert created.status_code == 302 and CannedReply.objects.filter(shortcut="thanks").exists()
    bad = client.post(
        "/staff/inbox/canned-replies/new/",
        {"team": setup["support"].pk, "shortcut": "no spaces", "title": "t", "body": "b"},
    )
    assert bad.status_code == 422 and b"without spaces" in bad.content
    global_try = client.post(
        "/staff/inbox/canned-replies/new/", {"shortcut": "g", "title": "t", "body": "b"}
    )
    assert global_try.status_code == 422  # a team is required for agents
    hello, pitch = setup["hello"], setup["pitch"]
    assert client.get(f"/staff/inbox/canned-replies/{hello.pk}/edit/").status_code == 403
    assert client.post(f"/staff/inbox/canned-replies/{hello.pk}/delete/").status_code == 403
    assert client.get(f"/staff/inbox/canned-replies/{pitch.pk}/edit/").status_code == 404
    refund = setup["refund"]
    edited = client.post(
        f"/staff/inbox/canned-replies/{refund.pk}/edit/",
        {"team": setup["support"].pk, "shortcut": "refund", "title": "Refunds", "body": "7 days."},
    )
    assert edited.status_code == 302 and CannedReply.objects.get(pk=refund.pk).body == "7 days."
    assert client.post(f"/staff/inbox/canned-replies/{refund.pk}/delete/").status_code == 302
    assert not CannedReply.objects.filter(pk=refund.pk).exists()


@pytest.mark.parametrize("role", ["Content reviewer", None])
def test_pages_refuse_users_without_the_permission(client, make_user, setup, role):
    client.force_login(make_user(role))
    assert client.get("/staff/inbox/canned-replies/").status_code == 403
    assert client.get("/staff/inbox/canned-replies/new/").status_code == 403
    assert (
        client.post(f"/staff/inbox/canned-replies/{setup['hello'].pk}/delete/").status_code == 403
    )


def test_analysts_read_but_do_not_write(client, make_user, setup):
    client.force_login(make_user("Analyst"))
    assert client.get("/staff/inbox/canned-replies/").status_code == 200
    assert client.get("/staff/inbox/canned-replies/new/").status_code == 403
    hello = setup["hello"]
    assert client.post(f"/staff/inbox/canned-replies/{hello.pk}/edit/").status_code == 403


def test_pages_send_anonymous_users_to_sign_in(client, setup):
    for url in ("/staff/inbox/canned-replies/", "/staff/inbox/canned-replies/new/"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_api_list_create_update_delete(api_client, setup):
    api_client.force_authenticate(setup["agent"])
    listed = api_client.get("/api/v1/canned-replies/").json()["results"]
    assert {r["shortcut"]: r["team"] for r in listed} == {"hello": None, "refund": "Support"}
    assert [r["shortcut"] for r in api_client.get("/api/v1/canned-replies/?team=global").json()[
        "results"]] == ["hello"]  # fmt: skip
    created = api_client.post(
        "/api/v1/canned-replies/",
        {"shortcut": "eta", "title": "ETA", "body": "Tomorrow.", "team": "Support"},
        format="json",
    )
    assert created.status_code == 201 and created.json()["created_by"] == "asha"
    pk = created.json()["id"]
    patched = api_client.patch(f"/api/v1/canned-replies/{pk}/", {"body": "Today."}, format="json")
    assert patched.status_code == 200 and patched.json()["body"] == "Today."
    refused = api_client.post(
        "/api/v1/canned-replies/", {"shortcut": "g", "title": "G", "body": "b"}, format="json"
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    hello = setup["hello"].pk
    assert api_client.patch(f"/api/v1/canned-replies/{hello}/", {"body": "x"}, format="json"
                            ).status_code == 403  # fmt: skip
    assert api_client.delete(f"/api/v1/canned-replies/{hello}/").status_code == 403
    assert api_client.get(f"/api/v1/canned-replies/{setup['pitch'].pk}/").status_code == 404
    duplicate = api_client.post(
        "/api/v1/canned-replies/",
        {"shortcut": "eta", "title": "x", "body": "x", "team": "Support"},
        format="json",
    )
    assert (
        duplicate.status_code == 400 and duplicate.json()["error"]["code"] == "duplicate_shortcut"
    )
    assert api_client.delete(f"/api/v1/canned-replies/{pk}/").status_code == 204
    api_client.force_authenticate(setup["manager"])
    made_global = api_client.post(
        "/api/v1/canned-replies/", {"shortcut": "g", "title": "G", "body": "b"}, format="json"
    )
    assert made_global.status_code == 201 and made_global.json()["team"] is None


def test_api_permissions(api_client, make_user, setup):
    assert api_client.get("/api/v1/canned-replies/").status_code == 401
    api_client.force_authenticate(make_user("Content reviewer"))
    assert api_client.get("/api/v1/canned-replies/").status_code == 403
    api_client.force_authenticate(make_user("Analyst"))
    assert api_client.get("/api/v1/canned-replies/").status_code == 200
    assert (
        api_client.post(
            "/api/v1/canned-replies/", {"shortcut": "a", "title": "a", "body": "a"}, format="json"
        ).status_code
        == 403
    )
    assert api_client.delete(f"/api/v1/canned-replies/{setup['hello'].pk}/").status_code == 403
    assert CannedReply.objects.count() == 3
