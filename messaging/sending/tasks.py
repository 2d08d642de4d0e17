from celery import shared_task

from core.periodic import periodic_task
from messaging.sending.dispatch import send_batch_run, send_sweep

__all__ = ["send_batch", "send_sweep_task"]


@shared_task(name="messaging.send_batch", acks_late=True, ignore_result=True)
def send_batch(channel_id: int) -> dict:
    """Drain a channel's queue for a while. Safe to run many at once and to run again."""
    return send_batch_run(channel_id=channel_id)


@periodic_task(name="messaging.send_sweep", lock_timeout=120, backoff_min=10)
def send_sweep_task() -> dict:
    return send_sweep()
