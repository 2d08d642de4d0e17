"""Responders answer a contact's question automatically, or return None to leave it for an
agent. `responders_active()` lists the configured ones, in the order they are asked."""

from django.conf import settings

from messaging.automation.responders.ai import AiResponder
from messaging.automation.responders.base import Answer, Responder
from messaging.automation.responders.faq import FaqResponder

__all__ = ["Answer", "Responder", "responders_active"]


def responders_active() -> list[Responder]:
    """The FAQ responder, then the AI responder when AI_RESPONDER_ENABLED."""
    responders: list[Responder] = [FaqResponder()]
    if settings.AI_RESPONDER_ENABLED:
        responders.append(AiResponder())
    return responders
