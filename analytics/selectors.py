"""Reads behind the dashboards and the reporting API.

Dashboards read rollups (a bounded number of rows per day); only today's figures come from
live queries over today's rows (indexed by their timestamps). No selector scans all messages.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q, QuerySet, Sum
from django.utils.formats import date_format

from analytics.campaign_live import campaign_rows
from analytics.days import day_bounds, days_between, today
from analytics.db import analytics_queries
from analytics.models import (
    ButtonDaily,
    CampaignPerformance,
    ContentPerformance,
    CustomerMetrics,
    DailySnapshot,
    RfmSegment,
    RollupState,
)
from analytics.ops.jobs import job_last_runs
from analytics.registry import ROLLUP_JOB
from analytics.services import figures
from core.params import query_date_or_none
from messaging.channels.pricing import price_card_current
from messaging.models import Campaign, ContentItem, Conversation, Direction, Message
from messaging.providers.error_codes import error_code_info

RANGE_CHOICES = (("7", "Last 7 days"), ("30", "Last 30 days"), ("90", "Last 90 days"))
DEFAULT_RANGE = "30"
MAX_RANGE_DAYS = 366
ZERO = Decimal("0")
CENTS, COST_PLACES = Decimal("0.01"), Decimal("0.0001")


@dataclass(frozen=True)
class DateRange:
    first: date
    last: date
    key: str  # "7", "30", "90" or "custom"

    @property
    def days(self) -> list[date]:
        return days_between(self.first, self.last)

    @property
    def query(self) -> str:
        if self.key == "custom":
            return f"range=custom&start={self.first.isoformat()}&end={self.last.isoformat()}"
        return f"range={self.key}"

    @property
    def label(self) -> str:
        return f"{date_format(self.first)} to {date_format(self.last)}"


def date_range_from(params) -> DateRange:
    """7, 30 or 90 days to today, or a custom range (at most a year; never past today)."""
    current = today()
    key = str(params.get("range") or params.get("days") or DEFAULT_RANGE)
    if key == "custom":
        first = query_date_or_none(params.get("start"))
        last = query_date_or_none(params.get("end")) or current
        if first is not None:
            last = min(last, current)
            first = min(first, last)
            first = max(first, last - timedelta(days=MAX_RANGE_DAYS - 1))
            return DateRange(first, last, "custom")
        key = DEFAULT_RANGE
    if key not in dict(RANGE_CHOICES):
        key = DEFAULT_RANGE
    return DateRange(current - timedelta(days=int(key) - 1), current, key)


# --- Overview -------------------------------------------------------------------------------------

SUM_FIELDS = (
    "sent", "delivered", "read", "failed", "inbound", "contacts_reached", "new_contacts",
    "opt_ins", "opt_outs", "button_clicks", "link_clicks", "conversations_opened",
    "conversations_closed", "automated_answers", "ratings", "notifications_sent",
    "content_created", "content_approved", "content_distributed", "advisors_served",
    "conversions",
)  # fmt: skip
NULL_FIELDS = (
    "first_response_median_seconds", "automated_share", "average_rating", "computed_at",
)  # fmt: skip
MONEY_FIELDS = (
    "revenue", "revenue_campaign", "revenue_content", "revenue_notification", "revenue_organic",
    "cost",
)  # fmt: skip


def snapshot_series(date_range: DateRange) -> list[dict[str, Any]]:
    """One dict per day of the range (all channels), zeros for days without a snapshot."""
    rows = {
        row["day"]: row
        for row in DailySnapshot.objects.filter(
            channel__isnull=True, day__gte=date_range.first, day__lte=date_range.last
        ).values()
    }
    series = []
    for day in date_range.days:
        row = rows.get(day)
        if row is None:
            row = dict.fromkeys(SUM_FIELDS, 0) | dict.fromkeys(MONEY_FIELDS, ZERO)
            row |= dict.fromkeys(NULL_FIELDS) | {"day": day, "topics": [], "revenue_by_label": {}}
        row["revenue_attributed"] = attributed_revenue(row)
        series.append(row)
    return series


def attributed_revenue(row: dict[str, Any]) -> Decimal:
    """Revenue credited to a message (campaign, content or notification): all revenue but
    the organic part."""
    return Decimal(row.get("revenue") or 0) - Decimal(row.get("revenue_organic") or 0)


def _ratio(part, whole) -> float | None:
    """part / whole, at most 1: counts are taken on the day each event happened, so a range
    can hold a delivery whose send fell before it."""
    return min(1.0, round(float(part) / float(whole), 4)) if whole else None


def kpis(series: list[dict[str, Any]]) -> dict[str, Any]:
    totals: dict[str, Any] = {f: sum(row.get(f) or 0 for row in series) for f in SUM_FIELDS}
    for f in MONEY_FIELDS:
        totals[f] = sum((Decimal(row.get(f) or 0) for row in series), ZERO)
    totals["delivery_rate"] = _ratio(totals["delivered"], totals["sent"])
    totals["read_rate"] = _ratio(totals["read"], totals["delivered"])
    totals["failure_rate"] = _ratio(totals["failed"], totals["sent"] + totals["failed"])
    totals["revenue_attributed"] = attributed_revenue(totals)
    totals["roi"] = figures.roi(totals["revenue_attributed"], totals["cost"])
    rated = [(row["average_rating"], row["ratings"]) for row in series if row.get("ratings")]
    totals["average_rating"] = (
        round(sum(a * n for a, n in rated) / sum(n for _a, n in rated), 2) if rated else None
    )
    computed = [row["computed_at"] for row in series if row.get("computed_at")]
    totals["computed_at"] = max(computed) if computed else None
    return totals


def today_live() -> dict[str, Any]:
    """Today's figures from live queries over today's rows (the only live numbers), kept for
    ANALYTICS_TODAY_CACHE_SECONDS so that many open dashboards cost one computation."""
    day = today()
    key = f"analytics:today:{day.isoformat()}"
    figures_today = cache.get(key)
    if figures_today is None:
        figures_today = _today_compute(day)
        cache.set(key, figures_today, timeout=max(0, settings.ANALYTICS_TODAY_CACHE_SECONDS))
    return figures_today


def _today_compute(day: date) -> dict[str, Any]:
    start, end = day_bounds(day)
    with analytics_queries():
        messages = figures.message_counts(start, end)
        conversions = figures.conversions_by_channel(start, end)
        people = figures.people_figures(start, end)
        inbound = sum(figures.inbound_by_channel(start, end).values())
    revenue = sum((c["revenue"] for c in conversions.values()), ZERO)
    organic = sum((c["by_source"]["organic"] for c in conversions.values()), ZERO)
    return {
        "day": day,
        **messages,
        "delivery_rate": _ratio(messages["delivered"], messages["sent"]),
        "read_rate": _ratio(messages["read"], messages["delivered"]),
        "inbound": inbound,
        "opt_outs": people["opt_outs"],
        "new_contacts": people["new_contacts"],
        "conversions": sum(c["conversions"] for c in conversions.values()),
        "revenue": revenue,
        "revenue_attributed": revenue - organic,
        "revenue_organic": organic,
    }


def content_table(date_range: DateRange, *, limit: int = 100) -> list[dict[str, Any]]:
    """Content items announced in the range, with their delivery and unlock rates."""
    start, end = day_bounds(date_range.first)[0], day_bounds(date_range.last)[1]
    items = list(
        ContentItem.objects.filter(
            Q(send_on__gte=date_range.first, send_on__lte=date_range.last)
            | Q(distributed_at__gte=start, distributed_at__lt=end)
        )
        .order_by("-send_on", "-pk")
        .values("pk", "title", "state", "send_on", "category")[:limit]
    )
    perf = {
        row["content_item_id"]: row
        for row in ContentPerformance.objects.filter(
            content_item_id__in=[i["pk"] for i in items]
        ).values()
    }
    empty = {"announced": 0, "delivered": 0, "read": 0, "unlocked": 0, "link_clicks": 0,
             "delivery_rate": None, "unlock_rate": None}  # fmt: skip
    return [{**item, **{k: perf.get(item["pk"], empty).get(k) for k in empty}} for item in items]


# --- Campaigns ------------------------------------------------------------------------------------


def campaign_totals(date_range: DateRange | None = None):
    """Whole-life rows of the campaigns active in the range (newest campaigns first)."""
    rows = CampaignPerformance.objects.filter(day__isnull=True).select_related("campaign")
    if date_range is not None:
        active = CampaignPerformance.objects.filter(
            day__gte=date_range.first, day__lte=date_range.last
        ).values("campaign_id")
        rows = rows.filter(campaign_id__in=active)
    return rows.order_by("-campaign__created_at", "-campaign_id")


def campaign_report_list() -> QuerySet[Campaign]:
    """The campaigns a report may be asked for by id; the rollups carry the figures."""
    return Campaign.objects.all()


FUNNEL_STEPS = (
    ("Targeted", "targeted", "messages"),
    ("Sent", "sent", "messages"),
    ("Delivered", "delivered", "messages"),
    ("Read", "read", "messages"),
    ("Replied", "replied", "contacts"),
    ("Clicked", "clicked", "contacts"),
    ("Converted", "converted", "contacts"),
)


def campaign_funnel(total) -> list[dict[str, Any]]:
    """A campaign's funnel from its whole-campaign row: sent >= delivered >= read count
    messages that reached at least that status (one message per contact, so also contacts);
    replied, clicked and converted count distinct contacts within the attribution window
    (analytics.services.figures). Page views are never conversions."""
    return [
        {
            "step": name,
            "count": getattr(total, field),
            "counts": unit,
            "share": _ratio(getattr(total, field), total.targeted),
        }
        for name, field, unit in FUNNEL_STEPS
    ]


def campaign_summary(campaign) -> dict[str, Any]:
    """A campaign's figures: its rollups, merged with live reads while it runs and just after
    (`analytics.campaign_live`), so they match the campaign page."""
    total, days, live = campaign_rows(campaign)
    hourly = [0] * 24
    for row in days:
        for hour, n in enumerate(row.hourly_sent or []):
            if hour < 24:
                hourly[hour] += n
    errors = []
    if total is not None:
        for code, n in sorted(total.errors.items(), key=lambda kv: (-kv[1], kv[0])):
            number = int(code) if str(code).lstrip("-").isdigit() else None
            errors.append({"code": code, "count": n, "meaning": error_code_info(number).meaning})
    funnel = campaign_funnel(total) if total is not None else []
    return {
        "total": total,
        "days": days,
        "hourly": hourly,
        "errors": errors,
        "funnel": funnel,
        "live": live,
    }


# --- Buttons --------------------------------------------------------------------------------------


def button_summary(date_range: DateRange, *, top: int = 8) -> dict[str, Any]:
    rows = list(
        ButtonDaily.objects.filter(day__gte=date_range.first, day__lte=date_range.last).order_by(
            "day", "label"
        )
    )
    by_label: dict[str, dict[str, Any]] = {}
    hourly = [0] * 24
    buckets: dict[str, int] = dict.fromkeys(ButtonDaily.DELAY_BUCKETS, 0)
    for row in rows:
        entry = by_label.setdefault(
            row.label,
            {
                "label": row.label,
                "clicks": 0,
                "contacts": 0,
                "delay_sum": 0.0,
                "delay_n": 0,
                "days": defaultdict(int),
                "hourly": [0] * 24,
            },
        )
        entry["clicks"] += row.clicks
        entry["contacts"] += row.contacts
        entry["days"][row.day] += row.clicks
        known = row.clicks - (row.delay_buckets or {}).get("unknown", 0)
        if row.average_delay_seconds is not None and known > 0:
            entry["delay_sum"] += row.average_delay_seconds * known
            entry["delay_n"] += known
        for hour, n in enumerate(row.hourly or []):
            if hour < 24:
                hourly[hour] += n
                entry["hourly"][hour] += n
        for name, n in (row.delay_buckets or {}).items():
            if name in buckets:
                buckets[name] += n
    # `contacts` per label is the sum of each day's distinct tappers: contact-days.
    labels = sorted(by_label.values(), key=lambda e: (-e["clicks"], e["label"]))
    for entry in labels:
        entry["average_delay_seconds"] = (
            entry["delay_sum"] / entry["delay_n"] if entry["delay_n"] else None
        )
    return {
        "labels": labels,
        "top": labels[:top],
        "hourly": hourly,
        "delay_buckets": buckets,
        "total": sum(e["clicks"] for e in labels),
        "rows": rows,
    }


# --- Page views -----------------------------------------------------------------------------------


def page_view_summary(date_range: DateRange, *, limit: int = 500) -> dict[str, Any]:
    """Page views of the range (engagement, never conversions): views and distinct contacts in
    all, by page, by source and by day (figures.page_view_figures, the one definition)."""
    start, end = day_bounds(date_range.first)[0], day_bounds(date_range.last)[1]
    with analytics_queries():
        found = figures.page_view_figures(start, end, limit=limit)
    by_day = {row["day"]: row for row in found["days"]}
    found["days"] = [
        {"day": day, "views": by_day.get(day, {}).get("views", 0),
         "contacts": by_day.get(day, {}).get("contacts", 0)}
        for day in date_range.days
    ]  # fmt: skip
    return found


# --- Conversations -------------------------------------------------------------------------------


def conversation_summary(date_range: DateRange) -> dict[str, Any]:
    series = snapshot_series(date_range)
    topics: dict[str, int] = defaultdict(int)
    for row in series:
        for topic in row.get("topics") or []:
            topics[topic.get("topic") or "(none)"] += int(topic.get("count") or 0)
    medians = [
        row["first_response_median_seconds"]
        for row in series
        if row.get("first_response_median_seconds") is not None
    ]
    return {
        "series": series,
        "totals": kpis(series),
        "active": Conversation.objects.filter(is_open=True).count(),
        "topics": sorted(topics.items(), key=lambda kv: (-kv[1], kv[0])),
        "median_of_days": sorted(medians)[len(medians) // 2] if medians else None,
    }


# --- Customers ------------------------------------------------------------------------------------


def customer_summary(*, limit: int = 20) -> dict[str, Any]:
    state = RollupState.objects.filter(name="customers").first()
    summary = state.summary if state else {}
    metrics = CustomerMetrics.objects.select_related("contact")
    return {
        "computed_at": state.computed_at if state else None,
        "customers": summary.get("customers", 0),
        "segments": [
            (value, label, (summary.get("segments") or {}).get(value, 0))
            for value, label in RfmSegment.choices
        ],
        "tiers": summary.get("tiers") or {},
        "churn": summary.get("churn") or {},
        "at_risk": list(
            metrics.filter(segment=RfmSegment.AT_RISK).order_by("-lifetime_value", "contact_id")[
                :limit
            ]
        ),
        "top": list(metrics.filter(orders__gt=0).order_by("-lifetime_value", "contact_id")[:limit]),
    }


# --- Revenue --------------------------------------------------------------------------------------


def revenue_summary(date_range: DateRange, *, top: int = 10) -> dict[str, Any]:
    series = snapshot_series(date_range)
    totals = kpis(series)
    top_campaigns = list(
        CampaignPerformance.objects.filter(day__gte=date_range.first, day__lte=date_range.last)
        .values("campaign_id", "campaign__name")
        .annotate(revenue=Sum("revenue"), cost=Sum("cost"), conversions=Sum("conversions"))
        .filter(revenue__gt=0)
        .order_by("-revenue", "campaign_id")[:top]
    )
    for row in top_campaigns:
        row["roi"] = figures.roi(Decimal(row["revenue"] or 0), Decimal(row["cost"] or 0))
    return {
        "series": series,
        "totals": totals,
        "top_campaigns": top_campaigns,
        "by_number": revenue_by_number(date_range, totals=totals),
        "by_label": revenue_by_label(series),
        "price_card": price_card_current(on=date_range.last),
    }


def revenue_by_number(date_range: DateRange, *, totals: dict[str, Any]) -> list[dict[str, Any]]:
    """Per number (channel) over the range, from the channel rows of DailySnapshot: the
    revenue attributed to its messages, their cost and ROI; organic revenue belongs to no
    number, so it is one last row without a channel (`channel_id` None)."""
    rows = list(
        DailySnapshot.objects.filter(
            channel__isnull=False, day__gte=date_range.first, day__lte=date_range.last
        )
        .values("channel_id", "channel__name", "channel__display_phone_number")
        .annotate(attributed=Sum("revenue"), cost=Sum("cost"), conversions=Sum("conversions"))
        .order_by("channel__name", "channel_id")
    )
    out = []
    for row in rows:
        attributed = Decimal(row["attributed"] or 0).quantize(CENTS)
        cost = Decimal(row["cost"] or 0).quantize(COST_PLACES)
        out.append(
            {
                "channel_id": row["channel_id"],
                "name": row["channel__name"],
                "number": row["channel__display_phone_number"],
                "conversions": row["conversions"] or 0,
                "attributed": attributed,
                "organic": ZERO.quantize(CENTS),
                "cost": cost,
                "roi": figures.roi(attributed, cost),
            }
        )
    out.append(
        {
            "channel_id": None, "name": "No number (organic)", "number": "", "conversions": None,
            "attributed": ZERO.quantize(CENTS),
            "organic": totals["revenue_organic"].quantize(CENTS),
            "cost": ZERO.quantize(COST_PLACES), "roi": None,
        }
    )  # fmt: skip
    return out


def revenue_by_label(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per the caller's `source` label, summed over the days of `series` (the all-channels
    rows' `revenue_by_label`), most revenue first."""
    labels: dict[str, dict[str, Any]] = {}
    for row in series:
        for label, figures_ in (row.get("revenue_by_label") or {}).items():
            entry = labels.setdefault(
                label, {"label": label, "conversions": 0, "attributed": ZERO, "organic": ZERO}
            )
            entry["conversions"] += int(figures_.get("conversions") or 0)
            entry["attributed"] += Decimal(figures_.get("attributed") or 0)
            entry["organic"] += Decimal(figures_.get("organic") or 0)
    for entry in labels.values():
        entry["attributed"] = entry["attributed"].quantize(CENTS)
        entry["organic"] = entry["organic"].quantize(CENTS)
        entry["revenue"] = entry["attributed"] + entry["organic"]
    return sorted(labels.values(), key=lambda e: (-e["revenue"], e["label"]))


# --- Message reports (API) ------------------------------------------------------------------------


def message_status_report(
    *,
    campaign_id: int | None = None,
    status: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    contact_id: int | None = None,
) -> QuerySet[Message]:
    """Outbound messages for delivery tracking, newest first, with their contact.

    Filters combine with AND; `until` is exclusive. A live read over messages, so callers page
    it (the API reads one page and one row more, never a COUNT).
    """
    rows = Message.objects.filter(direction=Direction.OUTBOUND).select_related("contact")
    if campaign_id is not None:
        rows = rows.filter(campaign_id=campaign_id)
    if status is not None:
        rows = rows.filter(status=status)
    if since:
        rows = rows.filter(created_at__gte=since)
    if until:
        rows = rows.filter(created_at__lt=until)
    if contact_id is not None:
        rows = rows.filter(contact_id=contact_id)
    return rows.order_by("-created_at", "-id")


def inbound_report(
    *, since: datetime | None = None, type: str = "", contact_id: int | None = None
) -> QuerySet[Message]:
    """Inbound messages, newest first, with their contact (paged like the status report)."""
    rows = Message.objects.filter(direction=Direction.INBOUND).select_related("contact")
    if since:
        rows = rows.filter(created_at__gte=since)
    if type:
        rows = rows.filter(type=type)
    if contact_id is not None:
        rows = rows.filter(contact_id=contact_id)
    return rows.order_by("-created_at", "-id")


def rollup_last_run():

    return job_last_runs([ROLLUP_JOB])[ROLLUP_JOB]
