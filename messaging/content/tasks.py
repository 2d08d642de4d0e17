"""Tasks of content for advisors (queue `default`): thin adapters over the services.

Registered through `messaging.tasks`, which Celery's autodiscovery imports.
"""

from __future__ import annotations

from datetime import date

from core.periodic import periodic_task
from messaging.content.distribution import content_distribute
from messaging.content.feed import content_feed_import

__all__ = ["content_distribute_task", "content_feed_import_task"]


@periodic_task(name="messaging.content_distribute", lock_timeout=900)
def content_distribute_task(day: str | None = None) -> dict:
    """Announce the day's approved content (default today in CONTENT_TIME_ZONE)."""
    result = content_distribute(day=date.fromisoformat(day) if day else None)
    return {"day": str(result.day), "sent": result.sent, "summary": result.summary()}


@periodic_task(name="messaging.content_feed_import", lock_timeout=300)
def content_feed_import_task() -> dict:
    """Turn new CONTENT_FEED_URL entries into drafts (nothing to do while it is empty)."""
    return content_feed_import().as_dict()
