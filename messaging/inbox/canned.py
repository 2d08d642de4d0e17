"""Canned replies: saved answers an agent inserts in the reply box by typing `/` and a
shortcut. A reply belongs to a team (offered to its members) or to nobody (global, offered to
everyone).

Who may write which: `messaging.add/change/delete_cannedreply` say whether a user may write
canned replies at all; without `messaging.manage_cannedreply` (Campaign manager, Admin) they
may only write their own teams' ones, and the global ones are read-only to them.

`{{name}}` in a body becomes the contact's name when it is inserted.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from core.errors import DomainError
from messaging.inbox.models import CannedReply, Team, TeamMember

MANAGE = "messaging.manage_cannedreply"
NAME_PLACEHOLDER = "{{name}}"


class NotYourTeam(DomainError):
    code = "forbidden"
    status_code = 403


def canned_replies_visible(user) -> QuerySet[CannedReply]:
    """What `user` sees on the canned replies page and in the API: all of them with
    `messaging.manage_cannedreply`, else the global ones and their teams'."""
    replies = CannedReply.objects.select_related("team", "created_by").order_by(
        "shortcut", "team__name", "pk"
    )
    if user.has_perm(MANAGE):
        return replies
    return replies.filter(Q(team__isnull=True) | Q(team__memberships__user=user)).distinct()


def canned_replies_for_reply_box(user) -> QuerySet[CannedReply]:
    """What the reply box offers: the global ones and the user's teams' (also for managers,
    who would otherwise get every team's answers)."""
    return (
        CannedReply.objects.filter(Q(team__isnull=True) | Q(team__memberships__user=user))
        .distinct()
        .order_by("shortcut", "pk")
    )


def canned_reply_teams(user) -> QuerySet[Team]:
    """The teams `user` may write canned replies for."""
    if user.has_perm(MANAGE):
        return Team.objects.order_by("name")
    return Team.objects.filter(memberships__user=user).order_by("name")


def canned_reply_may_write(user, team: Team | None) -> bool:
    if user.has_perm(MANAGE):
        return True
    return team is not None and TeamMember.objects.filter(team=team, user=user).exists()


def _check_scope(user, team: Team | None) -> None:
    if not canned_reply_may_write(user, team):
        raise NotYourTeam(
            "Only your own teams' canned replies can be changed; the global ones and other "
            "teams' need the permission to manage canned replies.",
        )


def canned_reply_save(
    *,
    user,
    reply: CannedReply | None = None,
    team: Team | None,
    shortcut: str,
    title: str,
    body: str,
) -> CannedReply:
    """Create (`reply` None) or update a canned reply. Raises NotYourTeam (403) outside the
    user's scope, DomainError for a shortcut already used in the same place."""
    if reply is not None:
        _check_scope(user, reply.team)
    _check_scope(user, team)
    shortcut = (shortcut or "").strip().lower().lstrip("/")
    if not shortcut or not (title or "").strip() or not (body or "").strip():
        raise DomainError("A canned reply needs a shortcut, a title and a text.", code="invalid")
    now = timezone.now()
    fields = {
        "team": team, "shortcut": shortcut, "title": title.strip(), "body": body.strip(),
        "updated_at": now,
    }  # fmt: skip
    try:
        with transaction.atomic():
            if reply is None:
                reply = CannedReply.objects.create(created_by=user, created_at=now, **fields)
            else:
                for name, value in fields.items():
                    setattr(reply, name, value)
                reply.save(update_fields=list(fields))
    except IntegrityError:
        where = f"team {team.name}" if team else "the global replies"
        raise DomainError(
            f"/{shortcut} is already used in {where}.", code="duplicate_shortcut"
        ) from None
    return reply


def canned_reply_delete(*, user, reply: CannedReply) -> None:
    _check_scope(user, reply.team)
    reply.delete()


def canned_reply_render(reply: CannedReply, *, contact=None) -> str:
    """The text to insert: `{{name}}` becomes the contact's name."""
    name = contact.display_name if contact is not None else ""
    return reply.body.replace(NAME_PLACEHOLDER, name or "")
