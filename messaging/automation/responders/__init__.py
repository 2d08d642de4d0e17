"""Responders answer a contact's question automatically, or return None to leave it for an
agent. `responders_active()` lists the configured ones, in the order they are asked."""

from messaging.automation.responders.base import Answer, Responder, responders_active

__all__ = ["Answer", "Responder", "responders_active"]
