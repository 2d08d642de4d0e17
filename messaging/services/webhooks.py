"""Webhook events: store the raw body, process it once, replay it, purge it.

The intake (`webhook_event_store`) does one INSERT and nothing else, so Meta gets its 200 at
once; a worker then calls `webhook_event_process`, which turns the body into neutral events
(the provider's parser) and hands them to `statuses` and `inbound`. Processing is idempotent
(every write is keyed on a unique wamid or (wamid, status)), so duplicates, redeliveries,
replays and a sweeper racing a worker all end in the same state.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, DataError, transaction
from django.utils import timezone

from messaging.models import Channel, MessageStatusEvent, Provider, WebhookEvent, WebhookState
from messaging.providers import (
    InboundMessage,
    StatusUpdate,
    TemplateStatusUpdate,
    UnhandledChange,
    UserPreference,
    WebhookError,
)

logger = logging.getLogger(__name__)

MAX_ERROR_CHARS = 4000
PURGE_BATCH = 2000

_INSERT_SQL = (
    "INSERT INTO {table} ({provider}, {body}, {sha}, {received}, {state}, {attempts}, {error}) "
    "VALUES (%s, %s, %s, %s, %s, 0, '') "
    "ON CONFLICT ({provider}, {sha}) DO NOTHING RETURNING {pk}"
)


def body_sha256(raw_body: bytes) -> str:
    return hashlib.sha256(raw_body).hexdigest()


def _insert_sql() -> str:
    from django.db import connections

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
    )


def webhook_event_store(*, provider: str, raw_body: bytes, text: str) -> int | None:
    """Store a verified webhook body; return the new event's id, or None for a duplicate.

    One statement, `INSERT ... ON CONFLICT DO NOTHING RETURNING id` (PostgreSQL and SQLite
    3.35+): concurrent identical posts produce exactly one row, none of them raises, and
    only the one that inserted gets an id to enqueue. Processing is enqueued after commit.
    A DatabaseError propagates (the view answers 503 so that Meta retries).
    """
    params = (provider, text, body_sha256(raw_body), timezone.now(), WebhookState.PENDING)
    rows = list(WebhookEvent.objects.raw(_insert_sql(), params))
    if not rows:
        return None
    event_id = rows[0].pk
    transaction.on_commit(lambda: webhook_process_enqueue(event_id))
    return event_id


def webhook_process_enqueue(event_id: int) -> None:
    """Nudge a worker; never raises. A lost nudge is picked up by the sweeper."""
    from messaging.tasks.webhooks import webhook_process

    try:
        # No publish retries: the HTTP request must not wait for a broker that is down.
        webhook_process.apply_async((event_id,), retry=False)
    except Exception:
        logger.warning("could not enqueue webhook event %s; the sweeper will", event_id)


# --- Processing -------------------------------------------------------------------------------


def _parser(provider: str) -> Callable[[Any], list]:
    if provider == Provider.MYOPERATOR:
        from messaging.providers.myoperator import parse_webhook
    else:
        from messaging.providers.meta_cloud import parse_webhook
    return parse_webhook


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


def webhook_event_process(*, event_id: int) -> WebhookEvent | None:
    """Process a pending event; a no-op for events processed (or being processed) elsewhere.

    Bad data never raises: each item that cannot be applied adds a line to `error` and the
    event ends `failed` (replay it once the cause is fixed; everything already applied is
    skipped). Database errors propagate so that the task retries the whole event, whose
    writes were rolled back together.
    """
    with transaction.atomic():
        event = (
            WebhookEvent.objects.select_for_update(skip_locked=True)
            .filter(pk=event_id, state=WebhookState.PENDING)
            .first()
        )
        if event is None:
            return None
        errors = _process_body(event)
        event.state = WebhookState.FAILED if errors else WebhookState.PROCESSED
        event.error = "\n".join(errors)[:MAX_ERROR_CHARS]
        event.processed_at = timezone.now()
        event.attempts += 1  # exact: the row is locked
        event.save(update_fields=["state", "error", "processed_at", "attempts"])
    if errors:
        logger.warning("webhook event %s failed: %s", event.pk, event.error[:300])
    return event


def _process_body(event: WebhookEvent) -> list[str]:
    try:
        payload = json.loads(event.body)
    except (ValueError, RecursionError) as exc:
        return [f"body is not JSON: {type(exc).__name__}: {exc}"]
    try:
        events = _parser(event.provider)(payload)
    except Exception as exc:  # a parser bug: keep the event for a replay once it is fixed
        logger.exception("webhook event %s could not be parsed", event.pk)
        return [f"body could not be parsed: {type(exc).__name__}: {exc}"]
    router = _Router(event.provider, events)
    errors: list[str] = []
    statuses: list[StatusUpdate] = []
    unknown_numbers: dict[str | None, list[str]] = {}

    def unknown(item) -> None:
        what = getattr(item, "wamid", "") or type(item).__name__
        unknown_numbers.setdefault(item.channel_key, []).append(what)

    for item in events:
        if isinstance(item, StatusUpdate):
            if router.channel(item.channel_key) is None:
                unknown(item)
            else:
                statuses.append(item)
        elif isinstance(item, InboundMessage):
            channel = router.channel(item.channel_key)
            if channel is None:
                unknown(item)
                continue
            _guarded(errors, f"inbound {item.wamid}", _inbound_apply, item, channel)
        elif isinstance(item, UserPreference):
            channel = router.channel(item.channel_key)
            if channel is None:
                unknown(item)
                continue
            _guarded(errors, "user_preferences", _preference_apply, item)
        elif isinstance(item, TemplateStatusUpdate):
            channels = router.channels_for_waba(item.waba_id)
            if not channels:
                errors.append(
                    f"template status for {item.name!r}: unknown WABA id {item.waba_id!r}"
                )
                continue
            _guarded(errors, f"template {item.name}", _template_apply, item, channels)
        elif isinstance(item, WebhookError):
            logger.warning("provider reported errors for %s: %s", item.channel_key, item.errors[:5])
        elif isinstance(item, UnhandledChange):
            logger.debug("webhook change %s not handled", item.field)
    if statuses:
        _guarded(errors, "statuses", _statuses_apply, statuses, errors)
    for key, items in unknown_numbers.items():
        listed = ", ".join(items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")
        errors.insert(0, f"unknown phone_number_id {key!r}: {listed}")
    return errors


def _guarded(errors: list[str], what: str, fn: Callable, *args: Any) -> None:
    """Run one item in a savepoint; bad data is recorded, database errors propagate.

    A value the database refuses (longer than its column, out of range: DataError) is bad
    data too: the savepoint undoes that item alone and the rest of the body still applies,
    instead of the whole event being retried for hours.
    """
    try:
        with transaction.atomic():
            fn(*args)
    except DataError as exc:
        logger.warning("webhook %s refused by the database: %s", what, exc)
        errors.append(f"{what}: {type(exc).__name__}: {exc}")
    except DatabaseError:
        raise
    except Exception as exc:
        logger.exception("webhook %s could not be applied", what)
        errors.append(f"{what}: {type(exc).__name__}: {exc}")


def _inbound_apply(item: InboundMessage, channel: Channel) -> None:
    from messaging.services.inbound import inbound_message_apply

    inbound_message_apply(inbound=item, channel=channel)


def _preference_apply(item: UserPreference) -> None:
    from messaging.services.inbound import user_preference_apply

    user_preference_apply(preference=item)


def _template_apply(item: TemplateStatusUpdate, channels: list[Channel]) -> None:
    from messaging.services.inbound import template_status_apply

    template_status_apply(update=item, channels=channels)


def _statuses_apply(items: list[StatusUpdate], errors: list[str]) -> None:
    from messaging.services.statuses import statuses_apply

    errors.extend(statuses_apply(updates=items).rejected)


def webhook_event_mark_failed(*, event_id: int, error: str) -> None:
    """Give up on an event that kept failing for a reason outside its data (the database)."""
    WebhookEvent.objects.filter(pk=event_id, state=WebhookState.PENDING).update(
        state=WebhookState.FAILED, error=error[:MAX_ERROR_CHARS], processed_at=timezone.now()
    )


# --- Replay, sweep, purge ---------------------------------------------------------------------


def webhook_events_replay(*, event_ids: Iterable[int], enqueue: bool = True) -> int:
    """Put events back to pending and (unless `enqueue` is false, for a caller that processes
    them itself) enqueue them; returns how many are pending.

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
        pending = list(
            WebhookEvent.objects.filter(pk__in=ids, state=WebhookState.PENDING).values_list(
                "pk", flat=True
            )
        )
        for event_id in pending if enqueue else ():
            transaction.on_commit(lambda event_id=event_id: webhook_process_enqueue(event_id))
    logger.info("replaying %s webhook events", len(pending))
    return len(pending)


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

    Runs them here rather than enqueueing again, so a backlog is not multiplied; a worker
    processing the same event at the same time makes this a no-op (row lock, state check).
    Stops after `budget_seconds`. Returns how many it processed.
    """
    age = settings.WEBHOOK_SWEEP_AFTER_SECONDS if older_than is None else older_than
    cutoff = timezone.now() - timedelta(seconds=age)
    deadline = time.monotonic() + budget_seconds
    done = 0
    ids = list(
        WebhookEvent.objects.filter(state=WebhookState.PENDING, received_at__lt=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)[:500]
    )
    for event_id in ids:
        if time.monotonic() > deadline:
            break
        if webhook_event_process(event_id=event_id) is not None:
            done += 1
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
