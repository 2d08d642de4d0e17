"""Writes on channels: pause a number that may not send, resume it."""

from __future__ import annotations

import logging

from django.db import transaction

from core.queueing import task
from messaging.channels.models import Channel

logger = logging.getLogger(__name__)


def channel_pause(*, channel: Channel, reason: str) -> None:
    """Stop sending on a channel (bad credentials, locked account) until staff resume it."""
    Channel.objects.filter(pk=channel.pk).update(paused_reason=reason[:300])
    channel.paused_reason = reason[:300]
    logger.error("channel %s paused: %s", channel.pk, reason)


def channel_resume(*, channel: Channel) -> None:
    """Clear the pause and ask a worker to drain what waited (after the change commits)."""
    Channel.objects.filter(pk=channel.pk).update(paused_reason="")
    channel.paused_reason = ""
    channel_id = channel.pk
    transaction.on_commit(lambda: task("messaging.send_batch").apply_async(args=[channel_id]))
