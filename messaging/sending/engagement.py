"""Replies and clicks credited to the outbound messages they answer.

An outbound message is *replied* when its contact wrote to us (anything but a reaction or a
system notice) within ATTRIBUTION_WINDOW_DAYS after it was sent, and *clicked* when a person
tapped one of its buttons or clicked one of its tracked links in that window. `replied_at` and
`clicked_at` hold the first such moment; every reply and click figure (campaign funnels,
template analytics) counts them, so a figure is a count over indexed columns of the messages it
describes rather than a search for events after each send.

They are set as the reply or click is taken in (`replies_mark` from the inbound path, which
also marks the inbound message `reply_credited`; `click_mark` from the button and link
recorders), and made good by the analytics rollup for each day it recomputes
(`replies_reconcile`, `analytics.services.engagement`) for anything stored another way (rows
loaded in bulk or written by hand). A reply taken before its message's first status said when
it was sent counts from when the provider accepted the message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import DateTimeField, Exists, ExpressionWrapper, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from messaging.sending.models import Direction, Message, MessageType

# When a message was sent: its sent status, else the first later status that proves it.
SENT_TIME = Coalesce("sent_at", "delivered_at", "read_at")
# The same, at the moment a reply or click is taken in: a message the provider accepted whose
# first status has not come yet was sent by then.
SENT_BY_NOW = Coalesce("sent_at", "delivered_at", "read_at", "accepted_at")
# What a contact writes that is not an answer.
NOT_A_REPLY = (MessageType.REACTION, MessageType.SYSTEM)


def attribution_window() -> timedelta:
    """How long after a send a reply, click or conversion still counts for it."""
    return timedelta(days=settings.ATTRIBUTION_WINDOW_DAYS)


def _first_or_unset(column: str, at: datetime) -> Q:
    return Q(**{f"{column}__isnull": True}) | Q(**{f"{column}__gt": at})


def _sent_before(at: datetime) -> Q:
    """Messages sent in the attribution window that ends at `at`."""
    return Q(sent_time__gt=at - attribution_window(), sent_time__lte=at)


def replies_mark(*, contact_id: int, at: datetime) -> int:
    """The contact wrote at `at`: their outbound messages sent in the window before it are
    replied (at the earliest reply). Read through the contact's message index."""
    return (
        Message.objects.filter(direction=Direction.OUTBOUND, contact_id=contact_id)
        .filter(created_at__lte=at)
        .filter(_first_or_unset("replied_at", at))
        .alias(sent_time=SENT_BY_NOW)
        .filter(_sent_before(at))
        .update(replied_at=at)
    )


def click_mark(*, message_id: int | None, at: datetime) -> int:
    """A person tapped a button of, or clicked a tracked link in, message `message_id` at
    `at`: it is clicked, if that is within the window after it was sent."""
    if message_id is None:
        return 0
    return (
        Message.objects.filter(pk=message_id, direction=Direction.OUTBOUND)
        .filter(_first_or_unset("clicked_at", at))
        .alias(sent_time=SENT_BY_NOW)
        .filter(_sent_before(at))
        .update(clicked_at=at)
    )


def _outer_window(column: str) -> dict:
    """`column` within the attribution window of the outer (outbound) message."""
    sent = Coalesce(OuterRef("sent_at"), OuterRef("delivered_at"), OuterRef("read_at"))
    return {
        f"{column}__gte": sent,
        f"{column}__lt": ExpressionWrapper(
            sent + Value(attribution_window()), output_field=DateTimeField()
        ),
    }


def engagement_reconcile(*, column: str, events, candidates) -> int:
    """Set `column` ("replied_at" or "clicked_at") on the `candidates` (outbound messages)
    still without it to their first event in the window: `events` is a queryset of the
    events correlated to the outer message (OuterRef), with their time in `at`."""
    first = events.filter(**_outer_window("at")).order_by("at").values("at")[:1]
    return (
        candidates.filter(direction=Direction.OUTBOUND, **{f"{column}__isnull": True})
        .filter(Exists(first))
        .update(**{column: Subquery(first)})
    )


def replies_reconcile(start: datetime, end: datetime) -> int:
    """Credit the replies received in [start, end) that were stored without being credited
    (`reply_credited` false: a bulk load, rows written by hand): the messages sent to their
    contacts in the window before each. Returns how many messages it marked."""
    uncredited = (
        Message.objects.filter(direction=Direction.INBOUND, reply_credited=False)
        .filter(received_at__gte=start, received_at__lt=end)
        .exclude(type__in=NOT_A_REPLY)
    )
    # Outbound messages are created before they are sent; one queued more than a window
    # before its send is not looked at here (the inbound path has no such bound).
    window = attribution_window()
    candidates = Message.objects.filter(
        contact_id__in=uncredited.values("contact_id"),
        created_at__gte=start - 2 * window,
        created_at__lt=end,
    )
    replies = (
        Message.objects.filter(direction=Direction.INBOUND, contact_id=OuterRef("contact_id"))
        .exclude(type__in=NOT_A_REPLY)
        .annotate(at=Coalesce("received_at", "created_at"))
    )
    marked = engagement_reconcile(column="replied_at", events=replies, candidates=candidates)
    Message.objects.filter(
        direction=Direction.INBOUND, reply_credited=False, received_at__gte=start,
        received_at__lt=end,
    ).update(reply_credited=True)  # fmt: skip
    return marked
