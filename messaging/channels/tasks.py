"""Channel tasks (queue `default`): keep templates in line with the provider."""

from core.periodic import periodic_task
from messaging.channels.templates import templates_sync_all

__all__ = ["sync_templates"]


@periodic_task(name="messaging.sync_templates", lock_timeout=900, backoff_min=3600)
def sync_templates() -> dict:
    return templates_sync_all()
