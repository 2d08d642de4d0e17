"""Retry failed outbound messages, chosen by a filter (the "retry failed messages" job).

The same rows go back to `queued` (attempts reset, old wamid dropped, due now) rather than new
rows being created: a message keeps one identity, its campaign/notification links and its
status history, and the one-message-per-(campaign, contact) rule still holds. The send policy
is asked again just before each is sent (a message it refused is retried like any other: the
contact may have written since, or opted in).

Codes that say the recipient cannot or does not want to receive (131026 undeliverable, 131050
stopped marketing) are never retried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from django.db.models import Q

from core.errors import DomainError
from messaging.models import Channel, Direction, Message, Status
from messaging.providers.error_codes import RECIPIENT_REFUSES_CODES
from messaging.sending.retry import messages_failed_retry

logger = logging.getLogger(__name__)

NEVER_RETRY_CODES = RECIPIENT_REFUSES_CODES
BATCH = 1000


def channel_resolve(value: str | int | None) -> Channel | None:
    """A channel by id, phone_number_id or exact name; None for empty; DomainError if unknown."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    lookup = Q(phone_number_id=text) | Q(name=text)
    if text.isdigit():
        lookup |= Q(pk=int(text))
    channel = Channel.objects.filter(lookup).first()
    if channel is None:
        raise DomainError(f"There is no channel {text!r}.", code="unknown_channel")
    return channel


def failed_messages_select(
    *, code: int | None = None, channel: Channel | None = None, since: datetime | None = None
):
    """Failed outbound messages matching the filter that may be retried."""
    messages = Message.objects.filter(status=Status.FAILED, direction=Direction.OUTBOUND).exclude(
        error_code__in=NEVER_RETRY_CODES
    )
    if code is not None:
        messages = messages.filter(error_code=code)
    if channel is not None:
        messages = messages.filter(channel=channel)
    if since is not None:
        # created_at bounds the scan with an index; failed_at says when the failure was.
        messages = messages.filter(created_at__gte=since)
    return messages


def failed_messages_retry(
    *,
    code: int | None = None,
    channel: Channel | None = None,
    since: datetime | None = None,
    limit: int | None = None,
    report: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Queue matching failed messages again; returns counts. `report(done, total)` is called
    after each batch (the job uses it for progress)."""
    skipped = 0
    if code in NEVER_RETRY_CODES:
        skipped = Message.objects.filter(
            status=Status.FAILED, direction=Direction.OUTBOUND, error_code=code
        ).count()
    ids = list(
        failed_messages_select(code=code, channel=channel, since=since)
        .order_by("id")
        .values_list("id", flat=True)[: limit or None]
    )
    total = len(ids)
    requeued = 0
    for start in range(0, total, BATCH):
        requeued += messages_failed_retry(message_ids=ids[start : start + BATCH])
        if report is not None:
            report(min(start + BATCH, total), total)
    logger.info("re-queued %s failed messages (code=%s channel=%s)", requeued, code, channel)
    return {"matched": total, "requeued": requeued, "skipped_never_retry": skipped}
