"""Inbox tasks (queue `default`): read marks and typing indicators, off the request and
webhook paths."""

from __future__ import annotations

import logging

from celery import shared_task

from core.retrying import retry_countdown
from messaging.inbox.services import provider_mark_read
from messaging.providers import TemporaryError

__all__ = ["inbox_mark_read"]

logger = logging.getLogger(__name__)


@shared_task(
    name="messaging.inbox_mark_read", bind=True, acks_late=True, ignore_result=True, max_retries=3
)
def inbox_mark_read(self, channel_id: int, wamid: str, typing: bool = False) -> bool:
    """Tell WhatsApp an inbound message was read (blue ticks), with a typing indicator when
    `typing`; cosmetic, so few retries."""

    try:
        return provider_mark_read(channel_id=channel_id, wamid=wamid, typing=typing)
    except TemporaryError as exc:
        if self.request.retries >= self.max_retries:
            logger.warning("read mark of %s given up: %s", wamid, exc)
            return False
        # A typing indicator is worth nothing seconds later (it may outlive our reply):
        # the retry carries the read mark alone.
        raise self.retry(
            exc=exc,
            args=[channel_id, wamid],
            kwargs={},
            countdown=retry_countdown(self.request.retries, cap=30),
        ) from exc
    except Exception as exc:  # auth errors and the like: the badge is cleared anyway
        logger.warning("read mark of %s failed: %s", wamid, exc)
        return False
