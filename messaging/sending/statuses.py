"""Provider statuses (sent, delivered, read, failed) applied to outbound messages, in bulk.

Every status is first kept as a `MessageStatusEvent` row (unique on wamid + status, so a
redelivered status is ignored), then matched to its message by wamid, or by our UUID echoed
back as `biz_opaque_callback_data` for a message whose send outcome was ambiguous. Statuses
move a message forward only, whatever order they arrive in: `sent < delivered < read`, and
`failed` applies only to a message that was not delivered yet. Each timestamp column is
filled from its own status's payload time, once.

A status whose message is not known yet (the webhook beat the send's response) stays parked
(`applied=False`) until `statuses_apply_parked` runs for its wamid: the send pipeline calls it
right after recording wamids, and the sweeper for whatever is left.

Failures count as the send path's own: once the batch commits, the groups (campaigns) of
messages that failed for good are reported through `hooks.failures_seen`, as dispatch does
for a refused request, so the same auto-pause thresholds see what WhatsApp reports late.

The work is grouped by target status, so a batch of thousands of statuses costs a handful of
queries, not a few per status.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from core.bulk import insert_ignoring_conflicts, update_from_values
from core.metrics import messages_count, provider_errors_count
from crm.models import Contact
from messaging.providers import StatusUpdate
from messaging.providers.error_codes import error_code_info, error_code_label
from messaging.sending import hooks
from messaging.sending.costs import CostInput, messages_price
from messaging.sending.events import message_statuses_emit
from messaging.sending.failures import WINDOW_CLOSED, WINDOW_CLOSED_TITLE, failure_side_effects
from messaging.sending.models import PROVIDER_STATUSES, Message, MessageStatusEvent, Status
from messaging.sending.retry import messages_requeue
from messaging.signals import message_status_changed

logger = logging.getLogger(__name__)

# The column each status fills, and the provider status names that map to it.
TIMESTAMP_FIELDS = {
    Status.SENT: "sent_at",
    Status.DELIVERED: "delivered_at",
    Status.READ: "read_at",
    Status.FAILED: "failed_at",
}
STATUS_NAMES: dict[int, list[str]] = defaultdict(list)
for _name, _rank in PROVIDER_STATUSES.items():
    STATUS_NAMES[_rank].append(_name)
FORWARD_RANKS = (Status.SENT, Status.DELIVERED, Status.READ)
METRIC_STATUS = {Status.SENT: "sent", Status.DELIVERED: "delivered", Status.READ: "read"}
# Not a delivery state (the On-Premises API's, still seen): the message was deleted. It is
# recorded on the message (`deleted_at`) and leaves its status alone.
DELETED = "deleted"

# Parked statuses older than this are left to the purge: their message was never ours.
PARKED_RETRY_WINDOW = timedelta(hours=1)
CHUNK = 1000
MAX_WAMID = MessageStatusEvent._meta.get_field("wamid").max_length
_MESSAGE_FIELDS = (
    "pk",
    "uuid",
    "wamid",
    "status",
    "contact_id",
    "campaign_id",
    "channel_id",
    "sent_at",
    "delivered_at",
    "read_at",
    "pricing",
    "pricing_category",
    "billable",
    "cost",
    "conversation_info",
    "deleted_at",
)
_EVENT_FIELDS = (
    "wamid",
    "status",
    "timestamp",
    "callback_data",
    "errors",
    "raw",
    "applied",
    "message",
    "created_at",
)
_SIGNAL_FIELDS = (
    "uuid",
    "channel_id",
    "contact_id",
    "campaign_id",
    "conversation_id",
    "direction",
    "type",
    "status",
    "wamid",
    "is_marketing",
    "is_automated",
    "created_at",
    "sent_at",
    "delivered_at",
    "read_at",
    "failed_at",
    "error_code",
)
_ROW_FIELDS = ("pk", "wamid", "status", "timestamp", "callback_data", "errors", "raw")


@dataclasses.dataclass
class StatusesResult:
    received: int = 0
    applied: int = 0
    parked: int = 0
    changed: dict[int, tuple[int, int]] = dataclasses.field(default_factory=dict)
    rejected: list[str] = dataclasses.field(default_factory=list)


def _chunks(items: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def status_problem(update: StatusUpdate) -> str | None:
    """Why a status cannot be recorded at all, or None."""
    if not update.wamid or len(update.wamid) > MAX_WAMID or not update.status:
        return f"status without a usable id/status: {update.raw!r:.200}"
    return None


def statuses_apply(*, updates: list[StatusUpdate]) -> StatusesResult:
    """Record and apply a batch of provider statuses. Idempotent; order does not matter.

    Concurrent batches (several webhook workers) take their locks in one order: status rows
    are inserted sorted by (wamid, status) and messages locked sorted by wamid, so two
    batches that share messages wait for each other instead of deadlocking.
    """
    result = StatusesResult(received=len(updates))
    now = timezone.now()
    rows: list[dict[str, Any]] = []
    extras: dict[tuple[str, str], StatusUpdate] = {}
    for update in sorted(updates, key=lambda u: (u.wamid or "", u.status or "")):
        problem = status_problem(update)
        if problem:
            result.rejected.append(problem)
            continue
        status = update.status[:20]
        rows.append(
            {
                "wamid": update.wamid,
                "status": status,
                "timestamp": update.timestamp or now,
                "callback_data": (update.callback_data or "")[:512],
                "errors": update.errors if update.errors is not None else [],
                "raw": update.raw if isinstance(update.raw, dict) else {"value": update.raw},
                "applied": False,
                "message": None,
                "created_at": now,
            }
        )
        extras[(update.wamid, status)] = update
    if not rows:
        return result
    with transaction.atomic():
        insert_ignoring_conflicts(MessageStatusEvent, rows, fields=_EVENT_FIELDS)
        _apply(_unapplied({row["wamid"] for row in rows}), result, extras)
    return result


def statuses_apply_parked(*, wamids: list[str]) -> int:
    """Apply statuses that arrived before their message's wamid was recorded.

    Call right after recording wamids (cheap when nothing is parked). Returns how many
    parked statuses were applied.
    """
    if not wamids:
        return 0
    # Usually nothing is parked at all: one probe of the partial index says so, instead of
    # looking up every wamid of the batch.
    if not MessageStatusEvent.objects.filter(applied=False).exists():
        return 0
    result = StatusesResult()
    with transaction.atomic():
        _apply(_unapplied(set(wamids)), result, {})
    return result.applied


def statuses_apply_parked_older(*, older_than_seconds: float, limit: int = 2000) -> int:
    """The sweeper's part: retry parked statuses that have waited at least a few seconds
    (a send that recorded its wamid without calling `statuses_apply_parked`, or a race
    between the two)."""
    now = timezone.now()
    wamids = list(
        MessageStatusEvent.objects.filter(
            applied=False,
            created_at__lt=now - timedelta(seconds=older_than_seconds),
            created_at__gte=now - PARKED_RETRY_WINDOW,
        )
        .order_by()
        .values_list("wamid", flat=True)
        .distinct()[:limit]
    )
    return statuses_apply_parked(wamids=wamids) if wamids else 0


def _unapplied(wamids: set[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for chunk in _chunks(sorted(wamids)):
        rows.extend(
            MessageStatusEvent.objects.filter(wamid__in=chunk, applied=False)
            .order_by()
            .values(*_ROW_FIELDS)
        )
    return rows


def _lock_messages(order: str, **lookup: Any) -> list[dict[str, Any]]:
    return list(
        Message.objects.select_for_update()
        .filter(**lookup)
        .order_by(order)
        .values(*_MESSAGE_FIELDS)
    )


def _match(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Messages by wamid, locked; settles ambiguous sends through the callback data."""
    messages: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(sorted({row["wamid"] for row in rows})):
        for message in _lock_messages("wamid", wamid__in=chunk):
            messages[message["wamid"]] = message
    wamid_for_uuid: dict[uuid.UUID, str] = {}
    for row in rows:
        if row["wamid"] in messages or not row["callback_data"]:
            continue
        try:
            key = uuid.UUID(row["callback_data"])
        except ValueError:
            continue
        wamid_for_uuid.setdefault(key, row["wamid"])
    if wamid_for_uuid:
        candidates = _lock_messages(
            "pk",
            uuid__in=list(wamid_for_uuid),
            status__in=[Status.SENDING, Status.UNKNOWN],
            wamid__isnull=True,
        )
        for message in candidates:
            wamid = wamid_for_uuid[message["uuid"]]
            if wamid in messages:
                continue
            if Message.objects.filter(pk=message["pk"], wamid__isnull=True).update(wamid=wamid):
                logger.info("status settled message %s by its callback data", message["uuid"])
                message["wamid"] = wamid
                messages[wamid] = message
    return messages


def _failure(row: dict[str, Any]) -> tuple[int | None, str, str]:
    errors = row["errors"] or []
    error = errors[0] if errors and isinstance(errors[0], dict) else {}
    code = error.get("code")
    code = code if isinstance(code, int) else None
    title = str(error.get("title") or error.get("message") or "Failed")
    detail = str(error.get("details") or error.get("message") or "")
    if code == WINDOW_CLOSED:
        title = WINDOW_CLOSED_TITLE
    return code, title[:300], detail


def _pricing_fields(pricing: dict[str, Any]) -> tuple[str, bool | None]:
    category = str(pricing.get("category") or "")[:40]
    billable = pricing.get("billable")
    if not isinstance(billable, bool):
        kind = pricing.get("type")
        billable = None if not kind else kind == "regular"
    return category, billable


def _apply(
    rows: list[dict[str, Any]],
    result: StatusesResult,
    extras: dict[tuple[str, str], StatusUpdate],
) -> None:
    if not rows:
        return
    messages = _match(rows)
    by_wamid: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["wamid"] in messages:
            by_wamid[row["wamid"]].append(row)
    applied_ids = [row["pk"] for rows_ in by_wamid.values() for row in rows_]
    result.applied += len(applied_ids)
    result.parked += len(rows) - len(applied_ids)
    if not applied_ids:
        return

    update_from_values(
        MessageStatusEvent,
        [
            (row["pk"], {"applied": True, "message": messages[wamid]["pk"]})
            for wamid, rows_ in by_wamid.items()
            for row in rows_
        ],
        fields=("applied", "message"),
    )

    changes: dict[int, dict[str, Any]] = {}  # message pk -> the columns it gets
    failures: dict[tuple[int | None, str, str], list[int]] = defaultdict(list)
    transitions: dict[int, tuple[int, int, datetime, dict[str, Any]]] = {}
    # Conversation objects differ per status of one message (only `sent` has the expiry):
    # these messages copy theirs in SQL from the earliest status that carried one.
    conversation_from_history: list[int] = []  # ids
    reached: dict[tuple[int, str], int] = defaultdict(int)  # (channel, status) -> messages
    to_price: list[CostInput] = []
    for wamid, message_rows in by_wamid.items():
        message = messages[wamid]
        rows_by_rank: dict[int, dict[str, Any]] = {}
        pricing: dict[str, Any] = {}
        conversation: tuple[dict[str, Any], dict[str, Any]] | None = None  # (value, row)
        for row in sorted(message_rows, key=lambda r: r["timestamp"]):
            rank = PROVIDER_STATUSES.get(row["status"])
            if rank is not None:
                rows_by_rank.setdefault(rank, row)
            update = extras.get((wamid, row["status"]))
            raw = row["raw"] if isinstance(row["raw"], dict) else {}
            row_pricing = update.pricing if update else raw.get("pricing")
            row_conversation = update.conversation if update else raw.get("conversation")
            pricing = row_pricing if isinstance(row_pricing, dict) and row_pricing else pricing
            if conversation is None and isinstance(row_conversation, dict) and row_conversation:
                conversation = (row_conversation, row)
        change: dict[str, Any] = {}
        deleted = next((row for row in message_rows if row["status"] == DELETED), None)
        if deleted is not None and message["deleted_at"] is None:
            change["deleted_at"] = deleted["timestamp"]
        previous = current = message["status"]
        changed_by: dict[str, Any] | None = None
        for rank in FORWARD_RANKS:
            if rank in rows_by_rank:
                if message[TIMESTAMP_FIELDS[rank]] is None:
                    change[TIMESTAMP_FIELDS[rank]] = rows_by_rank[rank]["timestamp"]
                if current < rank:
                    current, changed_by = rank, rows_by_rank[rank]
        failed = rows_by_rank.get(Status.FAILED)
        if failed is not None and current < Status.DELIVERED:
            current, changed_by = Status.FAILED, failed
            code, title, detail = _failure(failed)
            failures[(code, title, detail)].append(message["pk"])
            change.update(
                failed_at=failed["timestamp"],
                error_code=code,
                error_title=title,
                error_detail=detail,
            )
        if current != previous:
            change["status"] = current
            if changed_by is not None:
                transitions[message["pk"]] = (previous, current, changed_by["timestamp"], message)
        if pricing:
            category, billable = _pricing_fields(pricing)
            new = {
                "pricing": pricing,
                "pricing_category": category or message["pricing_category"],
                "billable": billable if billable is not None else message["billable"],
            }
            if any(new[key] != message[key] for key in new):
                change.update(new)
        _cost_change(message, previous, current, change, pricing, to_price)
        if conversation is not None and conversation[0] != message["conversation_info"]:
            value, row = conversation
            raw = row["raw"] if isinstance(row["raw"], dict) else {}
            if raw.get("conversation") == value:
                conversation_from_history.append(message["pk"])
            elif not message["conversation_info"]:
                change["conversation_info"] = value
        if change:
            changes[message["pk"]] = change
        for rank in FORWARD_RANKS:
            if TIMESTAMP_FIELDS[rank] in change:
                reached[(message["channel_id"], METRIC_STATUS[rank])] += 1

    for pk, price in messages_price(to_price).items():
        changes.setdefault(pk, {}).update(cost=price.amount, cost_currency=price.currency)
    _messages_write(changes)
    if conversation_from_history:
        earliest = (
            MessageStatusEvent.objects.filter(wamid=OuterRef("wamid"), raw__has_key="conversation")
            .order_by("timestamp", "id")
            .values("raw__conversation")[:1]
        )
        for chunk in _chunks(conversation_from_history):
            Message.objects.filter(pk__in=chunk).update(conversation_info=Subquery(earliest))
    if failures:
        _failure_rules(failures, transitions)
        _failures_report_on_commit(failures, transitions)
    _metrics_on_commit(reached, failures, transitions)
    # Event webhooks, in this transaction (an outbox): after the re-queues, so a failure
    # that goes out again is not reported as one.
    message_statuses_emit({pk: t[0] for pk, t in transitions.items()})
    result.changed.update({pk: (t[0], t[1]) for pk, t in transitions.items()})
    if transitions and message_status_changed.has_listeners(Message):
        _signal_on_commit(transitions)


def _cost_change(
    message: dict[str, Any],
    previous: int,
    current: int,
    change: dict[str, Any],
    pricing: dict[str, Any],
    to_price: list[CostInput],
) -> None:
    """Price a message when Meta first reports it sent (or delivered, or read), again when a
    pricing object arrives later (it may say the message was free), and zero it when it
    failed (README "Message costs")."""
    if current == Status.FAILED:
        if message["cost"] != 0:
            change.update(cost=Decimal(0), cost_currency="")
        return
    if current not in FORWARD_RANKS:
        return
    newly_sent = previous not in FORWARD_RANKS or message["cost"] is None
    if not (newly_sent or "pricing" in change):
        return
    sent_at = next(
        (
            value
            for value in (
                message["sent_at"] or change.get("sent_at"),
                message["delivered_at"] or change.get("delivered_at"),
                message["read_at"] or change.get("read_at"),
            )
            if value is not None
        ),
        None,
    )
    if sent_at is not None:
        to_price.append(CostInput(message["pk"], pricing or message["pricing"] or {}, sent_at))


# How each column combines with the row's current value, inside the UPDATE itself: statuses
# only move forward (failed only before delivered), each timestamp is written once.
_FORWARD_SQL = {
    "status": (
        f"CASE WHEN {{new}} = {Status.FAILED} THEN "
        f"(CASE WHEN {{old}} < {Status.DELIVERED} THEN {{new}} ELSE {{old}} END) "
        "WHEN {new} > {old} THEN {new} ELSE {old} END"
    ),
    **dict.fromkeys(("sent_at", "delivered_at", "read_at", "deleted_at"), "COALESCE({old}, {new})"),
    **dict.fromkeys(
        ("failed_at", "error_code", "error_title", "error_detail"),
        f"CASE WHEN m.status < {Status.DELIVERED} THEN {{new}} ELSE {{old}} END",
    ),
}


def _messages_write(changes: dict[int, dict[str, Any]]) -> None:
    """Write every message's new columns: one `UPDATE ... FROM (VALUES ...)` per set of
    columns (a batch has a handful: sent with pricing, delivered, read, failed...)."""
    by_columns: dict[tuple[str, ...], list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for pk, change in changes.items():
        by_columns[tuple(sorted(change))].append((pk, change))
    for columns, rows in by_columns.items():
        update_from_values(Message, rows, fields=columns, expressions=_FORWARD_SQL)


def _failure_rules(
    failures: dict[tuple[int | None, str, str], list[int]],
    transitions: dict[int, tuple[int, int, datetime, dict[str, Any]]],
) -> None:
    """What a failure code means beyond the message (WHATSAPP.md 2.8): retry it, or mark
    the contact (shared with the synchronous path in `failures`)."""
    side_effects: list[Message] = []
    for (code, title, _detail), ids in failures.items():
        info = error_code_info(code)
        if info.retry_when_reported:
            requeued = messages_requeue(message_ids=ids, code=code, reason=title)
            logger.info(
                "re-queued %s of %s messages after async error %s", requeued, len(ids), code
            )
        elif info.recipient_refuses:
            side_effects.extend(
                Message(pk=pk, contact_id=transitions[pk][3]["contact_id"], error_code=code)
                for pk in ids
            )
    if not side_effects:
        return
    stopped = {
        m.contact_id: transitions[m.pk][2]
        for m in side_effects
        if error_code_info(m.error_code).stops_marketing
    }
    if stopped:
        # A consent change made after the failed send (a START, say) wins over it.
        superseded = {
            pk
            for pk, changed_at in Contact.objects.filter(
                pk__in=stopped, consent_updated_at__isnull=False
            ).values_list("pk", "consent_updated_at")
            if stopped[pk] < changed_at
        }
        side_effects = [
            m
            for m in side_effects
            if not (error_code_info(m.error_code).stops_marketing and m.contact_id in superseded)
        ]
    failure_side_effects(messages=side_effects)


def _failures_report_on_commit(
    failures: dict[tuple[int | None, str, str], list[int]],
    transitions: dict[int, tuple[int, int, datetime, dict[str, Any]]],
) -> None:
    """Tell the rooms that group messages (campaigns) which groups just had failures, as
    dispatch does for a refused send request: WhatsApp reports most quality failures later,
    by status, and the same auto-pause thresholds must see them. After commit, so the check
    reads the failures; failures that were queued again are not failures yet."""
    group_ids = {
        transitions[pk][3]["campaign_id"]
        for (code, _title, _detail), ids in failures.items()
        if not error_code_info(code).retry_when_reported
        for pk in ids
    } - {None}
    if group_ids:
        transaction.on_commit(lambda: hooks.failures_seen(group_ids), robust=True)


def _metrics_on_commit(
    reached: dict[tuple[int, str], int],
    failures: dict[tuple[int | None, str, str], list[int]],
    transitions: dict[int, tuple[int, int, datetime, dict[str, Any]]],
) -> None:
    """Count what this batch moved (README "Metrics and error reports"), once it commits: a
    batch rolled back and retried one event at a time is counted once. A message counts as
    sent, delivered or read when that status's time is first recorded; as failed when a
    failure applied, unless its code sends it back to the queue. Every applied failure counts
    as a provider error with its code."""
    errors: dict[str, int] = defaultdict(int)
    counts = dict(reached)
    for (code, _title, _detail), ids in failures.items():
        errors[error_code_label(code)] += len(ids)
        if error_code_info(code).retry_when_reported:
            continue
        for pk in ids:
            key = (transitions[pk][3]["channel_id"], "failed")
            counts[key] = counts.get(key, 0) + 1
    if not counts and not errors:
        return

    def record() -> None:
        for (channel_id, status), n in counts.items():
            messages_count(channel_id=channel_id, status=status, n=n)
        for code, n in errors.items():
            provider_errors_count(code=code, source="status", n=n)

    transaction.on_commit(record, robust=True)


def _signal_on_commit(transitions: dict[int, tuple[int, int, datetime, dict[str, Any]]]) -> None:
    # Load after the updates so receivers see the final row (a re-queued failure is queued).
    # The columns receivers use; the rest (content, pricing objects...) load on access.
    current = {
        m.pk: m for m in Message.objects.filter(pk__in=list(transitions)).only(*_SIGNAL_FIELDS)
    }

    def send() -> None:
        for pk, (previous, _status, at, _message) in transitions.items():
            message = current.get(pk)
            if message is None or message.status == previous:
                continue
            message_status_changed.send(
                sender=Message, message=message, previous=previous, status=message.status, at=at
            )

    transaction.on_commit(send)
