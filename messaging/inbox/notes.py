"""Internal notes on a conversation: written by staff for staff, shown in the thread between
the messages, never sent to the contact. A note is a `ConversationEvent` of kind `note` (the
conversation's append-only history), so erasing a contact clears its text with the other
conversation notes (`messaging.personal_data`)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from core.errors import DomainError
from messaging.sending.models import Conversation, ConversationEvent, ConversationEventKind

NOTE_MAX_LENGTH = 4096


def conversation_note_add(*, conversation: Conversation, author, text: str) -> ConversationEvent:
    text = (text or "").strip()
    if not text:
        raise DomainError("Write the note first.", code="invalid_note")
    if len(text) > NOTE_MAX_LENGTH:
        raise DomainError(
            f"A note is at most {NOTE_MAX_LENGTH} characters ({len(text)} given).",
            code="invalid_note",
        )
    return ConversationEvent.objects.create(
        conversation=conversation, kind=ConversationEventKind.NOTE, at=timezone.now(),
        actor=author, note=text,
    )  # fmt: skip


def conversation_notes(conversation: Conversation) -> QuerySet[ConversationEvent]:
    """The conversation's notes, newest first."""
    return (
        ConversationEvent.objects.filter(conversation=conversation, kind=ConversationEventKind.NOTE)
        .select_related("actor")
        .order_by("-at", "-pk")
    )
