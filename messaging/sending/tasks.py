from celery import shared_task

from messaging.sending.dispatch import send_batch_run, send_sweep

__all__ = ["campaigns_tick", "send_batch", "send_sweep_task", "sync_templates"]


@shared_task(name="messaging.send_batch", acks_late=True, ignore_result=True)
def send_batch(channel_id: int) -> dict:
    """Drain a channel's queue for a while. Safe to run many at once and to run again."""
    return send_batch_run(channel_id=channel_id)


@shared_task(name="messaging.send_sweep", ignore_result=True)
def send_sweep_task() -> dict:
    return send_sweep()


@shared_task(name="messaging.sync_templates", ignore_result=True)
def sync_templates() -> dict:
    from messaging.channels.templates import templates_sync_all

    return templates_sync_all()


@shared_task(name="messaging.campaigns_tick", ignore_result=True)
def campaigns_tick() -> dict:
    """Launch scheduled campaigns that are due; complete those with nothing left to send."""
    from messaging.campaigns.services import campaigns_complete_finished, campaigns_launch_due

    return {"launched": campaigns_launch_due(), "completed": campaigns_complete_finished()}
