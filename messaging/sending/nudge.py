"""Ask workers to drain a channel's queue: one `messaging.send_batch` per burst of sends.

Everything that queues messages (a send, a retry, a campaign launch, a resume) nudges after
commit through here; the dispatcher clears the flag when it starts draining, so a send that
commits meanwhile still gets a worker.
"""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction

from core.queueing import task


def _pending_key(channel_id: int) -> str:
    return f"send-batch-pending:{channel_id}"


def send_enqueue(*, channel_id: int, countdown: float | None = None, fanout: int = 1) -> None:
    """Ask workers to drain the channel's queue. Collapses bursts of nudges into one task.

    `fanout` > 1 starts several drainers at once (a large campaign), which share the rate.
    """
    if fanout <= 1 and not cache.add(_pending_key(channel_id), 1, timeout=5):
        return
    for _ in range(max(1, fanout)):
        task("messaging.send_batch").apply_async(args=[channel_id], countdown=countdown)


def send_enqueue_on_commit(*, channel_id: int, fanout: int = 1) -> None:
    transaction.on_commit(lambda: send_enqueue(channel_id=channel_id, fanout=fanout))


def send_nudge_clear(*, channel_id: int) -> None:
    """A drainer is starting: the next send must nudge again."""
    cache.delete(_pending_key(channel_id))
