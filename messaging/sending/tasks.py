from celery import shared_task
from django.utils import timezone

from core.periodic import periodic_task
from messaging.sending.dispatch import SendInterrupted, send_batch_run, send_sweep
from messaging.sending.unconfirmed import messages_unconfirmed_mark

__all__ = ["send_batch", "send_sweep_task", "send_unknown_settle"]


@shared_task(
    name="messaging.send_batch", bind=True, acks_late=True, ignore_result=True, max_retries=5
)
def send_batch(self, channel_id: int) -> dict:
    """Drain a channel's queue for a while. Safe to run many at once and to run again.

    A batch stopped before sending (its messages are queued again) retries when they fall
    due. Past the retries, or when the broker itself is down, the sweeper re-drives them.
    """
    try:
        return send_batch_run(channel_id=channel_id)
    except SendInterrupted as exc:
        countdown = max(0.0, (exc.retry_at - timezone.now()).total_seconds())
        raise self.retry(exc=exc, countdown=countdown) from exc


@periodic_task(name="messaging.send_sweep", lock_timeout=120, backoff_min=10, backoff_max=60)
def send_sweep_task() -> dict:
    return send_sweep()


@periodic_task(name="messaging.send_unknown_settle", lock_timeout=600, backoff_min=900)
def send_unknown_settle() -> dict:
    """Unknown sends no webhook settled within SEND_UNKNOWN_SETTLE_HOURS become unconfirmed."""
    return {"unconfirmed": messages_unconfirmed_mark()}
