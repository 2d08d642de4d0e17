"""Campaign tasks (queue `default`): launch what is due, complete what is done."""

from core.periodic import periodic_task
from messaging.campaigns.services import campaigns_complete_finished, campaigns_launch_due

__all__ = ["campaigns_tick"]


@periodic_task(name="messaging.campaigns_tick", lock_timeout=120, backoff_min=5)
def campaigns_tick() -> dict:
    """Launch scheduled campaigns that are due; complete those with nothing left to send."""
    return {"launched": campaigns_launch_due(), "completed": campaigns_complete_finished()}
