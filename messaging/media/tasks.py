"""Media library tasks (queue `default`)."""

from core.periodic import periodic_task
from messaging.media.services import media_ids_renew

__all__ = ["media_renew"]


@periodic_task(name="messaging.media_renew", lock_timeout=1800, backoff_min=3600)
def media_renew() -> dict:
    """Upload again, before they expire, the media ids of library files used lately."""
    return media_ids_renew()
