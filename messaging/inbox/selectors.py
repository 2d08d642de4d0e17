"""Reads for the inbox and its metrics: joins, filters and day boundaries decided here."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import (
    Avg,
    Count,
    DateTimeField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from crm.models import Contact
from crm.selectors import WINDOW, contact_search
from messaging.automation.models import AutomatedAnswer
from messaging.sending.models import (
    Conversation,
    ConversationEvent,
    ConversationEventKind,
    Direction,
    Message,
    MessageType,
    Status,
)

ASSIGNED_FILTERS = ("mine", "unassigned")
STATE_FILTERS = ("open", "closed")
# Message content keys that hold text worth searching.
TEXT_KEYS = ("body", "caption", "text", "title")
THREAD_LIMIT = 100
THREAD_MAX_LIMIT = 1000


def inbox_conversations(
    *,
    user=None,
    assigned: str = "",
    state: str = "",
    window_open: bool = False,
    search: str = "",
) -> QuerySet[Conversation]:
    """Conversations for the inbox and the API: pinned contacts first, then by last activity.

    `assigned` is "mine" (needs `user`) or "unassigned"; `state` is "open" or "closed";
    `search` matches the contact's name, profile name or phone, or the text of any message.
    Each row carries `last_message_id` (load them with `inbox_last_messages`).
    """
    queryset = Conversation.objects.select_related("contact", "channel", "assignee", "team")
    if assigned == "mine" and user is not None:
        queryset = queryset.filter(assignee=user)
    elif assigned == "unassigned":
        queryset = queryset.filter(assignee__isnull=True)
    if state == "open":
        queryset = queryset.filter(is_open=True)
    elif state == "closed":
        queryset = queryset.filter(is_open=False)
    if window_open:
        queryset = queryset.filter(last_inbound_at__gt=timezone.now() - WINDOW)
    term = (search or "").strip()
    if term:
        q = (
            Q(contact__name__icontains=term)
            | Q(contact__profile_name__icontains=term)
            | Q(contact__phone__contains=term)
        )
        digits = "".join(ch for ch in term if ch.isdigit())
        if digits and digits != term:
            q |= Q(contact__phone__contains=digits)
        text_q = Q()
        for key in TEXT_KEYS:
            text_q |= Q(**{f"content__{key}__icontains": term})
        matching = Message.objects.filter(
            text_q, contact_id=OuterRef("contact_id"), channel_id=OuterRef("channel_id")
        )
        queryset = queryset.filter(q | Q(Exists(matching)))
    latest = (
        Message.objects.filter(contact_id=OuterRef("contact_id"), channel_id=OuterRef("channel_id"))
        .exclude(type=MessageType.REACTION)
        .order_by("-created_at", "-pk")
        .values("pk")[:1]
    )
    return queryset.annotate(last_message_id=Subquery(latest)).order_by(
        "-contact__pinned", "-last_activity_at", "-pk"
    )


def inbox_contacts_without_conversation(search: str, *, limit: int = 10) -> list[Contact]:
    """Contacts whose name, profile name or phone matches `search` and who have no
    conversation yet (never wrote, never written to from the inbox): the inbox search shows
    them so that an agent can start one."""
    term = (search or "").strip()
    if not term:
        return []
    talked = Conversation.objects.filter(contact_id=OuterRef("pk"))
    return list(
        contact_search(search=term)
        .exclude(Exists(talked))
        .prefetch_related(None)
        .select_related(None)[:limit]
    )


def inbox_last_messages(conversations) -> dict[int, Message]:
    """The last message of each conversation (one query)."""
    ids = [c.last_message_id for c in conversations if getattr(c, "last_message_id", None)]
    return Message.objects.in_bulk(ids)


def inbox_counts(*, user) -> dict[str, int]:
    """Counters for the filter tabs, in one query."""
    return Conversation.objects.aggregate(
        all=Count("pk"),
        mine=Count("pk", filter=Q(assignee=user, is_open=True)),
        unassigned=Count("pk", filter=Q(assignee__isnull=True, is_open=True)),
        open=Count("pk", filter=Q(is_open=True)),
        closed=Count("pk", filter=Q(is_open=False)),
        window=Count("pk", filter=Q(last_inbound_at__gt=timezone.now() - WINDOW)),
        unread=Count("pk", filter=Q(contact__unread_count__gt=0, is_open=True)),
    )


def inbox_conversation(pk: int) -> Conversation:
    """One conversation with what its page needs (raises DoesNotExist)."""
    return (
        Conversation.objects.select_related("contact", "channel", "assignee", "closed_by", "team")
        .prefetch_related("contact__tags")
        .get(pk=pk)
    )


def thread_messages(conversation: Conversation, *, limit: int = THREAD_LIMIT) -> list[Message]:
    """The latest `limit` messages with the contact on this number, oldest first.

    Reactions are not listed: each shows on the message it reacts to (`Message.reaction`).
    """
    limit = max(1, min(int(limit or THREAD_LIMIT), THREAD_MAX_LIMIT))
    same_thread = Q(contact_id=conversation.contact_id, channel_id=conversation.channel_id)
    rows = list(
        Message.objects.filter(same_thread)
        .exclude(type=MessageType.REACTION)
        .select_related(
            "template", "sent_by", "automated_answer", "automated_answer__rated_by", "survey"
        )
        .order_by("-created_at", "-pk")[:limit]
    )
    rows.reverse()
    return rows


@dataclass(frozen=True)
class ThreadItem:
    kind: str  # "message" or "event"
    at: datetime
    message: Message | None = None
    event: ConversationEvent | None = None


def thread_items(conversation: Conversation, *, limit: int = THREAD_LIMIT) -> list[ThreadItem]:
    """Messages and the conversation's events (opened by staff, assigned, closed) and
    internal notes, oldest first."""
    messages = thread_messages(conversation, limit=limit)
    events = ConversationEvent.objects.filter(conversation=conversation).exclude(
        kind=ConversationEventKind.FIRST_RESPONSE
    )
    if messages and len(messages) >= limit:
        events = events.filter(at__gte=messages[0].created_at)
    items = [ThreadItem("message", m.created_at, message=m) for m in messages]
    for event in events.select_related("actor", "assignee"):
        if event.kind == ConversationEventKind.OPENED and event.actor_id is None:
            continue  # opened by the contact's message, which is shown anyway
        items.append(ThreadItem("event", event.at, event=event))
    items.sort(key=lambda item: (item.at, 0 if item.kind == "message" else 1))
    return items


# --- Metrics ----------------------------------------------------------------------------------


def _day_bounds(day: date, tz: str | None) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tz or getattr(settings, "ANALYTICS_TIME_ZONE", "") or settings.TIME_ZONE)
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start, start + timedelta(days=1)


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def inbox_metrics(*, day: date, tz: str | None = None) -> dict:
    """A day's inbox figures (days cut in `tz`, default ANALYTICS_TIME_ZONE), recomputable:

    * `first_response`: median seconds to the first reply of conversation cycles whose first
      response came that day, overall, human and automated, with their counts;
    * `conversations_opened` (new and reopened cycles) and `conversations_closed`;
    * `answered_automatically_share`: automated first responses / all first responses;
    * `automated_answers`, `rated_answers`, `average_rating` (1 to 5) of the automated answers
      sent that day, and `topics`: [{"topic", "count"}] of those answers, most frequent first.
    """
    start, end = _day_bounds(day, tz)
    responses = list(
        ConversationEvent.objects.filter(
            kind=ConversationEventKind.FIRST_RESPONSE, at__gte=start, at__lt=end
        ).values_list("seconds", "automated")
    )
    human = [s for s, automated in responses if not automated and s is not None]
    automated = [s for s, automated in responses if automated and s is not None]

    opened = set(
        ConversationEvent.objects.filter(
            kind=ConversationEventKind.OPENED, at__gte=start, at__lt=end
        ).values_list("conversation_id", "at")
    )
    # A cycle whose opening event was not recorded still counts once, from the conversation.
    opened |= set(
        Conversation.objects.filter(opened_at__gte=start, opened_at__lt=end).values_list(
            "pk", "opened_at"
        )
    )
    closed = ConversationEvent.objects.filter(
        kind=ConversationEventKind.CLOSED, at__gte=start, at__lt=end
    ).count()

    answers = AutomatedAnswer.objects.filter(created_at__gte=start, created_at__lt=end)
    ratings = answers.aggregate(total=Count("pk"), rated=Count("rating"), average=Avg("rating"))
    topics = [
        {"topic": row["topic"] or "(none)", "count": row["count"]}
        for row in answers.values("topic").annotate(count=Count("pk")).order_by("-count", "topic")
    ]
    total_responses = len(responses)
    return {
        "day": day.isoformat(),
        "first_response": {
            "median_seconds": _median(human + automated),
            "human_median_seconds": _median(human),
            "automated_median_seconds": _median(automated),
            "human_count": len(human),
            "automated_count": len(automated),
        },
        "conversations_opened": len(opened),
        "conversations_closed": closed,
        "answered_automatically_share": (
            round(len(automated) / total_responses, 3) if total_responses else None
        ),
        "automated_answers": ratings["total"],
        "rated_answers": ratings["rated"],
        "average_rating": round(ratings["average"], 2) if ratings["average"] is not None else None,
        "topics": topics,
    }


# --- Who is waiting (the agent's home) ----------------------------------------------------------

# Before any message: "no reply yet" compares every inbound message as later than this.
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)
_AT = DateTimeField()


def conversations_waiting(*, assignee=None, unassigned: bool = False) -> QuerySet[Conversation]:
    """Open conversations (assigned to `assignee`, or nobody's with `unassigned`) with
    `waiting_since`: when the customer's unanswered messages began, i.e. their first message
    after our last reply (None when we answered their last one). Oldest wait first, answered
    conversations after them by last activity.

    A reply is any outbound message to the contact on that number that did not fail, a
    person's or an automated answer alike; a campaign send answers nobody's question. Two
    correlated reads per row, each answered by the (contact, created_at) index; slice it.
    """
    messages = Message.objects.filter(
        contact_id=OuterRef("contact_id"), channel_id=OuterRef("channel_id")
    )
    last_reply = (
        messages.filter(direction=Direction.OUTBOUND, campaign__isnull=True)
        .exclude(status=Status.FAILED)
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    first_unanswered = (
        messages.filter(direction=Direction.INBOUND, created_at__gt=OuterRef("last_reply_at"))
        .exclude(type__in=[MessageType.REACTION, MessageType.SYSTEM])
        .order_by("created_at")
        .values("created_at")[:1]
    )
    queryset = Conversation.objects.filter(is_open=True).select_related("contact", "channel")
    if unassigned:
        queryset = queryset.filter(assignee__isnull=True)
    else:
        queryset = queryset.filter(assignee=assignee)
    return (
        queryset.annotate(
            last_reply_at=Coalesce(
                Subquery(last_reply), Value(_NEVER), output_field=DateTimeField()
            )
        )
        .annotate(waiting_since=Subquery(first_unanswered))
        .order_by(F("waiting_since").asc(nulls_last=True), "-last_activity_at", "pk")
    )


def inbox_home_counts(*, user) -> dict[str, int]:
    """Open conversations assigned to `user` and open ones nobody holds, in one query."""
    return Conversation.objects.filter(is_open=True).aggregate(
        mine=Count("pk", filter=Q(assignee=user)),
        unassigned=Count("pk", filter=Q(assignee__isnull=True)),
    )
