"""Tasks of content for advisors (queue `default`): thin adapters over the services.

Imported by `MessagingConfig.ready` so workers register them.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from celery import shared_task
from django.core.cache import cache

__all__ = ["content_distribute_task", "content_feed_import_task"]


@contextlib.contextmanager
def _single_run(name: str, timeout: int) -> Iterator[bool]:
    """A lock in the shared cache so that runs of a periodic task never overlap."""
    key, token = f"task-lock:{name}", uuid.uuid4().hex
    acquired = cache.add(key, token, timeout=timeout)
    try:
        yield acquired
    finally:
        if acquired and cache.get(key) == token:
            cache.delete(key)


@shared_task(name="messaging.content_distribute", ignore_result=True)
def content_distribute_task(day: str | None = None) -> dict:
    """Announce the day's approved content (default today in CONTENT_TIME_ZONE)."""
    from datetime import date

    from messaging.content.distribution import content_distribute

    with _single_run("messaging.content_distribute", timeout=900) as acquired:
        if not acquired:
            return {"skipped": "another distribution is running"}
        result = content_distribute(day=date.fromisoformat(day) if day else None)
        return {"day": str(result.day), "sent": result.sent, "summary": result.summary()}


@shared_task(name="messaging.content_feed_import", ignore_result=True)
def content_feed_import_task() -> dict:
    """Turn new CONTENT_FEED_URL entries into drafts (nothing to do while it is empty)."""
    from messaging.content.feed import content_feed_import

    with _single_run("messaging.content_feed_import", timeout=300) as acquired:
        if not acquired:
            return {"skipped": "another import is running"}
        return content_feed_import().as_dict()
