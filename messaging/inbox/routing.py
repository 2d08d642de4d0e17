"""Teams, agents' availability and round-robin assignment.

A number routed to a team (`TeamChannel`) has its new and unassigned conversations given to the
team's available members in turn: after the member who got the last one, in order of user id,
wrapping around. Agents are available unless they said they are away (`AgentAvailability`).
Manual assignment (`conversation_assign`) is never overridden: only a conversation without an
assignee is routed.

Race safety: taking a turn starts with an UPDATE of the team's row, which holds the row's lock
(PostgreSQL) or the database's write lock (SQLite) until the assignment commits, so two
conversations routed at the same moment take turns one after the other and never both go to
the same member, and the conversation itself is assigned with a conditional UPDATE (only while
it has no assignee), so a conversation is never assigned twice.
"""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from core.errors import DomainError
from messaging.channels.models import Channel
from messaging.inbox.models import AgentAvailability, Team, TeamChannel, TeamMember
from messaging.sending.models import Conversation, ConversationEvent, ConversationEventKind

logger = logging.getLogger(__name__)

# How many waiting conversations one agent's return to "available" routes at once.
WAITING_BATCH = 200


# --- Reads ------------------------------------------------------------------------------------


def inbox_users() -> QuerySet:
    """Active users who may use the inbox (the ones a conversation may be assigned to)."""
    User = get_user_model()
    perm = Permission.objects.filter(
        content_type__app_label="messaging", codename="view_conversation"
    ).first()
    return (
        User.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__permissions=perm) | Q(user_permissions=perm))
        .distinct()
        .order_by("username")
    )


def agent_is_available(user) -> bool:
    return not AgentAvailability.objects.filter(user=user, available=False).exists()


def available_members(team: Team) -> list[int]:
    """Ids of the team's members who may use the inbox and are not away, in id order."""
    away = AgentAvailability.objects.filter(user=OuterRef("pk"), available=False)
    return list(
        inbox_users()
        .filter(team_memberships__team=team)
        .exclude(Exists(away))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def team_for_channel(channel: Channel | int) -> Team | None:
    channel_id = channel.pk if isinstance(channel, Channel) else channel
    route = TeamChannel.objects.filter(channel_id=channel_id).select_related("team").first()
    return route.team if route else None


def teams_with_members() -> QuerySet[Team]:
    """Every team with its members (and their availability) and numbers, for the team page."""
    return (
        Team.objects.select_related("last_assigned")
        .prefetch_related("members__inbox_availability", "channels")
        .order_by("name")
    )


# --- Availability -------------------------------------------------------------------------------


def agent_availability_set(*, user, available: bool) -> bool:
    """Say whether `user` takes new conversations. Coming back routes the conversations that
    waited without an assignee on their teams' numbers. Returns the new state."""
    now = timezone.now()
    AgentAvailability.objects.update_or_create(
        user=user, defaults={"available": bool(available), "changed_at": now}
    )
    if available:
        team_ids = list(TeamMember.objects.filter(user=user).values_list("team_id", flat=True))
        if team_ids:
            transaction.on_commit(lambda: conversations_waiting_route(team_ids=team_ids))
    return bool(available)


# --- Teams --------------------------------------------------------------------------------------


def team_save(
    *,
    team: Team | None = None,
    name: str,
    auto_assign: bool,
    member_ids: list[int],
    channel_ids: list[int],
) -> Team:
    """Create or update a team with exactly these members and numbers. A number routed to
    another team moves to this one."""
    name = (name or "").strip()
    if not name:
        raise DomainError("A team needs a name.", code="invalid_team")
    if Team.objects.filter(name__iexact=name).exclude(pk=team.pk if team else None).exists():
        raise DomainError(f"There is already a team called {name}.", code="invalid_team")
    allowed = set(inbox_users().filter(pk__in=member_ids).values_list("pk", flat=True))
    refused = set(member_ids) - allowed
    if refused:
        raise DomainError(
            "Only active users who may use the inbox can be members.", code="invalid_assignee"
        )
    with transaction.atomic():
        if team is None:
            team = Team.objects.create(name=name, auto_assign=auto_assign)
        else:
            team.name, team.auto_assign = name, auto_assign
            team.save(update_fields=["name", "auto_assign"])
        for member in TeamMember.objects.filter(team=team).exclude(user_id__in=allowed):
            member.delete()
        existing = set(TeamMember.objects.filter(team=team).values_list("user_id", flat=True))
        for pk in sorted(allowed - existing):  # one by one: the audit log records each
            TeamMember.objects.create(team=team, user_id=pk)
        for route in TeamChannel.objects.filter(team=team).exclude(channel_id__in=channel_ids):
            route.delete()
        for channel_id in channel_ids:
            TeamChannel.objects.update_or_create(channel_id=channel_id, defaults={"team": team})
    if team.auto_assign:
        team_id = team.pk
        transaction.on_commit(lambda: conversations_waiting_route(team_ids=[team_id]))
    return team


# --- Round robin --------------------------------------------------------------------------------


def _next_member(members: list[int], last: int | None) -> int:
    """The first member after `last` in id order, wrapping around."""
    if last is not None:
        for pk in members:
            if pk > last:
                return pk
    return members[0]


def conversation_route(*, conversation_id: int) -> int | None:
    """Give an open, unassigned conversation to the next available member of the team its
    number is routed to (and record the team on it). Returns the assignee's id, or None when
    there is nothing to do: assigned already, closed, no team, automatic assignment off, or
    nobody available."""
    row = (
        Conversation.objects.filter(pk=conversation_id)
        .values("is_open", "assignee_id", "channel_id", "team_id")
        .first()
    )
    if row is None or not row["is_open"] or row["assignee_id"] is not None:
        return None
    team = team_for_channel(row["channel_id"])
    if team is None:
        return None
    if row["team_id"] != team.pk:
        Conversation.objects.filter(pk=conversation_id).update(team=team)
    if not team.auto_assign or not available_members(team):
        return None
    with transaction.atomic():
        # Take the team's turn first: this UPDATE holds the lock until commit (see above).
        Team.objects.filter(pk=team.pk).update(turns=F("turns") + 1)
        last = Team.objects.filter(pk=team.pk).values_list("last_assigned_id", flat=True).get()
        members = available_members(team)
        if not members:
            transaction.set_rollback(True)
            return None
        chosen = _next_member(members, last)
        assigned = Conversation.objects.filter(
            pk=conversation_id, is_open=True, assignee__isnull=True
        ).update(assignee_id=chosen, team=team)
        if not assigned:  # someone assigned it meanwhile: the turn is not used
            transaction.set_rollback(True)
            return None
        Team.objects.filter(pk=team.pk).update(last_assigned_id=chosen)
        ConversationEvent.objects.create(
            conversation_id=conversation_id, kind=ConversationEventKind.ASSIGNED,
            assignee_id=chosen, note=f"round robin: {team.name}"[:300],
        )  # fmt: skip
    return chosen


def conversation_route_safely(*, conversation_id: int) -> int | None:
    """`conversation_route` for callers that must not fail because of it (webhook
    processing): errors are logged."""
    try:
        return conversation_route(conversation_id=conversation_id)
    except Exception:
        logger.exception("could not route conversation %s", conversation_id)
        return None


def conversations_waiting_route(*, team_ids: list[int]) -> int:
    """Route the open conversations without an assignee on these teams' numbers, oldest
    activity first (at most WAITING_BATCH). Returns how many were assigned."""
    channel_ids = TeamChannel.objects.filter(
        team_id__in=team_ids, team__auto_assign=True
    ).values_list("channel_id", flat=True)
    if not any(available_members(team) for team in Team.objects.filter(pk__in=team_ids)):
        return 0
    waiting = list(
        Conversation.objects.filter(channel_id__in=channel_ids, is_open=True, assignee__isnull=True)
        .order_by("last_activity_at", "pk")
        .values_list("pk", flat=True)[:WAITING_BATCH]
    )
    assigned = 0
    for pk in waiting:
        if conversation_route_safely(conversation_id=pk) is not None:
            assigned += 1
    return assigned


def team_delete(*, team: Team) -> None:
    """Delete a team: its conversations keep their assignees and lose the team; its numbers
    are no longer routed; its canned replies go with it."""
    team.delete()
