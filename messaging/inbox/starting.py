"""Starting a conversation from our side: with any contact, including one who never wrote.

The first message goes through the inbox's reply path, so every rule of the send policy
applies: free text only while the contact's 24-hour window with that number is open,
otherwise an approved template with its parameters. Nothing is written when the send is
refused: no empty conversation, no reopening.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from core.errors import DomainError
from crm.models import Contact
from messaging.channels.models import Channel, MessageTemplate
from messaging.inbox.routing import team_for_channel
from messaging.inbox.services import (
    conversation_reopen,
    conversation_reply_template,
    conversation_reply_text,
)
from messaging.sending.conversations import conversation_assign
from messaging.sending.models import (
    Conversation,
    ConversationEvent,
    ConversationEventKind,
    Message,
)


def conversation_start(
    *,
    contact: Contact,
    channel: Channel,
    user,
    text: str = "",
    template: MessageTemplate | None = None,
    values: dict[str, Any] | None = None,
) -> tuple[Conversation, Message]:
    """Open the conversation with `contact` on `channel` (new, or a closed one reopened) and
    send `text` or `template` with `values` (as `conversation_reply_template` takes them).

    The conversation goes to `user` when nobody has it, and to the number's team. Raises
    SendRefused (window closed, opted out, blocked...) or DomainError, with nothing written.
    """
    if bool((text or "").strip()) == (template is not None):
        raise DomainError("Send either a text or a template.", code="invalid_message")
    if not channel.is_active:
        raise DomainError("This number is switched off.", code="channel_inactive")
    now = timezone.now()
    with transaction.atomic():
        conversation, created = Conversation.objects.get_or_create(
            contact=contact,
            channel=channel,
            defaults={"opened_at": now, "last_activity_at": now, "team": team_for_channel(channel)},
        )
        if created:
            ConversationEvent.objects.create(
                conversation=conversation, kind=ConversationEventKind.OPENED, at=now,
                actor=user, note="started by staff",
            )  # fmt: skip
        elif not conversation.is_open:
            conversation_reopen(conversation=conversation, actor=user)
        if conversation.assignee_id is None:
            conversation_assign(conversation=conversation, assignee=user, actor=user)
        if template is not None:
            message = conversation_reply_template(
                conversation=conversation, user=user, template=template, values=values or {}
            )
        else:
            message = conversation_reply_text(conversation=conversation, user=user, body=text)
    return conversation, message
