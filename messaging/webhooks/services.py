"""Webhook events: store the raw body, process it once, replay it, purge it.

The intake (`webhook_event_store`) does one INSERT and nothing else, so Meta gets its 200 at
once, and nudges a worker (at most one broker message per burst, see `webhook_drain_nudge`).
Workers drain pending events in batches (`webhook_events_drain`): each batch is claimed with
SKIP LOCKED, turned into neutral events by the provider's parser, and handed to `statuses`
(all statuses of the batch at once) and `inbound`, in one transaction. Processing is
idempotent (every write is keyed on a unique wamid or (wamid, status)), so duplicates,
redeliveries, replays and a sweeper racing a worker all end in the same state.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, DataError, IntegrityError, connections, transaction
from django.db.models import F
from django.utils import timezone

from core.queueing import task
from core.redis import redis_client
from messaging.channels.models import Channel, HealthSource
from messaging.channels.services import channel_health_apply
from messaging.providers import (
    InboundMessage,
    MessageDeletion,
    MessageEdit,
    NumberHealthUpdate,
    StatusUpdate,
    TemplateCategoryUpdate,
    TemplateQualityUpdate,
    TemplateStatusUpdate,
    UnhandledChange,
    UserPreference,
    WebhookError,
    provider_type,
)
from messaging.providers.base import digits_only
from messaging.sending.models import MessageStatusEvent
from messaging.sending.statuses import status_problem, statuses_apply
from messaging.webhooks.inbound import (
    inbound_message_apply,
    message_deletion_apply,
    message_edit_apply,
    template_category_apply,
    template_quality_apply,
    template_status_apply,
    user_preference_apply,
)
from messaging.webhooks.models import WebhookEvent, WebhookState

logger = logging.getLogger(__name__)

MAX_ERROR_CHARS = 4000
NUDGE_KEY = "parley:webhooks:drain-requested"
_flag_seen_at = float("-inf")  # when this process last saw the flag set (monotonic)
PURGE_BATCH = 2000

_INSERT_SQL = (
    "INSERT INTO {table} ({provider}, {body}, {sha}, {received}, {state}, {attempts}, {error}) "
    "VALUES {rows} ON CONFLICT ({provider}, {sha}) DO NOTHING RETURNING {pk}, {provider}, {sha}"
)
_INSERT_ROW = "(%s, %s, %s, %s, %s, 0, '')"


def body_sha256(raw_body: bytes) -> str:
    return hashlib.sha256(raw_body).hexdigest()


@functools.lru_cache(maxsize=64)
def _insert_sql(rows: int = 1) -> str:
    quote = connections[WebhookEvent.objects.db].ops.quote_name
    meta = WebhookEvent._meta
    return _INSERT_SQL.format(
        table=quote(meta.db_table),
        provider=quote(meta.get_field("provider").column),
        body=quote(meta.get_field("body").column),
        sha=quote(meta.get_field("body_sha256").column),
        received=quote(meta.get_field("received_at").column),
        state=quote(meta.get_field("state").column),
        attempts=quote(meta.get_field("attempts").column),
        error=quote(meta.get_field("error").column),
        pk=quote(meta.pk.column),
        rows=", ".join([_INSERT_ROW] * rows),
    )


def webhook_event_store(*, provider: str, raw_body: bytes, text: str) -> int | None:
    """Store a verified webhook body; return the new event's id, or None for a duplicate.

    One statement, `INSERT ... ON CONFLICT DO NOTHING RETURNING id` (PostgreSQL and SQLite
    3.35+): concurrent identical posts produce exactly one row and none of them raises. After
    commit, a worker is nudged to drain (usually a no-op: one is already on its way).
    A DatabaseError propagates (the view answers 503 so that Meta retries).
    """
    params = (provider, text, body_sha256(raw_body), timezone.now(), WebhookState.PENDING)
    with connections[WebhookEvent.objects.db].cursor() as cursor:
        cursor.execute(_insert_sql(), params)
        row = cursor.fetchone()
    if row is None:
        return None
    transaction.on_commit(webhook_drain_nudge)
    return row[0]


@dataclasses.dataclass(frozen=True)
class WebhookBody:
    """A verified webhook body on its way to one multi-row INSERT (`webhook_events_store`)."""

    provider: str
    text: str
    body_sha256: str
    received_at: datetime


def webhook_events_store(bodies: list[WebhookBody]) -> list[int | None]:
    """Store verified bodies in one transaction; per body, its new event's id or None for a
    duplicate (of a stored body, or of one earlier in the list).

    One `INSERT ... VALUES (...), (...) ON CONFLICT DO NOTHING RETURNING` for the lot, so a
    batch costs one statement and one commit (the group commit of `group_commit.py`). The
    caller nudges a worker after it returns. A DatabaseError propagates with nothing stored.
    """
    if not bodies:
        return []
    params: list[object] = []
    for body in bodies:
        params += [body.provider, body.text, body.body_sha256, body.received_at]
        params.append(WebhookState.PENDING)
    connection = connections[WebhookEvent.objects.db]
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(_insert_sql(len(bodies)), params)
        stored = {(provider, sha): pk for pk, provider, sha in cursor.fetchall()}
    ids: list[int | None] = []
    for body in bodies:
        ids.append(stored.pop((body.provider, body.body_sha256), None))
    return ids


def webhook_drain_nudge() -> None:
    """Ask a worker to drain pending events, unless a request is already queued; never raises.

    Workers claim pending rows themselves, so a burst of webhooks needs one broker message,
    not one per webhook. A flag in Redis, set only if absent, lets the first caller publish;
    the drain task clears it as it starts, before its first claim, so an event committed
    after that publishes a new request and one committed before it is claimed by that drain.

    Even the flag check is a round trip that costs the intake about a quarter of its rate,
    so a process that saw the flag set skips the check for the next half of
    WEBHOOK_DRAIN_LINGER_SECONDS: every drain task keeps claiming for at least that long
    after clearing the flag (`webhook_drain`), so an event committed meanwhile is still
    claimed. The flag expires after WEBHOOK_NUDGE_SECONDS in case a request is lost, and the
    sweeper covers the rest.
    """
    global _flag_seen_at
    now = time.monotonic()
    if now - _flag_seen_at < settings.WEBHOOK_DRAIN_LINGER_SECONDS / 2:
        return
    try:
        requested = _nudge_flag_set()
        _flag_seen_at = now  # the flag was set at some moment after `now`
        if not requested:
            return
    except Exception:
        logger.warning("webhook nudge flag unavailable; publishing anyway")
    try:
        # No publish retries: the HTTP request must not wait for a broker that is down.
        task("messaging.webhook_drain").apply_async(retry=False)
    except Exception:
        logger.warning("could not enqueue webhook processing; the sweeper will")


def webhook_drain_nudge_clear() -> None:
    """Called by the drain task as it starts: the next stored event publishes again."""
    global _flag_seen_at
    _flag_seen_at = float("-inf")
    try:
        if settings.REDIS_URL:
            redis_client().delete(NUDGE_KEY)
        else:
            cache.delete(NUDGE_KEY)
    except Exception:
        logger.warning("webhook nudge flag unavailable")


def _nudge_flag_set() -> bool:
    """Set the flag if it is absent; True when this call set it."""
    ttl = settings.WEBHOOK_NUDGE_SECONDS
    if settings.REDIS_URL:  # straight to Redis: this runs on every stored webhook
        return bool(redis_client().set(NUDGE_KEY, 1, nx=True, px=int(ttl * 1000)))
    return cache.add(NUDGE_KEY, 1, timeout=ttl)


# --- Processing -------------------------------------------------------------------------------


def _parser(provider: str) -> Callable[[Any], list]:
    return provider_type(provider).parse_webhook


class _Router:
    """Channels by phone_number_id (and WABA id) for one event, loaded once."""

    def __init__(self, provider: str, events: list) -> None:
        self.provider = provider
        keys = {e.channel_key for e in events if getattr(e, "channel_key", None)}
        wabas = {e.waba_id for e in events if getattr(e, "waba_id", None)}
        channels = list(Channel.objects.filter(phone_number_id__in=keys)) if keys else []
        self.by_key = {c.phone_number_id: c for c in channels}
        self._wabas = wabas
        self._by_waba: dict[str, list[Channel]] | None = None
        self._default: Channel | bool | None = False

    def channel(self, key: str | None) -> Channel | None:
        if key:
            return self.by_key.get(key)
        # MyOperator events may not name the number: use the only channel of that provider.
        if self._default is False:
            only = list(Channel.objects.filter(provider=self.provider)[:2])
            self._default = only[0] if len(only) == 1 else None
        return self._default or None

    def channels_for_waba(self, waba_id: str | None) -> list[Channel]:
        if self._by_waba is None:
            self._by_waba = {}
            if self._wabas:
                for channel in Channel.objects.filter(waba_id__in=self._wabas):
                    self._by_waba.setdefault(channel.waba_id, []).append(channel)
        return self._by_waba.get(waba_id or "", [])

    def channels_for_health(self, item: NumberHealthUpdate) -> tuple[list[Channel], str]:
        """The numbers a health change concerns, or a reason it concerns none we know.

        By phone_number_id when the change names it; else within its WABA: every number
        for an account-wide change, the one with that display number for a number's own
        (phone_number_quality_update names it so; with no number named and one number in
        the WABA, that one).
        """
        what = " ".join(filter(None, [item.field, item.event]))
        if item.channel_key:
            channel = self.by_key.get(item.channel_key)
            if channel is None:
                return [], f"{what}: unknown phone_number_id {item.channel_key!r}"
            return [channel], ""
        channels = self.channels_for_waba(item.waba_id)
        if not channels:
            return [], f"{what}: unknown WABA id {item.waba_id!r}"
        if item.account_wide:
            return channels, ""
        wanted = digits_only(item.display_phone_number or "")
        if not wanted:
            if len(channels) == 1:
                return channels, ""
            return [], f"{what}: names no number and WABA {item.waba_id} has several"
        matched = [c for c in channels if digits_only(c.display_phone_number) == wanted]
        if not matched:
            return [], f"{what}: no number {wanted} in WABA {item.waba_id}"
        return matched, ""


def webhook_event_process(*, event_id: int) -> WebhookEvent | None:
    """Process one pending event; a no-op for events processed (or being processed) elsewhere."""
    events = webhook_events_process(event_ids=[event_id], limit=1)
    return events[0] if events else None


def webhook_events_process(
    *,
    limit: int,
    event_ids: Iterable[int] | None = None,
    received_before: datetime | None = None,
    claimed: list[int] | None = None,
) -> list[WebhookEvent]:
    """Claim up to `limit` pending events (oldest first) and process them in one transaction.

    Claiming uses SKIP LOCKED, so several workers drain side by side without waiting on each
    other. The statuses of the whole batch are applied together (`statuses_apply` is
    set-based: a handful of statements for hundreds of statuses), and the outcome of every
    event is written in one UPDATE, so a batch costs one commit rather than one per event.

    Bad data never raises: each item that cannot be applied adds a line to its event's
    `error` and that event ends `failed` (replay it once the cause is fixed; everything
    already applied is skipped), while the rest of the batch applies. A database error
    propagates with the whole batch rolled back; `claimed` (when given) then holds the ids
    that were claimed, for the caller to retry one by one (`webhook_events_drain`).
    """
    with transaction.atomic():
        pending = WebhookEvent.objects.select_for_update(skip_locked=True).filter(
            state=WebhookState.PENDING
        )
        if event_ids is not None:
            pending = pending.filter(pk__in=list(event_ids))
        if received_before is not None:
            pending = pending.filter(received_at__lt=received_before)
        events = list(pending.order_by("pk")[:limit])
        if claimed is not None:
            claimed[:] = [event.pk for event in events]
        if not events:
            return []
        errors = _process_batch(events)
        _record_outcomes(events, errors)
    for event in events:
        if event.state == WebhookState.FAILED:
            logger.warning("webhook event %s failed: %s", event.pk, event.error[:300])
    return events


def webhook_events_drain(
    *,
    batch_size: int | None = None,
    budget_seconds: float | None = None,
    received_before: datetime | None = None,
) -> int:
    """Process pending events batch after batch until none is left or the budget is spent.

    A batch that hits a database error is rolled back and its events retried one at a time,
    so one event the database keeps refusing cannot hold the others back: it gets an attempt
    recorded (failed after WEBHOOK_MAX_ATTEMPTS) and the error is re-raised once the others
    are done, for the caller to retry later with backoff. While full batches keep coming,
    another worker is nudged to join. Returns how many events were processed.
    """
    size = batch_size or settings.WEBHOOK_BATCH_SIZE
    budget = settings.WEBHOOK_DRAIN_SECONDS if budget_seconds is None else budget_seconds
    deadline = time.monotonic() + budget
    done = 0
    while True:
        claimed: list[int] = []
        try:
            events = webhook_events_process(
                limit=size, received_before=received_before, claimed=claimed
            )
        except DatabaseError:
            if not claimed:
                raise
            done += _process_one_by_one(claimed)
            continue
        done += len(events)
        if len(events) < size:
            return done
        if time.monotonic() > deadline:
            webhook_drain_nudge()  # hand the rest to a fresh task
            return done
        if received_before is None:
            webhook_drain_nudge()  # more than one batch waiting: let another worker help


# What the database refuses because of the values it was given (a constraint the payload
# breaks, a value too long for its column): the same body fails the same way every time, so
# its event fails at once with the reason. Anything else (OperationalError, InterfaceError:
# a connection lost, a deadlock, a database that is down) may pass, and is retried.
DATA_ERRORS: tuple[type[Exception], ...] = (IntegrityError, DataError, ValueError, TypeError)


def webhook_error_is_data(exc: BaseException) -> bool:
    """Whether `exc` says the payload is bad (fail the event now) rather than the database
    unavailable (retry it)."""
    return isinstance(exc, DATA_ERRORS)


def _process_one_by_one(event_ids: list[int]) -> int:
    done = 0
    first_error: DatabaseError | None = None
    for event_id in event_ids:
        try:
            done += bool(webhook_event_process(event_id=event_id))
        except DatabaseError as exc:
            _attempt_record(event_id, exc)
            if not webhook_error_is_data(exc):
                first_error = first_error or exc
    if first_error is not None:
        raise first_error
    return done


def _attempt_record(event_id: int, exc: DatabaseError) -> None:
    """Count a failed attempt on one event, and give up on it after WEBHOOK_MAX_ATTEMPTS, or
    at once when the error is the payload's (`webhook_error_is_data`)."""
    data = webhook_error_is_data(exc)
    kind = "refused by the database" if data else "database error"
    error = f"{kind}: {type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
    with transaction.atomic():
        event = (
            WebhookEvent.objects.select_for_update()
            .filter(pk=event_id, state=WebhookState.PENDING)
            .first()
        )
        if event is None:
            return
        event.attempts += 1
        event.error = error
        fields = ["attempts", "error"]
        if data:
            event.state, event.processed_at = WebhookState.FAILED, timezone.now()
            fields += ["state", "processed_at"]
            logger.warning("webhook event %s failed: %s", event_id, error[:300])
        elif event.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            event.state, event.processed_at = WebhookState.FAILED, timezone.now()
            event.error = f"gave up after {event.attempts} attempts: {error}"[:MAX_ERROR_CHARS]
            fields += ["state", "processed_at"]
            logger.error("webhook event %s failed for good: %s", event_id, error[:300])
        event.save(update_fields=fields)


def _record_outcomes(events: list[WebhookEvent], errors: dict[int, list[str]]) -> None:
    now = timezone.now()
    processed = []
    for event in events:
        problems = errors.get(event.pk)
        event.state = WebhookState.FAILED if problems else WebhookState.PROCESSED
        event.error = "\n".join(problems or ())[:MAX_ERROR_CHARS]
        event.processed_at = now
        event.attempts += 1  # exact: the rows are locked
        if problems:
            event.save(update_fields=["state", "error", "processed_at", "attempts"])
        else:
            processed.append(event.pk)
    if processed:
        WebhookEvent.objects.filter(pk__in=processed).update(
            state=WebhookState.PROCESSED, error="", processed_at=now, attempts=F("attempts") + 1
        )


def _parse(event: WebhookEvent, errors: list[str]) -> list:
    try:
        payload = json.loads(event.body)
    except (ValueError, RecursionError) as exc:
        errors.append(f"body is not JSON: {type(exc).__name__}: {exc}")
        return []
    try:
        return _parser(event.provider)(payload)
    except Exception as exc:  # a parser bug: keep the event for a replay once it is fixed
        logger.exception("webhook event %s could not be parsed", event.pk)
        errors.append(f"body could not be parsed: {type(exc).__name__}: {exc}")
        return []


def _process_batch(events: list[WebhookEvent]) -> dict[int, list[str]]:
    """Apply every item of every event; returns each event's problems (none: processed).

    Items other than statuses (inbound messages, preferences, template states) are rare
    beside statuses and apply one at a time, each in a savepoint; statuses are collected
    from the whole batch and applied together.
    """
    errors: dict[int, list[str]] = {event.pk: [] for event in events}
    parsed = [
        (event, _received_by(_parse(event, errors[event.pk]), event.received_at))
        for event in events
    ]
    routers: dict[str, _Router] = {}
    for provider in {event.provider for event in events}:
        items = [item for event, items in parsed if event.provider == provider for item in items]
        routers[provider] = _Router(provider, items)
    statuses: list[tuple[StatusUpdate, list[str]]] = []
    for event, items in parsed:
        _route(items, routers[event.provider], errors[event.pk], statuses)
    if statuses:
        _statuses_apply(statuses)
    return {pk: problems for pk, problems in errors.items() if problems}


def _received_by(items: list, received_at: datetime) -> list:
    """The items with every provider timestamp clamped to the moment we received the body.

    A provider clock (or a forged body) a year ahead would otherwise open a contact's
    24-hour window for a year, order statuses wrongly or date a consent decision in the
    future. A missing timestamp is the receipt time too. The stored body keeps the raw value.
    """
    return [_clamped(item, received_at) for item in items]


def _clamped(item: Any, received_at: datetime) -> Any:
    if isinstance(item, MessageEdit):
        return dataclasses.replace(item, message=_clamped(item.message, received_at))
    if not dataclasses.is_dataclass(item) or "timestamp" not in {
        field.name for field in dataclasses.fields(item)
    }:
        return item
    if item.timestamp is None or item.timestamp > received_at:
        return dataclasses.replace(item, timestamp=received_at)
    return item


def _route(
    items: list,
    router: _Router,
    errors: list[str],
    statuses: list[tuple[StatusUpdate, list[str]]],
) -> None:
    """One event's items: apply all but statuses, collect statuses with the event's errors."""
    unknown_numbers: dict[str | None, list[str]] = {}

    def unknown(item) -> None:
        what = getattr(item, "wamid", "") or type(item).__name__
        unknown_numbers.setdefault(item.channel_key, []).append(what)

    for item in items:
        if isinstance(item, StatusUpdate):
            if router.channel(item.channel_key) is None:
                unknown(item)
            else:
                statuses.append((item, errors))
        elif isinstance(item, InboundMessage):
            channel = router.channel(item.channel_key)
            if channel is None:
                unknown(item)
                continue
            _guarded(errors, f"inbound {item.wamid}", _inbound_apply, item, channel)
        elif isinstance(item, MessageEdit | MessageDeletion):
            channel = router.channel(item.channel_key)
            if channel is None:
                unknown(item)
                continue
            what = "edit" if isinstance(item, MessageEdit) else "deletion"
            _guarded(errors, f"{what} {item.wamid}", _change_apply, item, channel)
        elif isinstance(item, UserPreference):
            channel = router.channel(item.channel_key)
            if channel is None:
                unknown(item)
                continue
            _guarded(errors, "user_preferences", _preference_apply, item)
        elif isinstance(
            item, TemplateStatusUpdate | TemplateQualityUpdate | TemplateCategoryUpdate
        ):
            channels = router.channels_for_waba(item.waba_id)
            if not channels:
                errors.append(
                    f"template status for {item.name!r}: unknown WABA id {item.waba_id!r}"
                )
                continue
            _guarded(errors, f"template {item.name}", _template_apply, item, channels)
        elif isinstance(item, NumberHealthUpdate):
            channels, problem = router.channels_for_health(item)
            if problem:
                errors.append(problem)
                continue
            what = " ".join(filter(None, [item.field, item.event]))
            _guarded(errors, what, _health_apply, item, channels)
        elif isinstance(item, WebhookError):
            logger.warning("provider reported errors for %s: %s", item.channel_key, item.errors[:5])
        elif isinstance(item, UnhandledChange):
            logger.debug("webhook change %s not handled", item.field)
    for key, found in unknown_numbers.items():
        listed = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
        errors.insert(0, f"unknown phone_number_id {key!r}: {listed}")


def _guarded(errors: list[str], what: str, fn: Callable, *args: Any) -> bool:
    """Run one item in a savepoint; bad data is recorded, database errors propagate.

    A value or combination the database refuses (longer than its column, out of range:
    DataError; a unique or foreign key constraint the payload breaks: IntegrityError) is bad
    data too: the savepoint undoes that item alone and the rest of the body still applies,
    instead of the whole event being retried for minutes as if the database were down.
    Operational errors (a lost connection, a deadlock) propagate and are retried.
    Returns whether it applied.
    """
    try:
        with transaction.atomic():
            fn(*args)
    except (DataError, IntegrityError) as exc:
        logger.warning("webhook %s refused by the database: %s", what, exc)
        errors.append(f"{what}: {type(exc).__name__}: {exc}")
        return False
    except DatabaseError:
        raise
    except Exception as exc:
        logger.exception("webhook %s could not be applied", what)
        errors.append(f"{what}: {type(exc).__name__}: {exc}")
        return False
    return True


def _inbound_apply(item: InboundMessage, channel: Channel) -> None:

    inbound_message_apply(inbound=item, channel=channel)


def _change_apply(item: MessageEdit | MessageDeletion, channel: Channel) -> None:
    if isinstance(item, MessageEdit):
        message_edit_apply(edit=item, channel=channel)
    else:
        message_deletion_apply(deletion=item, channel=channel)


def _preference_apply(item: UserPreference) -> None:

    user_preference_apply(preference=item)


def _template_apply(
    item: TemplateStatusUpdate | TemplateQualityUpdate | TemplateCategoryUpdate,
    channels: list[Channel],
) -> None:
    if isinstance(item, TemplateQualityUpdate):
        template_quality_apply(update=item, channels=channels)
    elif isinstance(item, TemplateCategoryUpdate):
        template_category_apply(update=item, channels=channels)
    else:
        template_status_apply(update=item, channels=channels)


# A health webhook is followed by a Graph refresh of its number after this long: Meta's quality
# webhook does not carry the quality rating, and Graph may lag the event by a moment.
HEALTH_REFRESH_DELAY_SECONDS = 30


def _health_apply(item: NumberHealthUpdate, channels: list[Channel]) -> None:
    """Record the change on each number it concerns; campaigns hear alarms through
    `channels.hooks`. An event that changes no figure (a policy violation) is logged. Each
    number's refresh from Graph is queued after commit."""
    event = " ".join(filter(None, [item.field, item.event]))
    for channel in channels:
        transaction.on_commit(functools.partial(_health_refresh_enqueue, channel.pk))
        channel_health_apply(
            channel=channel,
            source=HealthSource.WEBHOOK,
            at=item.timestamp,
            tier=item.tier,
            status=item.status,
            status_detail=item.detail,
            status_replaces=item.status_replaces,
            event=event,
        )
    if item.status is None and item.tier is None:
        names = ", ".join(c.name for c in channels)
        logger.warning("%s for %s: %s", event, names, item.detail or "no detail")


def _health_refresh_enqueue(channel_id: int) -> None:
    try:
        task("messaging.channels_sync").apply_async(
            kwargs={"channel_id": channel_id}, countdown=HEALTH_REFRESH_DELAY_SECONDS, retry=False
        )
    except Exception:
        logger.warning("could not queue the health refresh of channel %s", channel_id)


def _statuses_apply(statuses: list[tuple[StatusUpdate, list[str]]]) -> None:
    """The batch's statuses in one `statuses_apply`; should that fail on bad data, each
    event's statuses again on their own, so that only the event carrying it fails."""

    by_event: dict[int, tuple[list[str], list[StatusUpdate]]] = {}
    for update, errors in statuses:
        problem = status_problem(update)
        if problem:
            errors.append(problem)
        else:
            by_event.setdefault(id(errors), (errors, []))[1].append(update)
    if not by_event:
        return
    batch = [update for _errors, updates in by_event.values() for update in updates]
    if len(by_event) == 1 or not _guarded([], "statuses", _statuses_apply_all, batch):
        for errors, updates in by_event.values():
            _guarded(errors, "statuses", _statuses_apply_all, updates)


def _statuses_apply_all(updates: list[StatusUpdate]) -> None:

    statuses_apply(updates=updates)


def webhook_event_mark_failed(*, event_id: int, error: str) -> None:
    """Give up on an event: it kept failing for a reason outside its data (the database), or
    the database refused its data."""
    WebhookEvent.objects.filter(pk=event_id, state=WebhookState.PENDING).update(
        state=WebhookState.FAILED,
        error=error[:MAX_ERROR_CHARS],
        processed_at=timezone.now(),
        attempts=F("attempts") + 1,
    )


# --- Replay, sweep, purge ---------------------------------------------------------------------


def webhook_events_replay(*, event_ids: Iterable[int], enqueue: bool = True) -> int:
    """Put events back to pending and (unless `enqueue` is false, for a caller that processes
    them itself) nudge a worker to drain them; returns how many are pending.

    Safe for processed events too: processing skips whatever was already applied.
    """
    ids = list(event_ids)
    if not ids:
        return 0
    with transaction.atomic():
        replayed = list(
            WebhookEvent.objects.filter(pk__in=ids)
            .exclude(state=WebhookState.PENDING)
            .values_list("pk", flat=True)
        )
        WebhookEvent.objects.filter(pk__in=replayed).update(
            state=WebhookState.PENDING, error="", processed_at=None
        )
        pending = WebhookEvent.objects.filter(pk__in=ids, state=WebhookState.PENDING).count()
        if pending and enqueue:
            transaction.on_commit(webhook_drain_nudge)
    logger.info("replaying %s webhook events", pending)
    return pending


def webhook_events_select(*, since: datetime | None = None, failed_only: bool = False):
    """Events to replay: received since `since`, and only failed ones if `failed_only`."""
    events = WebhookEvent.objects.all()
    if since is not None:
        events = events.filter(received_at__gte=since)
    if failed_only:
        events = events.filter(state=WebhookState.FAILED)
    return events


def webhook_events_sweep(*, older_than: float | None = None, budget_seconds: float = 8.0) -> int:
    """Process pending events that a lost broker message left behind, oldest first.

    Drains them here rather than enqueueing again, so a backlog is not multiplied; workers
    draining at the same time skip the rows this claimed (and this theirs). Stops after
    `budget_seconds`. Returns how many it processed.
    """
    age = settings.WEBHOOK_SWEEP_AFTER_SECONDS if older_than is None else older_than
    done = webhook_events_drain(
        received_before=timezone.now() - timedelta(seconds=age), budget_seconds=budget_seconds
    )
    if done:
        logger.info("sweeper processed %s pending webhook events", done)
    return done


def webhook_events_purge(*, older_than_days: int | None = None) -> dict[str, int]:
    """Delete handled events and never-matched parked statuses past the retention period.

    Pending events are kept whatever their age. Deletes in batches to keep locks short.
    """
    days = settings.WEBHOOK_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    counts = {"events": 0, "parked_statuses": 0}
    querysets = {
        "events": WebhookEvent.objects.filter(received_at__lt=cutoff).exclude(
            state=WebhookState.PENDING
        ),
        "parked_statuses": MessageStatusEvent.objects.filter(applied=False, created_at__lt=cutoff),
    }
    for name, queryset in querysets.items():
        while True:
            batch = list(queryset.values_list("pk", flat=True)[:PURGE_BATCH])
            if not batch:
                break
            deleted, _ = queryset.model.objects.filter(pk__in=batch).delete()
            counts[name] += deleted
    if any(counts.values()):
        logger.info("purged webhook data older than %s days: %s", days, counts)
    return counts
