"""Campaign tasks (queue `default`): launch what is due, keep spread campaigns within their
number's budget, complete what is done."""

from core.periodic import periodic_task
from messaging.campaigns.services import (
    campaigns_budget_check,
    campaigns_complete_finished,
    campaigns_launch_due,
)

__all__ = ["campaigns_tick"]


@periodic_task(name="messaging.campaigns_tick", lock_timeout=120, backoff_min=5, backoff_max=60)
def campaigns_tick() -> dict:
    """Launch scheduled campaigns that are due; release, pause or resume campaigns spread over
    their number's budget; complete those with nothing left to send."""
    return {
        "launched": campaigns_launch_due(),
        "budget": campaigns_budget_check(),
        "completed": campaigns_complete_finished(),
    }
