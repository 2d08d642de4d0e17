"""Teams and round-robin assignment: whose turn it is, who is available, what is never
overridden, the webhook path that routes new conversations, and the race between concurrent
assignments (on PostgreSQL, where rows are really locked)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from core.errors import DomainError
from messaging.inbox.routing import (
    agent_availability_set,
    available_members,
    conversation_route,
    conversations_waiting_route,
    team_save,
)
from messaging.models import (
    AgentAvailability,
    Conversation,
    ConversationEvent,
    Team,
    TeamChannel,
)
from tests.factories import ChannelFactory, ContactFactory, ConversationFactory
from tests.messaging.inbox.support import inbound

pytestmark = pytest.mark.django_db


@pytest.fixture
def wa_channel(db):
    return ChannelFactory()


@pytest.fixture
def agents(make_user):
    return [make_user("Agent", username=f"agent{n}") for n in range(3)]


@pytest.fixture
def team(wa_channel, agents):
    return team_save(
        name="Support", auto_assign=True, member_ids=[a.pk for a in agents],
        channel_ids=[wa_channel.pk],
    )  # fmt: skip


def waiting(channel, n=1):
    return [ConversationFactory(channel=channel, contact=ContactFactory()) for _ in range(n)]


def test_conversations_go_round_the_available_members_in_turn(wa_channel, team, agents):
    conversations = waiting(wa_channel, 7)
    chosen = [conversation_route(conversation_id=c.pk) for c in conversations]
    ids = [a.pk for a in agents]
    assert chosen == [ids[0], ids[1], ids[2], ids[0], ids[1], ids[2], ids[0]]
    first = Conversation.objects.get(pk=conversations[0].pk)
    assert (first.assignee_id, first.team) == (ids[0], team)
    event = ConversationEvent.objects.get(conversation=first, kind="assigned")
    assert event.actor is None and event.note == "round robin: Support"
    team.refresh_from_db()
    assert (team.last_assigned_id, team.turns) == (ids[0], 7)


def test_away_agents_are_skipped_and_come_back_in_their_turn(wa_channel, team, agents):
    agent_availability_set(user=agents[1], available=False)
    assert available_members(team) == [agents[0].pk, agents[2].pk]
    chosen = [conversation_route(conversation_id=c.pk) for c in waiting(wa_channel, 3)]
    assert chosen == [agents[0].pk, agents[2].pk, agents[0].pk]
    agent_availability_set(user=agents[1], available=True)
    assert conversation_route(conversation_id=waiting(wa_channel)[0].pk) == agents[1].pk


def test_nobody_available_leaves_the_conversation_waiting_for_the_team(wa_channel, team, agents):
    for agent in agents:
        agent_availability_set(user=agent, available=False)
    (conversation,) = waiting(wa_channel)
    assert conversation_route(conversation_id=conversation.pk) is None
    conversation.refresh_from_db()
    assert conversation.assignee is None and conversation.team == team  # visible as the team's
    team.refresh_from_db()
    assert team.turns == 0  # the turn was not used


def test_coming_back_routes_what_waited(
    wa_channel, team, agents, django_capture_on_commit_callbacks
):
    for agent in agents:
        agent_availability_set(user=agent, available=False)
    waiting_ones = waiting(wa_channel, 2)
    with django_capture_on_commit_callbacks(execute=True):
        agent_availability_set(user=agents[2], available=True)
    assigned = set(
        Conversation.objects.filter(pk__in=[c.pk for c in waiting_ones]).values_list(
            "assignee_id", flat=True
        )
    )
    assert assigned == {agents[2].pk}


def test_assigned_closed_unrouted_and_manual_teams_are_left_alone(
    wa_channel, team, agents, make_user
):
    boss = make_user("Admin", username="boss")
    mine = ConversationFactory(channel=wa_channel, assignee=boss)
    closed = ConversationFactory(channel=wa_channel, is_open=False)
    other = ConversationFactory(channel=ChannelFactory(phone_number_id="2999"))
    for conversation in (mine, closed, other):
        assert conversation_route(conversation_id=conversation.pk) is None
    assert Conversation.objects.get(pk=mine.pk).assignee == boss  # a manual choice stays
    Team.objects.filter(pk=team.pk).update(auto_assign=False)
    (plain,) = waiting(wa_channel)
    assert conversation_route(conversation_id=plain.pk) is None
    assert Conversation.objects.get(pk=plain.pk).team == team


def test_members_who_lost_the_inbox_are_not_chosen(wa_channel, team, agents):
    agents[0].groups.clear()
    agents[1].is_active = False
    agents[1].save(update_fields=["is_active"])
    chosen = {conversation_route(conversation_id=c.pk) for c in waiting(wa_channel, 3)}
    assert chosen == {agents[2].pk}


def test_a_new_conversation_from_the_webhook_is_routed(
    wa_channel, team, agents, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = inbound(body="Hello, I need help")
    conversation = Conversation.objects.get(pk=message.conversation_id)
    assert conversation.assignee_id == agents[0].pk and conversation.team == team
    with django_capture_on_commit_callbacks(execute=True):
        inbound(body="Anyone?")  # already assigned: nothing changes
    assert Conversation.objects.get(pk=conversation.pk).assignee_id == agents[0].pk
    assert ConversationEvent.objects.filter(kind="assigned").count() == 1


def test_team_save_checks_members_and_moves_numbers(wa_channel, team, agents, make_user):
    reviewer = make_user("Content reviewer", username="rev")
    with pytest.raises(DomainError, match="may use the inbox"):
        team_save(name="Sales", auto_assign=True, member_ids=[reviewer.pk], channel_ids=[])
    with pytest.raises(DomainError, match="already a team"):
        team_save(name="support", auto_assign=True, member_ids=[], channel_ids=[])
    sales = team_save(
        name="Sales", auto_assign=False, member_ids=[agents[0].pk], channel_ids=[wa_channel.pk]
    )
    assert TeamChannel.objects.get(channel=wa_channel).team == sales  # moved from Support
    assert list(sales.members.all()) == [agents[0]]
    team_save(team=sales, name="Sales", auto_assign=False, member_ids=[], channel_ids=[])
    assert not sales.members.exists() and not TeamChannel.objects.exists()


def test_waiting_conversations_are_routed_when_a_team_is_set_up(
    wa_channel, agents, django_capture_on_commit_callbacks
):
    old = waiting(wa_channel, 2)
    with django_capture_on_commit_callbacks(execute=True):
        team_save(name="Late", auto_assign=True, member_ids=[agents[1].pk],
                  channel_ids=[wa_channel.pk])  # fmt: skip
    assert {c.assignee_id for c in Conversation.objects.filter(pk__in=[o.pk for o in old])} == {
        agents[1].pk
    }
    assert conversations_waiting_route(team_ids=[]) == 0


def test_availability_defaults_to_available(agents):
    assert not AgentAvailability.objects.exists()
    agent_availability_set(user=agents[0], available=False)
    assert AgentAvailability.objects.get(user=agents[0]).available is False


# --- The race --------------------------------------------------------------------------------

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks need PostgreSQL: the unit suite's in-memory SQLite fails concurrent "
    "writers at once instead of making them wait (make test-integration runs this file)",
)


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_routings_take_turns_and_never_double_assign(make_user):
    """Twelve conversations routed at once by twelve threads, and one more routed by four
    threads at once: the thirteen turns go 5, 4, 4 (the first member starts), nobody gets two
    turns' worth at once, and the contested one is assigned exactly once."""
    channel = ChannelFactory()
    agents = [make_user("Agent", username=f"racer{n}") for n in range(3)]
    team_save(name="Race", auto_assign=True, member_ids=[a.pk for a in agents],
              channel_ids=[channel.pk])  # fmt: skip
    conversations = waiting(channel, 12)
    single = waiting(channel)[0]
    barrier = threading.Barrier(16)
    results, errors = [], []

    def route(conversation_id):
        try:
            barrier.wait()
            results.append((conversation_id, conversation_route(conversation_id=conversation_id)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=route, args=(c.pk,)) for c in conversations]
    threads += [threading.Thread(target=route, args=(single.pk,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    counts = {a.pk: 0 for a in agents}
    for c in Conversation.objects.filter(pk__in=[c.pk for c in [*conversations, single]]):
        counts[c.assignee_id] += 1
    assert counts == {agents[0].pk: 5, agents[1].pk: 4, agents[2].pk: 4}
    assert ConversationEvent.objects.filter(conversation=single, kind="assigned").count() == 1
    assert sum(1 for pk, chosen in results if pk == single.pk and chosen) == 1
    assert Team.objects.get(name="Race").turns == 13
