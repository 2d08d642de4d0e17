"""Campaign tasks (queue `default`): launch what is due, complete what is done."""

from celery import shared_task

__all__ = ["campaigns_tick"]


@shared_task(name="messaging.campaigns_tick", ignore_result=True)
def campaigns_tick() -> dict:
    """Launch scheduled campaigns that are due; complete those with nothing left to send."""
    from messaging.campaigns.services import campaigns_complete_finished, campaigns_launch_due

    return {"launched": campaigns_launch_due(), "completed": campaigns_complete_finished()}
