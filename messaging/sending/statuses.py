"""Provider statuses (sent, delivered, read, failed) applied to outbound messages, in bulk.

Every status is first kept as a `MessageStatusEvent` row (unique on wamid + status, so a
redelivered status is ignored), then matched to its message by wamid, or by our UUID echoed
back as `biz_opaque_callback_data` for a message whose send outcome was ambiguous. Statuses
move a message forward only, whatever order they arrive in: `sent < delivered < read`, and
`failed` applies only to a message that was not delivered yet. Each timestamp column is
filled from its own status's payload time, once.

A status whose message is not known yet (the webhook beat the send's response) stays parked
(`applied=False`) until `statuses_apply_parked` runs for its wamid: the send pipeline calls it
right after recording wamids, the batch that parked it once more right after committing (a
send and a batch that commit at the same moment cannot then both miss each other: each looks
after its own commit), and the sweeper for whatever is left (a status that was never ours).

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
from messaging.signals import StatusChange, message_statuses_changed

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
    "failed_at",
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

    The batch's messages are locked first (sorted by wamid), then its status rows inserted
    (sorted by (wamid, status)), already marked applied when their message is known: two
    concurrent batches (several webhook workers) that share messages wait for each other
    instead of deadlocking. Only the rows this batch inserted apply (a redelivered status
    is ignored), with whatever was parked earlier for the same messages.
    """
    result = StatusesResult(received=len(updates))
    now = timezone.now()
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    extras: dict[tuple[str, str], StatusUpdate] = {}
    for update in sorted(updates, key=lambda u: (u.wamid or "", u.status or "")):
        problem = status_problem(update)
        if problem:
            result.rejected.append(problem)
            continue
        key = (update.wamid, update.status[:20])
        if key in rows:
            continue  # the same status twice in one batch: the first is kept
        rows[key] = {
            "wamid": update.wamid,
            "status": key[1],
            "timestamp": update.timestamp or now,
            "callback_data": (update.callback_data or "")[:512],
            "errors": update.errors if update.errors is not None else [],
            "raw": update.raw if isinstance(update.raw, dict) else {"value": update.raw},
            "applied": False,
            "message": None,
            "created_at": now,
        }
        extras[key] = update
    if not rows:
        return result
    with transaction.atomic():
        messages = _match(list(rows.values()))
        for row in rows.values():
            message = messages.get(row["wamid"])
            if message is not None:
                row["applied"], row["message"] = True, message["pk"]
        inserted = insert_ignoring_conflicts(
            MessageStatusEvent, list(rows.values()), fields=_EVENT_FIELDS,
            returning=("wamid", "status"),
        )  # fmt: skip
        new = [rows[key] for key in inserted]
        parked = sorted({row["wamid"] for row in new if not row["applied"]})
        result.parked += sum(not row["applied"] for row in new)
        if parked:
            transaction.on_commit(lambda: statuses_apply_parked(wamids=parked), robust=True)
        earlier = _parked_take(_unapplied(set(messages)), messages)
        _apply([row for row in new if row["applied"]] + earlier, messages, result, extras)
    return result


def _parked_take(rows: list[dict[str, Any]], messages: dict[str, dict[str, Any]]) -> list:
    """Of parked status rows, those whose message is now known, marked applied."""
    taken = [row for row in rows if row["wamid"] in messages]
    update_from_values(
        MessageStatusEvent,
        [(row["pk"], {"applied": True, "message": messages[row["wamid"]]["pk"]}) for row in taken],
        fields=("applied", "message"),
    )
    return taken


def statuses_apply_parked(*, wamids: list[str]) -> int:
    """Apply statuses that arrived before their message's wamid was recorded.

    Call right after recording wamids (cheap when nothing is parked). Returns how many
    parked statuses were applied.
    """
    if not wamids:
        return 0
    result = StatusesResult()
    with transaction.atomic():
        parked = _unapplied(set(wamids))
        messages = _match(parked) if parked else {}
        _apply(_parked_take(parked, messages), messages, result, {})
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
    """The parked status rows of these wamids (usually none: one probe of the partial index
    says so before the wamids are looked up)."""
    rows: list[dict[str, Any]] = []
    if not wamids or not MessageStatusEvent.objects.filter(applied=False).exists():
        return rows
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
    messages: dict[str, dict[str, Any]],
    result: StatusesResult,
    extras: dict[tuple[str, str], StatusUpdate],
) -> None:
    """Apply status rows (recorded, each with its message locked in `messages`)."""
    if not rows:
        return
    by_wamid: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_wamid[row["wamid"]].append(row)
    result.applied += len(rows)

    changes: dict[int, dict[str, Any]] = {}  # message pk -> the columns it gets
    failures: dict[tuple[int | None, str, str], list[int]] = defaultdict(list)
    transitions: dict[int, tuple[int, int, datetime, dict[str, Any]]] = {}
    # Conversation objects differ per status of one message (only `sent` has the expiry). A
    # message keeps the earliest status's: one that arrives before statuses already applied
    # (out of order) makes its message copy it in SQL from the earliest in the history.
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
            if not message["conversation_info"]:
                # No applied status carried one: the batch's earliest is the earliest.
                change["conversation_info"] = value
            elif raw.get("conversation") == value and not _conversation_settled(message, row):
                conversation_from_history.append(message["pk"])
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
    if transitions and message_statuses_changed.has_listeners(Message):
        _signal_on_commit(transitions)


def _conversation_settled(message: dict[str, Any], row: dict[str, Any]) -> bool:
    """Whether the message's conversation object already comes from a status no later than
    `row`, so the history need not be read: it comes from an applied status, and every
    applied sent, delivered, read or failed status left its time on the message. (A
    conversation carried only by a failure after delivery, or a deletion, is not dated
    there; Meta sends none on those.)"""
    if not message["conversation_info"]:
        return False
    known = [message[field] for field in TIMESTAMP_FIELDS.values() if message[field] is not None]
    return bool(known) and row["timestamp"] >= max(known)


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
    """Report the batch's moves once it commits. A failure's message may have gone back to
    the queue (`_failure_rules`): those are read again, and reported only if they still
    moved; every other move is final as computed (the rows are locked)."""
    final = {pk: status for pk, (_previous, status, _at, _message) in transitions.items()}
    failed = [pk for pk, status in final.items() if status == Status.FAILED]
    for chunk in _chunks(failed):
        final.update(Message.objects.filter(pk__in=chunk).values_list("pk", "status"))
    changes = [
        StatusChange(message_id=pk, previous=previous, status=final[pk], at=at)
        for pk, (previous, _status, at, _message) in transitions.items()
        if final[pk] != previous
    ]
    if changes:
        transaction.on_commit(
            lambda: message_statuses_changed.send(sender=Message, changes=changes)
        )
