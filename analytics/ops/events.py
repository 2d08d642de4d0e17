"""The live event feed: selectors over tables the hot paths already write, merged by time.

Nothing extra is written anywhere for the feed. Sources and the indexes they use:

| kind | rows | index |
| --- | --- | --- |
| status | MessageStatusEvent (provider statuses, as stored) | primary key (append-only ids) |
| inbound | Message with status received, not a button reply | (status, created_at) |
| button | Message with status received and type button / interactive_reply | (status, created_at) |
| failed | outbound Message in status failed, at its failed_at | (status, created_at) |
| job | JobRun: queued, started and finished times | created_at (a small table) |

Polling passes a cursor: the time of the newest time-based event shown and the id of the newest
status event. Each poll returns at most `limit` events, oldest first, so a burst is shown over
several polls instead of being cut. A row committed later than a newer one with an earlier time
can be missed by a poll; the feed is for watching, the error log and history pages are complete.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from analytics.ops.jobs import _REGISTRY
from analytics.ops.models import JobRun, JobState
from messaging.models import Direction, Message, MessageStatusEvent, Status
from messaging.providers.error_codes import error_code_meaning

KINDS = ("status", "inbound", "button", "failed", "job")
KIND_LABELS = {
    "status": "Status change",
    "inbound": "Inbound",
    "button": "Button tap",
    "failed": "Send failed",
    "job": "Job",
}
BUTTON_TYPES = ("button", "interactive_reply")
INITIAL_WINDOW = timedelta(hours=24)
FAILED_LOOKBACK = timedelta(days=2)  # failures of messages created earlier are not shown


@dataclass(frozen=True)
class FeedEvent:
    kind: str
    at: datetime
    title: str
    detail: str = ""
    url: str = ""
    state: str = ""
    key: str = ""

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]


@dataclass(frozen=True)
class Cursor:
    at: datetime
    status_id: int = 0

    def encode(self) -> str:
        micros = int(self.at.timestamp() * 1_000_000)
        return f"{micros}-{self.status_id}"

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        try:
            micros, status_id = (text or "").split("-", 1)
            at = datetime.fromtimestamp(int(micros) / 1_000_000, tz=UTC)
            return cls(at=at, status_id=int(status_id))
        except (ValueError, OverflowError, OSError):
            return None


def kinds_clean(values: list[str]) -> tuple[str, ...]:
    chosen = tuple(k for k in KINDS if k in values)
    return chosen or KINDS


def _admin_url(name: str, pk: Any) -> str:
    try:
        return reverse(name, args=[pk])
    except NoReverseMatch:
        return ""


def _who(contact) -> str:
    if contact is None:
        return ""
    return contact.name or contact.profile_name or contact.phone or f"contact {contact.pk}"


# A provider status, said as what happened to the message and who it went to.
STATUS_PHRASES = {
    "sent": "Sent to {who}",
    "delivered": "Delivered to {who}",
    "read": "Read by {who}",
    "failed": "Could not reach {who}",
    "deleted": "Deleted by {who}",
}


def _status_title(status: str, message) -> str:
    if message is None:
        return f"{status.capitalize()}: a message not recorded yet"
    phrase = STATUS_PHRASES.get(status, status.capitalize() + " for {who}")
    return phrase.format(who=_who(message.contact) or "a contact")


def _what(message) -> str:
    """What the message was: its campaign, else its template, else its type."""
    if message.campaign_id:
        return f"campaign “{message.campaign.name}”"
    if message.template_id:
        return f"template {message.template.name}"
    return f"{message.get_type_display().lower()} message"


# --- Sources -----------------------------------------------------------------------------------


def _status_events(*, after_id: int | None, limit: int) -> list[FeedEvent]:

    rows = MessageStatusEvent.objects.select_related(
        "message__contact", "message__campaign", "message__template", "message__channel"
    )
    rows = (
        rows.filter(id__gt=after_id).order_by("id")
        if after_id is not None
        else rows.order_by("-id")
    )
    events = []
    for row in rows[:limit]:
        codes = [e.get("code") for e in row.errors or [] if isinstance(e, dict)]
        message = row.message
        parts = (
            [_what(message), message.channel.name]
            if message
            else ["reported before its send was recorded; applied once it is"]
        )
        parts += [f"{c} {error_code_meaning(c)}".strip() for c in codes]
        detail = " · ".join(p for p in parts if p)
        events.append(
            FeedEvent(
                kind="status",
                at=row.created_at,
                title=_status_title(row.status, message),
                detail=detail,
                state="down" if row.status == "failed" else "",
                url=_admin_url("admin:messaging_message_change", row.message_id)
                if row.message_id
                else "",
                key=f"s{row.pk}",
            )
        )
    return events


def _received(*, buttons: bool, after: datetime | None, since: datetime, limit: int):

    rows = Message.objects.filter(status=Status.RECEIVED).select_related("contact", "channel")
    rows = rows.filter(type__in=BUTTON_TYPES) if buttons else rows.exclude(type__in=BUTTON_TYPES)
    if after is not None:
        rows = rows.filter(created_at__gt=after).order_by("created_at", "id")
    else:
        rows = rows.filter(created_at__gte=since).order_by("-created_at", "-id")
    events = []
    for message in rows[:limit]:
        content = message.content or {}
        text = str(
            content.get("body")
            or content.get("text")
            or content.get("title")
            or content.get("payload")
            or ""
        )[:140]
        kind = "button" if buttons else "inbound"
        title = (
            f"Tapped “{text}”"
            if buttons and text
            else f"{message.get_type_display()} from {_who(message.contact)}"
        )
        detail = (_who(message.contact) if buttons else text) + f" · {message.channel.name}"
        events.append(
            FeedEvent(
                kind=kind,
                at=message.created_at,
                title=title,
                detail=detail,
                url=_admin_url("admin:messaging_message_change", message.pk),
                key=f"m{message.pk}",
            )
        )
    return events


def _failed(*, after: datetime | None, since: datetime, limit: int) -> list[FeedEvent]:

    bound = (after or since) - FAILED_LOOKBACK
    rows = Message.objects.filter(
        status=Status.FAILED,
        direction=Direction.OUTBOUND,
        created_at__gte=bound,
        failed_at__isnull=False,
    ).select_related("contact", "channel")
    if after is not None:
        rows = rows.filter(failed_at__gt=after).order_by("failed_at", "id")
    else:
        rows = rows.filter(failed_at__gte=since).order_by("-failed_at", "-id")
    events = []
    for message in rows[:limit]:
        meaning = error_code_meaning(message.error_code)
        events.append(
            FeedEvent(
                kind="failed",
                at=message.failed_at,
                title=f"Send failed{f' ({message.error_code})' if message.error_code else ''} "
                f"to {_who(message.contact)}",
                detail=" · ".join(
                    x for x in (message.error_title, meaning, message.channel.name) if x
                ),
                state="down",
                url=_admin_url("admin:messaging_message_change", message.pk),
                key=f"f{message.pk}",
            )
        )
    return events


def _jobs(*, after: datetime | None, since: datetime, limit: int) -> list[FeedEvent]:

    threshold = after or since
    rows = JobRun.objects.select_related("started_by").filter(
        Q(created_at__gt=threshold) | Q(started_at__gt=threshold) | Q(finished_at__gt=threshold)
    )
    rows = rows.order_by("created_at") if after is not None else rows.order_by("-created_at")
    events = []
    for run in rows[:limit]:
        title = _REGISTRY[run.name].title if run.name in _REGISTRY else run.name
        url = reverse("ops:job_detail", args=[run.pk])
        who = str(run.started_by or run.get_trigger_display().lower())
        moments = [(run.created_at, "queued", "")]
        if run.started_at:
            moments.append((run.started_at, "running", ""))
        if run.finished_at and run.state not in (JobState.QUEUED, JobState.RUNNING):
            state_css = {"succeeded": "ok", "failed": "down"}.get(run.state, "warn")
            moments.append((run.finished_at, run.state, state_css))
        for at, state, css in moments:
            if at > threshold:
                events.append(
                    FeedEvent(
                        kind="job",
                        at=at,
                        title=f"{title} #{run.pk} {state}",
                        detail=run.error[:200] if state == "failed" and run.error else f"by {who}",
                        url=url,
                        state=css,
                        key=f"j{run.pk}-{state}",
                    )
                )
    return events


# --- The feed ----------------------------------------------------------------------------------


def events_initial(*, kinds: tuple[str, ...] = KINDS, limit: int = 50) -> tuple[list, Cursor]:
    """The newest `limit` events of the last day (newest first) and the cursor to poll from."""
    now = timezone.now()
    since = now - INITIAL_WINDOW
    events: list[FeedEvent] = []
    status_id = 0
    if "status" in kinds:
        statuses = _status_events(after_id=None, limit=limit)
        events += [e for e in statuses if e.at >= since]
        status_id = max((int(e.key[1:]) for e in statuses), default=0)
    if "inbound" in kinds:
        events += _received(buttons=False, after=None, since=since, limit=limit)
    if "button" in kinds:
        events += _received(buttons=True, after=None, since=since, limit=limit)
    if "failed" in kinds:
        events += _failed(after=None, since=since, limit=limit)
    if "job" in kinds:
        events += _jobs(after=None, since=since, limit=limit)
    events.sort(key=lambda e: e.at, reverse=True)
    return events[:limit], Cursor(at=now, status_id=status_id)


def events_after(
    *, cursor: Cursor, kinds: tuple[str, ...] = KINDS, limit: int = 100
) -> tuple[list, Cursor]:
    """Events after `cursor` (newest first, at most `limit`) and the next cursor."""
    since = cursor.at
    time_based: list[FeedEvent] = []
    statuses: list[FeedEvent] = []
    if "status" in kinds:
        statuses = _status_events(after_id=cursor.status_id, limit=limit)
    if "inbound" in kinds:
        time_based += _received(buttons=False, after=cursor.at, since=since, limit=limit)
    if "button" in kinds:
        time_based += _received(buttons=True, after=cursor.at, since=since, limit=limit)
    if "failed" in kinds:
        time_based += _failed(after=cursor.at, since=since, limit=limit)
    if "job" in kinds:
        time_based += _jobs(after=cursor.at, since=since, limit=limit)
    # Oldest first, then cut: each source returned its oldest events after the cursor, so the
    # first `limit` of the merge are exactly the next ones; the rest come with the next poll.
    merged = sorted([*statuses, *time_based], key=lambda e: e.at)[:limit]
    shown_times = [e.at for e in merged if e.kind != "status"]
    shown_status = [int(e.key[1:]) for e in merged if e.kind == "status"]
    next_cursor = Cursor(
        at=max(shown_times, default=cursor.at),
        status_id=max(shown_status, default=cursor.status_id),
    )
    return list(reversed(merged)), next_cursor
