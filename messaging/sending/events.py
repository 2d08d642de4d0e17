"""`message.status` event webhooks: the one place that turns status changes into events.

The send path (acceptance, failures) and status webhooks (sent, delivered, read, failed) call
`message_statuses_emit` inside the transaction that moved the messages, with each message's
status before the change. It reads the rows as they are now (a guarded update may have left
one alone, a failure may have been queued again) and emits, per message and in order, every
status it passed through: a message that went from accepted to read in one webhook batch
gives `sent`, `delivered`, `read`, each with its own time. The ordering key is the message's
uuid, so a subscription receives them in that order.

Rooms above sending that follow a message (notifications) register a follower, called with
the emitted statuses in the same transaction, to emit their own events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from messaging.hooks_out.models import HookEvent
from messaging.hooks_out.services import events_emit, events_wanted
from messaging.sending.models import Message, Status

# The statuses integrators hear about, in the order a message passes through them.
EMITTED = (Status.ACCEPTED, Status.SENT, Status.DELIVERED, Status.READ)
_AT = {
    Status.ACCEPTED: "accepted_at",
    Status.SENT: "sent_at",
    Status.DELIVERED: "delivered_at",
    Status.READ: "read_at",
    Status.FAILED: "failed_at",
}
_FIELDS = (
    "pk", "uuid", "wamid", "status", "contact_id", "contact__phone", "campaign_id",
    "channel__phone_number_id", "accepted_at", "sent_at", "delivered_at", "read_at",
    "failed_at", "error_code", "error_title", "refusal",
)  # fmt: skip


@dataclass(frozen=True)
class StatusEmitted:
    message_id: int
    message_uuid: str
    status: str
    at: datetime | None
    error: dict[str, Any] | None


# (the event type a follower emits, the follower)
_followers: list[tuple[str, Callable[[list[StatusEmitted]], object]]] = []


def status_followers_register(
    event_type: str, follower: Callable[[list[StatusEmitted]], object]
) -> None:
    """`follower(statuses)` runs when someone subscribes to `event_type`."""
    if (event_type, follower) not in _followers:
        _followers.append((event_type, follower))


def _steps(row: dict[str, Any], previous: int) -> list[int]:
    current = row["status"]
    if current == Status.FAILED:
        return [Status.FAILED] if previous != Status.FAILED else []
    if current not in EMITTED:
        return []
    steps = []
    for rank in EMITTED:
        if previous < rank <= current and (rank == current or row[_AT[rank]] is not None):
            steps.append(rank)
    return steps


def message_statuses_emit(previous: dict[int, int], *, only: int | None = None) -> int:
    """Emit `message.status` for messages (pk -> status before the change) that moved;
    with `only`, for those whose status is now `only`. Call inside the transaction that moved
    them; costs one small query when nobody subscribes."""
    if not previous:
        return 0
    wanted = events_wanted()
    followers = [follower for event_type, follower in _followers if event_type in wanted]
    if HookEvent.MESSAGE_STATUS not in wanted and not followers:
        return 0
    rows = Message.objects.filter(pk__in=list(previous)).order_by("pk").values(*_FIELDS)
    items: list[tuple[dict[str, Any], str]] = []
    emitted: list[StatusEmitted] = []
    for row in rows:
        if only is not None and row["status"] != only:
            continue
        for rank in _steps(row, previous[row["pk"]]):
            name = Status(rank).name.lower()
            at = row[_AT[rank]]
            error = None
            if rank == Status.FAILED:
                error = {
                    "code": row["error_code"],
                    "title": row["error_title"],
                    "refusal": row["refusal"] or None,
                }
            uuid = str(row["uuid"])
            data = {
                "message": {
                    "id": uuid,
                    "wamid": row["wamid"],
                    "status": name,
                    "timestamp": at.isoformat() if at else None,
                    "contact_id": row["contact_id"],
                    "phone": row["contact__phone"],
                    "channel": row["channel__phone_number_id"],
                    "campaign_id": row["campaign_id"],
                    "error": error,
                }
            }
            items.append((data, uuid))
            emitted.append(StatusEmitted(row["pk"], uuid, name, at, error))
    count = 0
    if items and HookEvent.MESSAGE_STATUS in wanted:
        count = events_emit(event_type=HookEvent.MESSAGE_STATUS, items=items)
    if emitted:
        for follower in followers:
            follower(emitted)
    return count
