"""A conversation's life: its cycles (opened, first response), who it is assigned to.

The bookkeeping both the inbox (staff replies, assignment) and automation (auto-replies, the
assign action) and inbound processing (a new cycle opens) call, and the queueing of read marks
and typing indicators both the inbox and automation send; the inbox keeps its pages, replies,
close and reopen, and the read-mark task.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest

from core.errors import DomainError
from core.queueing import task
from messaging.sending.models import (
    Conversation,
    ConversationEvent,
    ConversationEventKind,
    Direction,
    Message,
    MessageType,
)

logger = logging.getLogger(__name__)

# Inbound types that are not the user writing to us: they neither need a reply nor get one.
NOT_FROM_USER = frozenset({MessageType.SYSTEM, MessageType.REACTION})


def cycle_start(conversation: Conversation) -> datetime:
    """When the current cycle began: its opening, or for a conversation never closed, its
    first inbound message (messages can arrive out of order)."""
    start = conversation.opened_at
    if (
        conversation.first_inbound_at
        and not ConversationEvent.objects.filter(
            conversation=conversation, kind=ConversationEventKind.CLOSED
        ).exists()
    ):
        start = min(start, conversation.first_inbound_at)
    return start


def conversation_outbound_record(
    *, conversation: Conversation, message: Message, automated: bool
) -> bool:
    """Note an outbound reply on its conversation: last activity and, when it is the first
    reply to the current cycle's first unanswered inbound message, the first response.

    Returns True when `message` was that first response. Call inside the transaction that
    queued the message (the reply path and the auto-reply path both do).
    """
    at = message.created_at
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        Conversation.objects.filter(pk=locked.pk).update(
            last_activity_at=Greatest(F("last_activity_at"), Value(at))
        )
        start = cycle_start(locked)
        if locked.first_response_at is not None and locked.first_response_at >= start:
            return False  # this cycle was answered already
        waiting_since = (
            Message.objects.filter(
                conversation=locked, direction=Direction.INBOUND, received_at__gte=start
            )
            .exclude(type__in=NOT_FROM_USER)
            .order_by("received_at")
            .values_list("received_at", flat=True)
            .first()
        )
        if waiting_since is None or waiting_since > at:
            return False
        seconds = max(0.0, (at - waiting_since).total_seconds())
        Conversation.objects.filter(pk=locked.pk).update(
            first_response_at=at, first_response_automated=automated
        )
        ConversationEvent.objects.create(
            conversation=locked, kind=ConversationEventKind.FIRST_RESPONSE, at=at,
            actor=message.sent_by, automated=automated, seconds=seconds,
        )  # fmt: skip
    conversation.first_response_at = at
    conversation.first_response_automated = automated
    return True


def conversation_opened_record(*, conversation_id: int) -> bool:
    """Record the opening of the conversation's current cycle (once; an inbound message that
    opened or reopened it calls this after commit). True when it was new."""
    row = (
        Conversation.objects.filter(pk=conversation_id, is_open=True)
        .values_list("opened_at", flat=True)
        .first()
    )
    if row is None:
        return False
    try:
        with transaction.atomic():
            _, created = ConversationEvent.objects.get_or_create(
                conversation_id=conversation_id, kind=ConversationEventKind.OPENED, at=row
            )
    except IntegrityError:  # recorded concurrently
        return False
    if created:
        # A new cycle after a close: its first response is still to come. (Compared with the
        # close, not the opening: WhatsApp's timestamps are whole seconds.)
        last_closed = (
            ConversationEvent.objects.filter(
                conversation_id=conversation_id, kind=ConversationEventKind.CLOSED
            )
            .order_by("-at")
            .values_list("at", flat=True)
            .first()
        )
        if last_closed is not None:
            Conversation.objects.filter(
                pk=conversation_id, first_response_at__lte=last_closed
            ).update(first_response_at=None, first_response_automated=False)
    return created


def conversation_assign(*, conversation: Conversation, assignee, actor) -> Conversation:
    """Give the conversation to `assignee` (None: unassigned). They must be able to use the
    inbox."""
    if assignee is not None and not (
        assignee.is_active and assignee.has_perm("messaging.view_conversation")
    ):
        raise DomainError(
            f"{assignee.get_username()} cannot use the inbox.", code="invalid_assignee"
        )
    if conversation.assignee_id == (assignee.pk if assignee else None):
        return conversation
    with transaction.atomic():
        Conversation.objects.filter(pk=conversation.pk).update(assignee=assignee)
        ConversationEvent.objects.create(
            conversation=conversation, kind=ConversationEventKind.ASSIGNED, actor=actor,
            assignee=assignee,
        )  # fmt: skip
    conversation.assignee = assignee
    return conversation


def read_mark_enqueue_on_commit(*, channel_id: int, wamid: str, typing: bool = False) -> None:
    """After commit, queue `messaging.inbox_mark_read` for `wamid` (blue ticks), with a
    typing indicator when `typing` (WhatsApp shows it until our next message, at most 25 s).

    Never blocks on the provider and never raises: both are cosmetic, and the caller's work
    (a cleared badge, an answer being prepared) must not fail because the broker is down.
    """

    def enqueue() -> None:
        try:
            if typing:
                task("messaging.inbox_mark_read").delay(channel_id, wamid, typing=True)
            else:
                task("messaging.inbox_mark_read").delay(channel_id, wamid)
        except Exception:
            logger.warning("could not enqueue the read mark of %s", wamid)

    transaction.on_commit(enqueue)
