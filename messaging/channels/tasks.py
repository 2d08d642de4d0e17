"""Channel tasks (queue `default`): keep templates and number health in line with the provider."""

from core.periodic import periodic_task
from messaging.channels.services import channels_health_sync
from messaging.channels.templates import templates_sync_all

__all__ = ["channels_sync", "sync_templates"]


@periodic_task(name="messaging.sync_templates", lock_timeout=900, backoff_min=3600)
def sync_templates() -> dict:
    return templates_sync_all()


@periodic_task(
    name="messaging.channels_sync",
    lock_timeout=300,
    backoff_min=900,
    # Beat refreshes every number; a health webhook asks for its own number's refresh, which
    # must not be skipped because the periodic run holds the lock.
    scope=lambda channel_id=None: str(channel_id or "all"),
)
def channels_sync(channel_id: int | None = None) -> dict:
    """Read every active number's quality, messaging limit and status from the provider."""
    return channels_health_sync(channel_id=channel_id)
