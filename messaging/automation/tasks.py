"""Automation tasks (queue `default`): auto-replies, off the webhook path."""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError

from core.retrying import retry_countdown
from messaging.automation.services import autoreply_process

__all__ = ["autoreply_run"]


@shared_task(
    name="messaging.autoreply_run", bind=True, acks_late=True, ignore_result=True, max_retries=5
)
def autoreply_run(self, message_id: int) -> int:
    """Evaluate the auto-reply rules and responders for one inbound message (idempotent)."""

    try:
        return len(autoreply_process(message_id=message_id))
    except DatabaseError as exc:
        raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries)) from exc
