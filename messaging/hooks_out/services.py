"""Event webhooks to integrators: the outbox and its delivery.

Writing: `event_emit` / `events_emit` add one `WebhookDelivery` per active subscription that
wants the event, inside the caller's transaction, so an event exists exactly when the change
it reports committed (a rolled-back change emits nothing, a committed one is never lost), and
ask a worker to drain once the transaction commits.

Delivering: `deliveries_drain` claims due deliveries (`SELECT ... FOR UPDATE SKIP LOCKED` on
PostgreSQL, a conditional update on SQLite), posts them concurrently (`sender`), and records
each outcome. Per subscription, only the oldest undelivered event of an ordering key (a
message's uuid) may be claimed, so the events about one message arrive in the order they were
written. A failed delivery waits `backoff_seconds(attempts)` (exponential, full jitter, capped
at WEBHOOK_OUT_BACKOFF_MAX_SECONDS) and is retried until it is WEBHOOK_OUT_MAX_ATTEMPT_HOURS
old (at least 24), then given up (`dead`, replayable). A subscription whose receiver fails is
held back as a whole by the same backoff (one probe batch per step), and one that has failed
without a success for WEBHOOK_OUT_DISABLE_AFTER_HOURS is disabled: the operations centre and
the admin's home show it (`selectors.subscriptions_needing_attention`).
"""

from __future__ import annotations

import logging
import os
import random
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from core.audit import AuditAction, audit_record
from core.bulk import update_from_values
from core.errors import DomainError
from core.metrics import webhook_out_count
from core.queueing import task
from core.ssrf import UnsafeUrl, url_check_public
from messaging.hooks_out.models import (
    UNDELIVERED,
    DeliveryState,
    HookEvent,
    WebhookDelivery,
    WebhookSubscription,
)
from messaging.hooks_out.sender import SendResult, delivery_post
from messaging.hooks_out.signing import secret_generate

logger = logging.getLogger(__name__)

DRAIN_TASK = "messaging.hooks_out_drain"
NUDGE_KEY = "hooks-out:drain-requested"
NUDGE_SECONDS = 10
BACKOFF_BASE_SECONDS = 5.0
REPLAY_MAX = 10_000
MAX_EVENTS_PER_SUBSCRIPTION = len(HookEvent.values)


class SubscriptionInvalid(DomainError):
    code = "webhook_subscription_invalid"


# --- Emitting (inside the caller's transaction) ------------------------------------------------


def _subscribers(event_type: str) -> list[int]:
    """Active subscriptions that want `event_type` (a handful of rows: read them all)."""
    rows = WebhookSubscription.objects.filter(is_active=True).values_list("id", "events")
    return [pk for pk, events in rows if isinstance(events, list) and event_type in events]


def events_wanted() -> set[str]:
    """The event types at least one active subscription wants (one small query): emitters
    ask first and skip building payloads nobody receives."""
    rows = WebhookSubscription.objects.filter(is_active=True).values_list("events", flat=True)
    return {event for events in rows if isinstance(events, list) for event in events}


def event_wanted(event_type: str) -> bool:
    return event_type in events_wanted()


def event_body(*, event_id: uuid.UUID, event_type: str, at: datetime, data: dict) -> dict:
    """The JSON every callback carries (README "Event webhooks" shows one per event)."""
    return {"id": str(event_id), "type": event_type, "created_at": at.isoformat(), "data": data}


def events_emit(*, event_type: str, items: Iterable[tuple[dict[str, Any], str]]) -> int:
    """Write the outbox rows of many events of one type: `items` are (data, ordering_key),
    in the order they happened. One query when nobody subscribes, two otherwise. Call inside
    the transaction that makes the change; returns how many deliveries were written."""
    if event_type not in HookEvent.values:
        raise ValueError(f"unknown event type {event_type!r}")
    subscribers = _subscribers(event_type)
    if not subscribers:
        return 0
    now = timezone.now()
    rows = []
    for data, ordering_key in items:
        event_id = uuid.uuid4()
        payload = event_body(event_id=event_id, event_type=event_type, at=now, data=data)
        rows.extend(
            WebhookDelivery(
                subscription_id=subscription_id,
                event_id=event_id,
                event_type=event_type,
                payload=payload,
                ordering_key=(ordering_key or "")[:64],
                created_at=now,
                next_attempt_at=now,
            )
            for subscription_id in subscribers
        )
    if not rows:
        return 0
    WebhookDelivery.objects.bulk_create(rows, batch_size=2000)
    transaction.on_commit(drain_nudge, robust=True)
    return len(rows)


def event_emit(*, event_type: str, data: dict[str, Any], ordering_key: str = "") -> int:
    """One event (see `events_emit`)."""
    return events_emit(event_type=event_type, items=[(data, ordering_key)])


def drain_nudge() -> None:
    """Ask a worker to drain, unless a request is already queued; never raises. The periodic
    drain covers a lost request."""
    try:
        if not cache.add(NUDGE_KEY, 1, timeout=NUDGE_SECONDS):
            return
    except Exception:
        logger.warning("event webhook nudge flag unavailable; publishing anyway")
    try:
        task(DRAIN_TASK).apply_async(retry=False)
    except Exception:
        logger.warning("could not enqueue event webhook delivery; the periodic drain will")


def drain_nudge_clear() -> None:
    try:
        cache.delete(NUDGE_KEY)
    except Exception:
        logger.warning("event webhook nudge flag unavailable")


# --- Subscriptions -------------------------------------------------------------------------------


def _clean(*, name: str, url: str, events: list[str]) -> dict[str, Any]:
    problems: dict[str, str] = {}
    name = (name or "").strip()
    if not name:
        problems["name"] = "Give the subscription a name."
    url = (url or "").strip()
    try:
        # Saved URLs must pass the guard as sending will (private hosts only where allowed).
        url_check_public(url, allow_private=settings.WEBHOOK_OUT_ALLOW_PRIVATE)
    except UnsafeUrl as exc:
        problems["url"] = exc.message
    unknown = sorted(set(events or []) - set(HookEvent.values))
    if unknown:
        problems["events"] = f"Unknown event type(s): {', '.join(unknown)}."
    elif not events:
        problems["events"] = "Choose at least one event."
    if problems:
        first = next(iter(problems.values()))
        raise SubscriptionInvalid(first, details=problems)
    ordered = [value for value in HookEvent.values if value in set(events)]
    return {"name": name[:100], "url": url, "events": ordered}


def subscription_create(
    *, name: str, url: str, events: list[str], created_by=None
) -> WebhookSubscription:
    """A new subscription with a fresh secret (shown once, by the caller, from the result)."""
    fields = _clean(name=name, url=url, events=events)
    return WebhookSubscription.objects.create(
        **fields, secret=secret_generate(), created_by=created_by
    )


def subscription_update(
    *,
    subscription: WebhookSubscription,
    name: str | None = None,
    url: str | None = None,
    events: list[str] | None = None,
    is_active: bool | None = None,
) -> WebhookSubscription:
    """Change what is given. Turning a disabled subscription on again, or pointing it at
    another URL, clears its failure run, so its pending deliveries go at once."""
    previous_url = subscription.url
    fields = _clean(
        name=subscription.name if name is None else name,
        url=subscription.url if url is None else url,
        events=subscription.events if events is None else events,
    )
    for key, value in fields.items():
        setattr(subscription, key, value)
    changed = [*fields, "updated_at"]
    if is_active is not None and is_active != subscription.is_active:
        subscription.is_active = is_active
        changed.append("is_active")
        if is_active:
            subscription.disabled_at = None
            subscription.disabled_reason = ""
            subscription.failing_since = None
            subscription.consecutive_failures = 0
            subscription.retry_at = None
            changed += [
                "disabled_at", "disabled_reason", "failing_since", "consecutive_failures",
                "retry_at",
            ]  # fmt: skip
        else:
            subscription.disabled_at = timezone.now()
            subscription.disabled_reason = "turned off by staff"
            changed += ["disabled_at", "disabled_reason"]
    if subscription.url != previous_url and "retry_at" not in changed:
        subscription.failing_since = None
        subscription.consecutive_failures = 0
        subscription.retry_at = None
        changed += ["failing_since", "consecutive_failures", "retry_at"]
    subscription.save(update_fields=changed)
    if "retry_at" in changed:
        subscription.deliveries.filter(state=DeliveryState.PENDING).update(
            next_attempt_at=timezone.now()
        )
    if subscription.is_active:
        transaction.on_commit(drain_nudge, robust=True)
    return subscription


def subscription_delete(*, subscription: WebhookSubscription) -> None:
    """Delete it with its delivery log (undelivered events go with it)."""
    subscription.delete()


def subscription_rotate_secret(*, subscription: WebhookSubscription, actor=None) -> str:
    """A new secret, effective for the next attempt; returns it (shown once). The old one
    stops working at once: receivers should accept both while they switch (README)."""
    subscription.secret = secret_generate()
    subscription.secret_rotated_at = timezone.now()
    subscription.save(update_fields=["secret", "secret_rotated_at", "updated_at"])
    audit_record(AuditAction.WEBHOOK_SECRET_ROTATED, obj=subscription, actor=actor)
    return subscription.secret


def deliveries_replay(
    *,
    subscription: WebhookSubscription,
    delivery: WebhookDelivery | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    actor=None,
) -> int:
    """Send events again: one delivery, or every event the subscription was sent (or given up
    on) in [since, until). New rows with the same event id, so receivers that already have an
    event drop it. Returns how many were queued."""
    if delivery is not None:
        if delivery.subscription_id != subscription.pk:
            raise DomainError("That delivery belongs to another subscription.", code="not_found")
        originals = [delivery]
    else:
        if since is None or until is None or since >= until:
            raise DomainError(
                "Give a time range: `since` before `until`.", code="replay_range_invalid",
                details={"since": "required, before until", "until": "required, after since"},
            )  # fmt: skip
        originals = list(
            subscription.deliveries.filter(
                created_at__gte=since, created_at__lt=until, replay_of__isnull=True
            ).order_by("id")[: REPLAY_MAX + 1]
        )
        if len(originals) > REPLAY_MAX:
            raise DomainError(
                f"More than {REPLAY_MAX:,} events in that range: choose a shorter one.",
                code="replay_range_too_large",
            )
    now = timezone.now()
    rows = [
        WebhookDelivery(
            subscription=subscription,
            event_id=original.event_id,
            event_type=original.event_type,
            payload=original.payload,
            ordering_key=original.ordering_key,
            created_at=now,
            next_attempt_at=now,
            replay_of=original,
            replayed_by=actor if getattr(actor, "pk", None) else None,
        )
        for original in originals
    ]
    with transaction.atomic():
        WebhookDelivery.objects.bulk_create(rows, batch_size=2000)
        details: dict[str, Any] = {"count": len(rows)}
        if delivery is not None:
            details["delivery"] = delivery.pk
            details["event_id"] = str(delivery.event_id)
        else:
            details["since"] = since.isoformat() if since else None
            details["until"] = until.isoformat() if until else None
        audit_record(AuditAction.WEBHOOK_REPLAY, obj=subscription, actor=actor, details=details)
        transaction.on_commit(drain_nudge, robust=True)
    return len(rows)


# --- Delivering ---------------------------------------------------------------------------------


def backoff_seconds(attempts: int) -> float:
    """The pause after the `attempts`-th failure in a row: exponential with full jitter
    (anywhere from 1 s to the exponential bound), the bound capped."""
    bound = min(
        float(settings.WEBHOOK_OUT_BACKOFF_MAX_SECONDS),
        BACKOFF_BASE_SECONDS * 2 ** min(max(attempts - 1, 0), 30),
    )
    return max(1.0, random.uniform(0, bound))


def _claimable(now: datetime):
    earlier = WebhookDelivery.objects.filter(
        subscription_id=OuterRef("subscription_id"),
        ordering_key=OuterRef("ordering_key"),
        state__in=UNDELIVERED,
        id__lt=OuterRef("id"),
    )
    return (
        WebhookDelivery.objects.filter(
            state=DeliveryState.PENDING,
            next_attempt_at__lte=now,
            subscription__is_active=True,
        )
        .filter(Q(subscription__retry_at__isnull=True) | Q(subscription__retry_at__lte=now))
        .filter(Q(ordering_key="") | ~Exists(earlier))
    )


def deliveries_claim(*, limit: int) -> list[WebhookDelivery]:
    """Mark up to `limit` due deliveries `delivering` and return them with their subscription.
    Two workers never claim the same row, and never two rows of one ordering key."""
    now = timezone.now()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            ids = list(
                _claimable(now)
                .order_by("id")
                .select_for_update(skip_locked=True, of=("self",))
                .values_list("id", flat=True)[:limit]
            )
            if ids:
                WebhookDelivery.objects.filter(id__in=ids).update(
                    state=DeliveryState.DELIVERING, claimed_at=now
                )
        else:  # SQLite: writers are serialised; the conditional update is the claim
            ids = list(_claimable(now).order_by("id").values_list("id", flat=True)[:limit])
            if ids:
                WebhookDelivery.objects.filter(id__in=ids, state=DeliveryState.PENDING).update(
                    state=DeliveryState.DELIVERING, claimed_at=now
                )
                ids = list(
                    WebhookDelivery.objects.filter(
                        id__in=ids, state=DeliveryState.DELIVERING, claimed_at=now
                    ).values_list("id", flat=True)
                )
    if not ids:
        return []
    return list(
        WebhookDelivery.objects.filter(id__in=ids).select_related("subscription").order_by("id")
    )


_executor: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(
            max_workers=max(1, settings.WEBHOOK_OUT_CONCURRENCY), thread_name_prefix="hooks-out"
        )
    return _executor


def _forget_pool_after_fork() -> None:
    global _executor
    _executor = None


os.register_at_fork(after_in_child=_forget_pool_after_fork)


def _post(delivery: WebhookDelivery) -> SendResult:
    subscription = delivery.subscription
    try:
        return delivery_post(
            url=subscription.url, secret=subscription.secret, payload=delivery.payload,
            event_type=delivery.event_type, event_id=str(delivery.event_id),
            attempt=delivery.attempts + 1,
        )  # fmt: skip
    except Exception as exc:  # a bug must not leave the row claimed forever
        logger.exception("event webhook delivery %s crashed", delivery.pk)
        return SendResult(False, None, 0, "", f"{type(exc).__name__}: {exc}"[:300])


def deliveries_send(deliveries: list[WebhookDelivery]) -> list[SendResult]:
    """Post the claimed deliveries concurrently; results in the same order."""
    if len(deliveries) == 1:
        return [_post(deliveries[0])]
    return list(_pool().map(_post, deliveries))


def _excerpt(text: str) -> str:
    return text.replace("\x00", "")[:500]


def outcomes_record(deliveries: list[WebhookDelivery], results: list[SendResult]) -> dict:
    """Write each delivery's outcome and each subscription's health, in one transaction."""
    now = timezone.now()
    give_up_before = now - timedelta(hours=settings.WEBHOOK_OUT_MAX_ATTEMPT_HOURS)
    rows = []
    succeeded: set[int] = set()
    failed: set[int] = set()
    counts = {"delivered": 0, "failed": 0, "dead": 0}
    for delivery, result in zip(deliveries, results, strict=True):
        attempts = delivery.attempts + 1
        row: dict[str, Any] = {
            "attempts": attempts, "last_attempt_at": now, "claimed_at": None,
            "status_code": result.status_code, "latency_ms": result.latency_ms,
            "response_excerpt": _excerpt(result.excerpt), "error": result.error[:300],
        }  # fmt: skip
        if result.ok:
            row.update(state=DeliveryState.DELIVERED, delivered_at=now, next_attempt_at=now)
            succeeded.add(delivery.subscription_id)
            counts["delivered"] += 1
        else:
            failed.add(delivery.subscription_id)
            row["delivered_at"] = None
            if delivery.created_at <= give_up_before:
                row.update(state=DeliveryState.DEAD, next_attempt_at=now)
                counts["dead"] += 1
            else:
                row.update(
                    state=DeliveryState.PENDING,
                    next_attempt_at=now + timedelta(seconds=backoff_seconds(attempts)),
                )
                counts["failed"] += 1
        rows.append((delivery.pk, row))
    fields = [
        "state", "attempts", "next_attempt_at", "last_attempt_at", "claimed_at", "delivered_at",
        "status_code", "latency_ms", "response_excerpt", "error",
    ]  # fmt: skip
    with transaction.atomic():
        update_from_values(WebhookDelivery, rows, fields=fields)
        if succeeded:
            WebhookSubscription.objects.filter(pk__in=succeeded).update(
                failing_since=None, last_success_at=now, consecutive_failures=0, retry_at=None
            )
        for subscription_id in failed - succeeded:
            _subscription_failed(subscription_id, now)
        transaction.on_commit(lambda: _metrics_record(counts), robust=True)
    return counts


def _metrics_record(counts: dict[str, int]) -> None:
    for outcome, n in counts.items():
        webhook_out_count(outcome=outcome, n=n)


def _subscription_failed(subscription_id: int, now: datetime) -> None:
    subscription = (
        WebhookSubscription.objects.select_for_update().filter(pk=subscription_id).first()
    )
    if subscription is None:
        return
    subscription.consecutive_failures += 1
    subscription.failing_since = subscription.failing_since or now
    subscription.retry_at = now + timedelta(
        seconds=backoff_seconds(subscription.consecutive_failures)
    )
    fields = ["consecutive_failures", "failing_since", "retry_at"]
    limit = timedelta(hours=settings.WEBHOOK_OUT_DISABLE_AFTER_HOURS)
    if subscription.is_active and now - subscription.failing_since >= limit:
        hours = settings.WEBHOOK_OUT_DISABLE_AFTER_HOURS
        subscription.is_active = False
        subscription.disabled_at = now
        subscription.disabled_reason = (
            f"its receiver failed every attempt for {hours:g} hours "
            f"(since {subscription.failing_since:%Y-%m-%d %H:%M} UTC)"
        )
        fields += ["is_active", "disabled_at", "disabled_reason"]
        transaction.on_commit(lambda: webhook_out_count(outcome="disabled"), robust=True)
        logger.error(
            "event webhook subscription %s (%s) disabled: %s",
            subscription.pk, subscription.name, subscription.disabled_reason,
        )  # fmt: skip
    subscription.save(update_fields=fields)


def deliveries_drain(*, budget_seconds: float | None = None, batch: int | None = None) -> dict:
    """Claim, send and record batch after batch until nothing is due or the budget is spent."""
    size = batch or settings.WEBHOOK_OUT_BATCH
    budget = settings.WEBHOOK_OUT_DRAIN_SECONDS if budget_seconds is None else budget_seconds
    deadline = time.monotonic() + budget
    totals = {"delivered": 0, "failed": 0, "dead": 0}
    while True:
        deliveries = deliveries_claim(limit=size)
        if not deliveries:
            return totals
        if len(deliveries) == size:
            drain_nudge()  # more waiting: let another worker process help
        results = deliveries_send(deliveries)
        for key, value in outcomes_record(deliveries, results).items():
            totals[key] += value
        # Events of a key held back behind the ones just sent are due now: claim again
        # (a short batch too), until the budget is spent.
        if time.monotonic() > deadline:
            drain_nudge()  # hand the rest to a fresh task
            return totals


def deliveries_release_stale(*, older_than_seconds: float) -> int:
    """Claims a killed worker left behind go back to pending (they may have been sent: the
    receiver deduplicates by event id)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return WebhookDelivery.objects.filter(
        state=DeliveryState.DELIVERING, claimed_at__lt=cutoff
    ).update(state=DeliveryState.PENDING, claimed_at=None)


def deliveries_purge() -> int:
    """Delivered and given-up deliveries past WEBHOOK_OUT_RETENTION_DAYS."""
    cutoff = timezone.now() - timedelta(days=settings.WEBHOOK_OUT_RETENTION_DAYS)
    total = 0
    while True:
        ids = list(
            WebhookDelivery.objects.filter(
                state__in=[DeliveryState.DELIVERED, DeliveryState.DEAD], created_at__lt=cutoff
            ).values_list("id", flat=True)[:5000]
        )
        if not ids:
            return total
        # Replays point at their original: keep the link from blocking the delete.
        WebhookDelivery.objects.filter(replay_of_id__in=ids).update(replay_of=None)
        total += WebhookDelivery.objects.filter(id__in=ids)._raw_delete("default")
