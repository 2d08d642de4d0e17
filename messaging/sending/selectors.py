"""Reads over messaging, with their joins decided here."""

from django.db.models import QuerySet

from messaging.channels.opt_out import OptOutTap, opt_out_tap_match
from messaging.sending.models import Conversation, Direction, Message, MessageType


def message_list() -> QuerySet[Message]:
    return Message.objects.select_related(
        "channel", "contact", "resent_from", "resent_as"
    ).order_by("-created_at", "-id")


def message_opt_out_tap(message: Message) -> OptOutTap | None:
    """The marketing opt-out an inbound quick-reply tap asks for, or None.

    The tap answers the outbound message named by its `context` wamid; that message's template
    (and the payloads its send gave the buttons) tell whether an opt-out button was hit; a tap
    on a message Parley did not send, or without context, is matched against
    MARKETING_OPT_OUT_BUTTONS alone (`messaging.channels.opt_out`).
    """
    if message.direction != Direction.INBOUND or message.type != MessageType.BUTTON_REPLY:
        return None
    content = message.content or {}
    replied_to = None
    if message.context_wamid:
        replied_to = (
            Message.objects.filter(wamid=message.context_wamid, direction=Direction.OUTBOUND)
            .select_related("template")
            .first()
        )
    return opt_out_tap_match(
        payload=str(content.get("payload") or ""),
        text=str(content.get("text") or ""),
        template=replied_to.template if replied_to is not None else None,
        sent_content=replied_to.content if replied_to is not None else None,
    )


def message_conversation(message: Message) -> Conversation | None:
    """The conversation a message belongs to: its own, or the thread with its contact on its
    number (a message queued before the contact ever wrote has none attached yet)."""
    if message.conversation_id:
        return message.conversation
    return Conversation.objects.filter(
        contact_id=message.contact_id, channel_id=message.channel_id
    ).first()
