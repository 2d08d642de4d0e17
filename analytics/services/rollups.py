"""Rollups: turn a day's rows into DailySnapshot, CampaignPerformance, ButtonDaily,
TemplateDaily and ContentPerformance rows, and refresh CustomerMetrics.

Idempotent: a day is recomputed from scratch and written with delete-then-insert in one
transaction, so recomputing gives the same rows. Incremental (README "Analytics"): a run
recomputes today; the days before today that signal handlers marked as changed (a late status
webhook, a late conversion, ...); and each of the last ANALYTICS_ROLLUP_RECENT_DAYS days that
was last rolled up before it ended (so every day gets one pass after midnight; the nightly
mode recomputes them all). Runs never overlap: a PostgreSQL advisory lock (a cache lock on
other databases), on top of the job registry's one-run-per-job rule.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from analytics.days import day_bounds, days_between, range_bounds, today
from analytics.db import analytics_queries
from analytics.models import (
    ButtonDaily,
    CampaignPerformance,
    ContentPerformance,
    ConversionEvent,
    DailySnapshot,
    RollupDirtyDay,
    RollupState,
    TemplateDaily,
)
from analytics.services import figures
from analytics.services.conversions import conversions_attribute
from analytics.services.customers import customers_rollup
from analytics.services.engagement import engagement_reconcile_span
from analytics.services.events import MARK_DEBOUNCE_SECONDS
from analytics.services.template_figures import (
    template_send_days_touched,
    template_span_figures,
)
from core.errors import Conflict
from core.locks import cache_lock
from messaging.models import ContentItem

logger = logging.getLogger(__name__)

LOCK_KEY = 0x5041524C  # "PARL": the advisory lock id of rollup runs
CONTENT_LOOKBACK_DAYS = 14  # content announced this long before a day still changes on it
ZERO = Decimal("0")


class RollupBusy(Conflict):
    code = "rollup_running"


@contextlib.contextmanager
def rollup_lock() -> Iterator[bool]:
    """True when this run may go ahead. PostgreSQL: a session advisory lock (released if the
    process dies); elsewhere a lock in the shared cache that expires on its own."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
            acquired = bool(cursor.fetchone()[0])
        try:
            yield acquired
        finally:
            if acquired:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
        return
    with cache_lock("analytics:rollup-lock", timeout=settings.ANALYTICS_ROLLUP_LOCK_SECONDS) as ok:
        yield ok


@dataclass
class RollupResult:
    days: list[date] = field(default_factory=list)
    snapshots: int = 0
    campaign_days: int = 0
    campaigns: int = 0
    buttons: int = 0
    content_items: int = 0
    customers: int | None = None
    seconds: float = 0.0
    dry_run: bool = False
    preview: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, Any]:
        return {
            "days": len(self.days),
            "snapshot_rows": self.snapshots,
            "campaign_day_rows": self.campaign_days,
            "campaigns": self.campaigns,
            "button_rows": self.buttons,
            "content_items": self.content_items,
            "customers": self.customers if self.customers is not None else "not refreshed",
            "seconds": round(self.seconds, 2),
        }


# --- Which days ---------------------------------------------------------------------------------


def rollup_days_due(*, mode: str = "incremental") -> list[date]:
    """Today, the marked days, and the recent days that still need their pass after midnight
    (all recent days in nightly mode)."""
    current = today()
    due = {current}
    due.update(d for d in RollupDirtyDay.objects.values_list("day", flat=True) if d <= current)
    recent = [
        current - timedelta(days=n) for n in range(1, settings.ANALYTICS_ROLLUP_RECENT_DAYS + 1)
    ]
    if mode == "nightly":
        due.update(recent)
    else:
        computed = dict(
            DailySnapshot.objects.filter(channel__isnull=True, day__in=recent).values_list(
                "day", "computed_at"
            )
        )
        for day in recent:
            if day not in computed or computed[day] < day_bounds(day)[1]:
                due.add(day)
    return sorted(due)


def customers_due(*, mode: str = "incremental") -> bool:
    if mode == "nightly":
        return True
    state = RollupState.objects.filter(name="customers").first()
    if state is None or state.computed_at is None:
        return True
    if state.computed_at < day_bounds(today())[0]:
        return True
    refresh = timedelta(minutes=settings.ANALYTICS_CUSTOMER_REFRESH_MINUTES)
    if timezone.now() - state.computed_at < refresh:
        return False
    return ConversionEvent.objects.filter(pk__gt=state.watermark).exists()


# --- The run ------------------------------------------------------------------------------------


def analytics_rollup(
    *,
    days: Iterable[date] | None = None,
    mode: str = "incremental",
    customers: bool | None = None,
    dry_run: bool = False,
    log: Callable[[str], None] | None = None,
    progress: Callable[[float], None] | None = None,
) -> RollupResult:
    """Recompute `days` (default: the days due) and what depends on them.

    `customers`: True/False forces the customer metrics refresh on or off; None decides
    (nightly, first run of a day, or new conversions after ANALYTICS_CUSTOMER_REFRESH_MINUTES).
    Raises RollupBusy when another run holds the lock.
    """
    log = log or (lambda message: logger.info("%s", message))
    with rollup_lock() as acquired:
        if not acquired:
            raise RollupBusy("Another analytics rollup is running; try again when it finished.")
        return _run(days, mode, customers, dry_run, log, progress)


def _run(days, mode, customers, dry_run, log, progress) -> RollupResult:
    started, clock = timezone.now(), time.monotonic()
    result = RollupResult(dry_run=dry_run)
    current = today()
    result.days = (
        sorted({d for d in days if d <= current})
        if days is not None
        else rollup_days_due(mode=mode)
    )
    dry = " (dry run)" if dry_run else ""
    log(f"rolling up {len(result.days)} day(s){dry}: {_describe(result.days)}")
    touched_campaigns: set[int] = set()
    for index, day in enumerate(result.days):
        day_result = rollup_day(day, dry_run=dry_run)
        result.snapshots += day_result["snapshots"]
        result.campaign_days += len(day_result["campaigns"])
        result.buttons += day_result["buttons"]
        touched_campaigns.update(day_result["campaigns"])
        if dry_run:
            result.preview[day.isoformat()] = day_result["total"]
        if progress is not None:
            progress((index + 1) * 80 / max(1, len(result.days)))
    if result.days:
        result.campaigns = campaign_totals_rollup(campaign_ids=touched_campaigns, dry_run=dry_run)
        result.content_items = content_rollup(
            first=result.days[0], last=result.days[-1], dry_run=dry_run
        )
        log(f"{result.campaigns} campaign total(s), {result.content_items} content item(s)")
    if customers or (customers is None and customers_due(mode=mode)):
        result.customers = customers_rollup(dry_run=dry_run)
        log(f"customer metrics: {result.customers} contacts")
    if not dry_run and result.days:
        cutoff = started - timedelta(seconds=MARK_DEBOUNCE_SECONDS)
        RollupDirtyDay.objects.filter(day__in=result.days, marked_at__lte=cutoff).delete()
    if progress is not None:
        progress(100)
    result.seconds = time.monotonic() - clock
    log(f"done in {result.seconds:.2f} s")
    return result


def _describe(days: list[date]) -> str:
    if not days:
        return "none"
    if len(days) <= 3:
        return ", ".join(d.isoformat() for d in days)
    return f"{days[0].isoformat()} .. {days[-1].isoformat()}"


# --- One day ------------------------------------------------------------------------------------


def snapshot_figures(day: date) -> dict[int | None, dict]:
    """Every DailySnapshot row of `day` as field dicts, keyed by channel id (None: all)."""
    start, end = day_bounds(day)
    messages = figures.messages_by_channel(start, end)
    inbound = figures.inbound_by_channel(start, end)
    buttons, links = figures.clicks_by_channel(start, end)
    opened = figures.conversations_opened_by_channel(start, end)
    conversions = figures.conversions_by_channel(start, end)
    channel_ids = {
        c for c in (*messages, *inbound, *buttons, *links, *opened, *conversions) if c is not None
    }  # fmt: skip
    rows: dict[int | None, dict[str, Any]] = {}
    for channel_id in sorted(channel_ids):
        m = messages.get(channel_id, {})
        cost = m.get("cost", ZERO)
        money = conversions.get(channel_id)
        rows[channel_id] = {
            "sent": m.get("sent", 0),
            "delivered": m.get("delivered", 0),
            "read": m.get("read", 0),
            "failed": m.get("failed", 0),
            "contacts_reached": m.get("contacts_reached", 0),
            "inbound": inbound.get(channel_id, 0),
            "button_clicks": buttons.get(channel_id, 0),
            "link_clicks": links.get(channel_id, 0),
            "conversations_opened": opened.get(channel_id, 0),
            "conversions": money["conversions"] if money else 0,
            "revenue": money["revenue"] if money else ZERO,
            **_by_source(money),
            "cost": cost.quantize(Decimal("0.0001")),
        }
    total: dict[str, Any] = {
        key: sum((row[key] for row in rows.values()), _zero(key))
        for key in (
            "sent", "delivered", "read", "failed", "inbound", "button_clicks", "link_clicks",
            "conversions", "revenue", "revenue_campaign", "revenue_content",
            "revenue_notification", "revenue_organic", "cost",
        )
    }  # fmt: skip
    organic = conversions.get(None)
    if organic:
        total["conversions"] += organic["conversions"]
        total["revenue"] += organic["revenue"]
        for key, value in _by_source(organic).items():
            total[key] += value
    # Buttons and links whose channel is unknown still count for all channels.
    total["button_clicks"] += buttons.get(None, 0)
    total["link_clicks"] += links.get(None, 0)
    total["contacts_reached"] = (
        figures.contacts_reached(start, end)
        if len(messages) > 1
        else sum(m["contacts_reached"] for m in messages.values())
    )
    total.update(figures.inbox_figures(day))
    total.update(figures.people_figures(start, end))
    total.update(figures.content_figures(start, end))
    total.update(figures.quality_figures(start, end))
    total["revenue_by_label"] = figures.revenue_by_label(start, end)
    rows[None] = total
    return rows


def _zero(key: str):
    return ZERO if key.startswith(("revenue", "cost")) else 0


def _by_source(money: dict | None) -> dict[str, Decimal]:
    by_source = money["by_source"] if money else {}
    return {
        f"revenue_{source}": Decimal(by_source.get(source, ZERO))
        for source in ("campaign", "content", "notification", "organic")
    }


def rollup_day(day: date, *, dry_run: bool = False) -> dict[str, Any]:
    """Recompute one day: attribution of its conversions, its snapshots, its campaign rows and
    its button rows, written in one transaction."""
    start, end = day_bounds(day)
    now = timezone.now()
    with analytics_queries():
        if not dry_run:
            # The day's replies and clicks credited to the messages they answer, and its
            # conversions to their last touch, before anything counts them.
            engagement_reconcile_span(start, end)
            conversions_attribute(
                ConversionEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
            )
        campaigns = figures.campaign_figures(start=start, end=end)
        snapshots = snapshot_figures(day)
        buttons = figures.button_figures(start, end)
        # The day's template rows, and those of the earlier send days whose sends got a
        # receipt today (template figures follow the sends: analytics.template_report).
        templates = {
            d: template_span_figures(*day_bounds(d))
            for d in [day, *template_send_days_touched(day)]
        }
        if not dry_run:
            DailySnapshot.objects.filter(day=day).delete()
            DailySnapshot.objects.bulk_create(
                [
                    DailySnapshot(
                        day=day, channel_id=channel_id, computed_at=now, **_snapshot_fields(values)
                    )
                    for channel_id, values in snapshots.items()
                ]
            )
            CampaignPerformance.objects.filter(day=day).delete()
            CampaignPerformance.objects.bulk_create(
                [
                    CampaignPerformance(
                        campaign_id=cid, day=day, computed_at=now, **_campaign_fields(values)
                    )
                    for cid, values in sorted(campaigns.items())
                ]
            )
            ButtonDaily.objects.filter(day=day).delete()
            ButtonDaily.objects.bulk_create(
                [
                    ButtonDaily(day=day, label=label, computed_at=now, **values)
                    for label, values in sorted(buttons.items())
                ]
            )
            TemplateDaily.objects.filter(day__in=list(templates)).delete()
            TemplateDaily.objects.bulk_create(
                [
                    TemplateDaily(day=d, template_id=tid, computed_at=now, **values)
                    for d, rows in sorted(templates.items())
                    for tid, values in sorted(rows.items())
                ]
            )
    return {
        "snapshots": len(snapshots),
        "campaigns": sorted(campaigns),
        "buttons": len(buttons),
        "total": _snapshot_fields(snapshots[None]),
    }


_SNAPSHOT_FIELDS = {
    f.name
    for f in DailySnapshot._meta.concrete_fields
    if f.name not in {"id", "day", "channel", "computed_at"}
}
_CAMPAIGN_FIELDS = {
    f.name
    for f in CampaignPerformance._meta.concrete_fields
    if f.name not in {"id", "day", "campaign", "computed_at"}
}


def _snapshot_fields(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in _SNAPSHOT_FIELDS}


def _campaign_fields(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in _CAMPAIGN_FIELDS}


# --- Campaign totals and content ------------------------------------------------------------------


def campaign_totals_rollup(*, campaign_ids: Iterable[int], dry_run: bool = False) -> int:
    """Whole-life rows (day empty) of these campaigns, recomputed from all their rows."""
    ids = sorted(set(campaign_ids))
    if not ids:
        return 0
    now = timezone.now()
    with analytics_queries():
        totals = figures.campaign_figures(campaign_ids=ids)
        if dry_run:
            return len(totals)
        CampaignPerformance.objects.filter(day__isnull=True, campaign_id__in=ids).delete()
        CampaignPerformance.objects.bulk_create(
            [
                CampaignPerformance(
                    campaign_id=cid, day=None, computed_at=now, **_campaign_fields(values)
                )
                for cid, values in sorted(totals.items())
            ]
        )
    return len(totals)


def content_rollup(*, first: date, last: date, dry_run: bool = False) -> int:
    """ContentPerformance of the items announced from CONTENT_LOOKBACK_DAYS before `first` to
    `last` (their deliveries, reads and unlocks may have changed on those days)."""

    start, end = range_bounds(first - timedelta(days=CONTENT_LOOKBACK_DAYS), last)
    ids = list(
        ContentItem.objects.filter(
            Q(send_on__gte=first - timedelta(days=CONTENT_LOOKBACK_DAYS), send_on__lte=last)
            | Q(distributed_at__gte=start, distributed_at__lt=end)
        ).values_list("pk", flat=True)
    )
    if not ids:
        return 0
    now = timezone.now()
    with analytics_queries():
        rows = figures.content_item_figures(ids)
        if dry_run:
            return len(rows)
        ContentPerformance.objects.filter(content_item_id__in=ids).delete()
        ContentPerformance.objects.bulk_create(
            [
                ContentPerformance(content_item_id=item_id, computed_at=now, **values)
                for item_id, values in sorted(rows.items())
            ]
        )
    return len(rows)


def rollup_since(first: date) -> list[date]:
    return days_between(first, today())
