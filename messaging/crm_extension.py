"""What crm pages and segment filters show about a contact's messages.

crm imports nothing of messaging; it reads through `crm.extensions.ContactMessaging`, and
`MessagingConfig.ready()` registers this implementation.
"""

from __future__ import annotations

from django.db.models import Count, Exists, OuterRef, Q

from crm.extensions import MessageActivity, MessageRow, contact_messaging_register
from crm.models import Contact
from messaging.channels.models import Channel
from messaging.channels.rendering import template_render
from messaging.sending.models import Conversation, Direction, Message, MessageType

# Inbound messages that mean the contact tapped something we sent.
CLICK_TYPES = (MessageType.BUTTON_REPLY, MessageType.INTERACTIVE_REPLY)
ROW_FIELDS = ("id", "direction", "type", "content", "status", "created_at", "contact_id")
TEMPLATE_FIELDS = ("template__name", "template__components", "template__parameter_format")
CHANNEL_CHOICES_LIMIT = 100


def message_summary(message: Message) -> str:
    """One line for a message's content, whatever its type."""
    content = message.content or {}
    if not isinstance(content, dict):
        return str(content)[:200]
    if message.type == MessageType.TEMPLATE and message.template_id:
        # As the contact saw it, parameters filled in (the inbox renders it the same way).
        body = template_render(message.template, content).body
        if body:
            return body[:200]
    for key in ("body", "text", "title", "caption"):
        value = content.get(key)
        if isinstance(value, str) and value:
            return value[:200]
        if isinstance(value, dict) and isinstance(value.get("body"), str):
            return value["body"][:200]
    if content.get("name"):  # a template
        return f"Template {content['name']}"
    if content.get("payload"):
        return f"Payload {content['payload']}"[:200]
    return message.type


def _rows(queryset, limit: int) -> list[MessageRow]:
    return [
        MessageRow(
            id=m.pk,
            created_at=m.created_at,
            direction=m.direction,
            type=m.type,
            type_label=m.get_type_display(),
            status_label=m.get_status_display(),
            summary=message_summary(m),
        )
        for m in queryset.select_related("template")
        .only(*ROW_FIELDS, *TEMPLATE_FIELDS)
        .order_by("-created_at", "-id")[:limit]
    ]


class MessagingForCrm:
    def recent_messages(self, contact: Contact, *, limit: int) -> list[MessageRow]:
        return _rows(Message.objects.filter(contact=contact), limit)

    def conversation_count(self, contact: Contact) -> int:
        return Conversation.objects.filter(contact=contact).count()

    def sent_messages(self, contact: Contact, *, limit: int) -> list[MessageRow]:
        return _rows(Message.objects.filter(contact=contact, direction=Direction.OUTBOUND), limit)

    def clicks(self, contact: Contact, *, limit: int) -> list[MessageRow]:
        return _rows(
            Message.objects.filter(
                contact=contact, direction=Direction.INBOUND, type__in=CLICK_TYPES
            ),
            limit,
        )

    def activity(self, contact: Contact) -> MessageActivity:
        counts = Message.objects.filter(contact=contact).aggregate(
            received=Count("pk", filter=Q(direction=Direction.OUTBOUND)),
            clicked=Count("pk", filter=Q(direction=Direction.INBOUND, type__in=CLICK_TYPES)),
        )
        return MessageActivity(**counts)

    def channel_choices(self) -> list[tuple[int, str]]:
        channels = Channel._base_manager.order_by("pk")[:CHANNEL_CHOICES_LIMIT]
        return [(c.pk, str(c)) for c in channels]

    def channel_q(self, channel_id: int) -> Q:
        return Q(Exists(Message.objects.filter(contact=OuterRef("pk"), channel_id=channel_id)))


def crm_extension_register() -> None:
    contact_messaging_register(MessagingForCrm())
