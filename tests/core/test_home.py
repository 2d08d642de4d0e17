"""The staff home per role: an agent's waiting conversations, a campaign manager's campaigns,
numbers and approvals, a reviewer's queue, an analyst's figures, an admin's health and alerts;
several roles see several sections, the ones waiting on them first; each bounded in queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.utils import timezone

from analytics.ops import health as ops_health
from core import home as core_home
from messaging.models import Campaign, Message, MessageTemplate
from tests.factories import (
    ChannelFactory,
    ContactFactory,
    ContentItemFactory,
    ConversationFactory,
    MessageFactory,
    TemplateFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

HOME = "/staff/"


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch):
    """Today's figures and the health probes are cached; the probes never leave the host."""
    cache.clear()
    monkeypatch.setattr(ops_health, "provider_probe", lambda url, **kw: {"ok": True, "url": url})
    yield
    cache.clear()


def keys(response) -> list[str]:
    return [s["key"] for s in response.context["sections"]]


def message(conversation, direction: str, minutes_ago: int, **extra) -> Message:
    at = timezone.now() - dt.timedelta(minutes=minutes_ago)
    status = 1 if direction == "in" else 40
    return MessageFactory(
        channel=conversation.channel, contact=conversation.contact, conversation=conversation,
        direction=direction, status=extra.pop("status", status), created_at=at, **extra,
    )  # fmt: skip


# --- Agent ---------------------------------------------------------------------------------------


def test_an_agent_sees_their_conversations_by_longest_wait_and_ones_to_pick_up(client, make_user):
    agent = make_user("Agent")
    channel = ChannelFactory()

    def mine(name):
        return ConversationFactory(
            channel=channel, assignee=agent, contact=ContactFactory(name=name)
        )

    answered = mine("B")
    message(answered, "in", 200)
    message(answered, "out", 150)
    recent = mine("R")
    message(recent, "in", 30)
    old = mine("O")
    message(old, "out", 400)
    message(old, "in", 300)  # first unanswered: the wait counts from here
    message(old, "in", 10)
    message(old, "out", 5, status=70)  # a failed reply answers nobody
    campaign = Campaign.objects.create(name="C", channel=channel)
    message(recent, "out", 1, campaign=campaign)  # nor does a campaign send
    free = ConversationFactory(channel=channel, contact=ContactFactory(name="F"))
    message(free, "in", 60)
    someone_elses = ConversationFactory(channel=channel, assignee=UserFactory(), is_open=True)
    message(someone_elses, "in", 500)
    ConversationFactory(channel=channel, assignee=agent, is_open=False)

    client.force_login(agent)
    response = client.get(HOME)
    assert response.status_code == 200
    (section,) = response.context["sections"]
    data = section["data"]
    assert [c.contact.name for c in data["mine"]] == ["O", "R", "B"]
    waits = [c.waiting_since for c in data["mine"]]
    assert (timezone.now() - waits[0]).total_seconds() == pytest.approx(300 * 60, abs=60)
    assert waits[2] is None
    assert [c.contact.name for c in data["pick_up"]] == ["F"]
    assert (data["mine_count"], data["unassigned_count"], section["attention"]) == (3, 1, 3)
    html = response.content.decode()
    assert "waiting 5\xa0hours" in html
    assert "Take it" in html
    assert "Health and alerts" not in html


def test_the_agent_section_is_bounded_in_queries(client, make_user, django_assert_max_num_queries):
    agent = make_user("Agent")
    channel = ChannelFactory()
    for n in range(20):
        conversation = ConversationFactory(channel=channel, assignee=agent if n % 2 else None)
        message(conversation, "in", 100 - n)
    client.force_login(agent)
    with django_assert_max_num_queries(12):
        assert client.get(HOME).status_code == 200


# --- Campaign manager ---------------------------------------------------------------------------


def test_a_campaign_manager_sees_campaigns_numbers_and_approvals(client, make_user):
    channel = ChannelFactory(messaging_tier="TIER_1K", quality_rating="YELLOW")
    template = TemplateFactory(channel=channel)
    running = Campaign.objects.create(name="Diwali", channel=channel, template=template,
                                      state="running", launched_at=timezone.now())  # fmt: skip
    for status in (40, 40, 50, 10):  # 3 of 4 done
        MessageFactory(channel=channel, campaign=running, type="template", status=status,
                       contact=ContactFactory())  # fmt: skip
    later = timezone.now() + dt.timedelta(hours=5)
    Campaign.objects.create(name="New year", channel=channel, template=template,
                            state="scheduled", scheduled_at=later)  # fmt: skip
    Campaign.objects.create(name="Draft", channel=channel, template=template)
    ContentItemFactory(state="pending_review", submitted_at=timezone.now() - dt.timedelta(hours=2))
    TemplateFactory(channel=channel, name="awaiting_meta", status="PENDING")

    client.force_login(make_user("Campaign manager"))
    response = client.get(HOME)
    (section,) = response.context["sections"]
    data = section["data"]
    assert [(c.name, c.progress_percent, c.progress_total) for c in data["in_flight"]] == [
        ("Diwali", 75.0, 4)
    ]
    assert [c.name for c in data["scheduled"]] == ["New year"]
    (number,) = data["numbers"]
    assert (number["health"].limit, number["severity"], number["quality_label"]) == (
        1000,
        "warn",
        "Medium (yellow)",
    )
    assert data["content_review"]["count"] == 1
    assert data["templates_waiting_count"] == 1
    html = response.content.decode()
    assert "75.0% of 4" in html and "awaiting_meta" in html and "Medium (yellow)" in html


def test_the_campaign_section_is_bounded(client, make_user, django_assert_max_num_queries):
    for n in range(5):
        channel = ChannelFactory(phone_number_id=f"40000000000000{n}", name=f"N{n}")
        template = TemplateFactory(channel=channel)
        for state in ("running", "paused", "scheduled"):
            campaign = Campaign.objects.create(name=f"{state}{n}", channel=channel,
                                               template=template, state=state)  # fmt: skip
            MessageFactory(channel=channel, campaign=campaign, contact=ContactFactory())
    client.force_login(make_user("Campaign manager"))
    with django_assert_max_num_queries(16):
        assert client.get(HOME).status_code == 200


# --- Reviewer, analyst, admin ---------------------------------------------------------------------


def test_a_reviewer_sees_the_queue_with_its_oldest_wait(client, make_user):
    now = timezone.now()
    ContentItemFactory(title="Newer", state="pending_review", submitted_at=now)
    ContentItemFactory(title="Oldest", state="pending_review",
                       submitted_at=now - dt.timedelta(days=1))  # fmt: skip
    ContentItemFactory(title="Draft")
    client.force_login(make_user("Content reviewer"))
    response = client.get(HOME)
    (section,) = response.context["sections"]
    assert section["key"] == "review"
    assert [i.title for i in section["data"]["items"]] == ["Oldest", "Newer"]
    assert section["data"]["count"] == section["attention"] == 2
    assert "2 items waiting for review" in response.content.decode().replace("</strong>", "")


def test_an_analyst_sees_today_and_the_last_seven_days(client, make_user):
    channel = ChannelFactory()
    MessageFactory(channel=channel, status=40, accepted_at=timezone.now(),
                   sent_at=timezone.now())  # fmt: skip
    client.force_login(make_user("Analyst"))
    response = client.get(HOME)
    (section,) = response.context["sections"]
    assert section["key"] == "kpis"
    assert section["data"]["date_range"].key == "7"
    assert "today" in section["data"] and "sent" in section["data"]["week"]
    assert 'data-testid="home-today-sent"' in response.content.decode()


def test_an_admin_sees_health_and_open_alerts(client, make_user, monkeypatch):
    ChannelFactory(paused_reason="auth failed")
    client.force_login(make_user("Admin"))
    response = client.get(HOME)
    (section,) = response.context["sections"]
    assert section["key"] == "health"
    labels = {a["label"]: a["detail"] for a in section["data"]["alerts"]}
    assert any("paused: auth failed" in detail for detail in labels.values())
    assert section["attention"] == len(section["data"]["alerts"]) > 0
    html = response.content.decode()
    assert "Open alerts" in html and "Messages that failed" in html


def test_a_superuser_counts_as_admin(client):
    user = UserFactory(username="root", is_superuser=True)
    client.force_login(user)
    assert keys(client.get(HOME)) == ["health"]


# --- Several roles, order, failures --------------------------------------------------------------


def test_several_roles_see_each_section_waiting_ones_first(client, make_user):
    user = make_user("Analyst", username="multi")
    from django.contrib.auth.models import Group

    user.groups.add(Group.objects.get(name="Agent"), Group.objects.get(name="Content reviewer"))
    client.force_login(user)
    # Nothing waits: in role order (reviewer, agent, analyst).
    assert keys(client.get(HOME)) == ["review", "inbox", "kpis"]
    conversation = ConversationFactory(assignee=user)
    message(conversation, "in", 5)
    assert keys(client.get(HOME)) == ["inbox", "review", "kpis"]


def test_a_failing_section_does_not_take_the_page_down(client, make_user, monkeypatch, caplog):
    def broken(user):
        raise RuntimeError("boom")

    section = core_home._REGISTRY["review"]
    failing = core_home.HomeSection(**{**section.__dict__, "gather": broken})
    monkeypatch.setitem(core_home._REGISTRY, "review", failing)
    client.force_login(make_user("Content reviewer"))
    response = client.get(HOME)
    assert response.status_code == 200
    assert "This section could not be loaded just now." in response.content.decode()
    assert any("home section review failed" in r.getMessage() for r in caplog.records)


def test_sections_need_their_permission_as_well_as_the_role(make_user, monkeypatch):
    user = make_user("Agent")
    assert [s.key for s in core_home.home_sections_for(user)] == ["inbox"]
    monkeypatch.setattr(type(user), "has_perm", lambda self, perm, obj=None: False)
    assert core_home.home_sections_for(user) == []


def test_home_register_refuses_an_unknown_role():
    with pytest.raises(ValueError, match="unknown role"):
        core_home.home_register(
            core_home.HomeSection("x", "X", "Janitor", "core.access_staff", "t.html", dict)
        )


def test_templates_awaiting_meta_ignore_inactive_numbers():
    from messaging.channels.selectors import templates_awaiting_review

    inactive = ChannelFactory(phone_number_id="999", is_active=False)
    TemplateFactory(channel=inactive, status="PENDING")
    live = TemplateFactory(status="IN_APPEAL")
    assert list(templates_awaiting_review()) == [live]
    assert MessageTemplate.objects.count() == 2
