"""Inbox receivers, connected in `MessagingConfig.ready()`.

An inbound message (signal sent after the webhook's transaction committed) records the opening
of its conversation's cycle and queues the auto-reply task: automation never runs inside the
webhook processing itself. A failure here is logged and never breaks webhook processing.
"""

from __future__ import annotations

import logging

from messaging.signals import inbound_message_received

logger = logging.getLogger(__name__)


def on_inbound_message(sender, message, contact, **kwargs) -> None:
    from messaging.automation.services import autoreply_enqueue
    from messaging.inbox.services import conversation_opened_record

    try:
        if message.conversation_id:
            conversation_opened_record(conversation_id=message.conversation_id)
    except Exception:
        logger.exception("could not record the opening of conversation %s", message.conversation_id)
    autoreply_enqueue(message.pk)


def connect() -> None:
    inbound_message_received.connect(
        on_inbound_message, dispatch_uid="messaging.inbox.on_inbound_message"
    )
