"""Staff dashboards under /staff/analytics/ (namespace `analytics`).

Every page needs `analytics.view_dashboard`. Views are thin: selectors read the rollups,
`analytics.charts` shapes chart data, templates render. Every table has a CSV export
(`export/<table>/`, cells made formula-safe by core.csv_safe).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from analytics import charts, selectors
from analytics.days import today
from analytics.models import ChurnRisk, CustomerTier
from analytics.services import figures
from analytics.template_report import template_report
from core.audit import audit_record
from core.csv_safe import csv_stream
from core.models import AuditAction
from core.permissions import staff_permission_required
from messaging.channels.models import MessageTemplate

VIEW = "analytics.view_dashboard"
PAGE_SIZE = 50
TABS = [
    ("overview", "Overview"),
    ("campaigns", "Campaigns"),
    ("templates", "Templates"),
    ("buttons", "Buttons"),
    ("page_views", "Page views"),
    ("conversations", "Conversations"),
    ("customers", "Customers"),
    ("revenue", "Revenue"),
]


def _context(request, tab: str, **extra) -> dict[str, Any]:
    date_range = extra.pop("date_range", None) or selectors.date_range_from(request.GET)
    return {
        "tab": tab,
        "tabs": TABS,
        "date_range": date_range,
        "range_choices": selectors.RANGE_CHOICES,
        "currency": settings.ANALYTICS_CURRENCY,
        **extra,
    }


# --- Overview -------------------------------------------------------------------------------------


def _overview_charts(series) -> dict[str, Any]:
    labels = charts.day_labels(series)
    return {
        "messages": charts.chart(
            "line", labels,
            [charts.dataset("Sent", [r["sent"] for r in series]),
             charts.dataset("Delivered", [r["delivered"] for r in series]),
             charts.dataset("Read", [r["read"] for r in series]),
             charts.dataset("Failed", [r["failed"] for r in series])],
            title="Messages per day",
        ),
        "rates": charts.chart(
            "line", labels,
            [charts.dataset("Delivered %", [charts.rate(r["delivered"], r["sent"])
                                            for r in series]),
             charts.dataset("Read %", [charts.rate(r["read"], r["delivered"]) for r in series])],
            title="Delivery and read rates", percent=True,
        ),
        "money": charts.chart(
            "bar", labels,
            [charts.dataset("Attributed revenue", [r["revenue_attributed"] for r in series]),
             charts.dataset("Organic revenue", [r["revenue_organic"] for r in series]),
             charts.dataset("Cost", [r["cost"] for r in series])],
            title="Revenue and cost", money=True,
        ),
        "audience": charts.chart(
            "bar", labels,
            [charts.dataset("Opt-ins", [r["opt_ins"] for r in series]),
             charts.dataset("Opt-outs", [r["opt_outs"] for r in series]),
             charts.dataset("Conversations", [r["conversations_opened"] for r in series])],
            title="Consent and conversations",
        ),
    }  # fmt: skip


@require_GET
@staff_permission_required(VIEW)
def overview(request):
    date_range = selectors.date_range_from(request.GET)
    series = selectors.snapshot_series(date_range)
    return render(
        request,
        "analytics/dashboards/overview.html",
        _context(
            request, "overview", date_range=date_range,
            totals=selectors.kpis(series),
            today=selectors.today_live(),
            content=selectors.content_table(date_range),
            charts=_overview_charts(series),
            poll_seconds=max(5, settings.ANALYTICS_POLL_SECONDS),
            last_run=selectors.rollup_last_run(),
        ),
    )  # fmt: skip


@never_cache
@require_GET
@staff_permission_required(VIEW)
def today_partial(request):
    """htmx partial: today's live figures, polled by the overview."""
    return render(
        request,
        "analytics/dashboards/_today.html",
        {
            "today": selectors.today_live(),
            "poll_seconds": max(5, settings.ANALYTICS_POLL_SECONDS),
            "currency": settings.ANALYTICS_CURRENCY,
        },
    )


# --- Campaigns ------------------------------------------------------------------------------------


@require_GET
@staff_permission_required(VIEW)
def campaigns(request):
    date_range = selectors.date_range_from(request.GET)
    page = Paginator(selectors.campaign_totals(date_range), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "analytics/dashboards/campaigns.html",
        _context(request, "campaigns", date_range=date_range, page=page),
    )


@require_GET
@staff_permission_required(VIEW)
def campaign_detail(request, pk: int):
    campaign = get_object_or_404(selectors.campaign_report_list(), pk=pk)
    summary = selectors.campaign_summary(campaign)
    days = summary["days"]
    labels = [charts.day_label(row.day) for row in days]
    chart_data = {
        "funnel": charts.chart(
            "bar", [s["step"] for s in summary["funnel"]],
            [charts.dataset("Messages, then contacts", [s["count"] for s in summary["funnel"]])],
            title="Funnel",
        ),
        "campaign_days": charts.chart(
            "line", labels,
            [charts.dataset("Sent", [r.sent for r in days]),
             charts.dataset("Delivered", [r.delivered for r in days]),
             charts.dataset("Read", [r.read for r in days]),
             charts.dataset("Failed", [r.failed for r in days])],
            title="By day",
        ),
        "hourly": charts.chart(
            "bar", [f"{h:02d}:00" for h in range(24)],
            [charts.dataset("Sent", summary["hourly"])], title="Sends by hour of day",
        ),
    }  # fmt: skip
    return render(
        request,
        "analytics/dashboards/campaign.html",
        _context(
            request,
            "campaigns",
            campaign=campaign,
            charts=chart_data,
            export_query=f"campaign={campaign.pk}",
            window=settings.ATTRIBUTION_WINDOW_DAYS,
            **summary,
        ),
    )


# --- Templates ------------------------------------------------------------------------------------


@require_GET
@staff_permission_required(VIEW)
def templates(request):
    date_range = selectors.date_range_from(request.GET)
    rows = template_report(date_range.first, date_range.last)
    return render(
        request,
        "analytics/dashboards/templates.html",
        _context(
            request, "templates", date_range=date_range, rows=rows,
            window=settings.ATTRIBUTION_WINDOW_DAYS,
        ),
    )  # fmt: skip


@require_GET
@staff_permission_required(VIEW)
def template_detail(request, pk: int):
    template = get_object_or_404(MessageTemplate.objects.select_related("channel"), pk=pk)
    date_range = selectors.date_range_from(request.GET)
    (row,) = template_report(date_range.first, date_range.last, template_ids=[template.pk])
    return render(
        request,
        "analytics/dashboards/template.html",
        _context(
            request, "templates", date_range=date_range, template=template, row=row,
            window=settings.ATTRIBUTION_WINDOW_DAYS,
        ),
    )  # fmt: skip


# --- Buttons --------------------------------------------------------------------------------------


@require_GET
@staff_permission_required(VIEW)
def buttons(request):
    date_range = selectors.date_range_from(request.GET)
    summary = selectors.button_summary(date_range)
    labels = [charts.day_label(d) for d in date_range.days]
    chart_data = {
        "buttons_daily": charts.chart(
            "bar", labels,
            [charts.dataset(e["label"], [e["days"].get(d, 0) for d in date_range.days])
             for e in summary["top"]],
            title="Taps per button per day", stacked=True,
        ),
        "buttons_hourly": charts.chart(
            "bar", [f"{h:02d}:00" for h in range(24)],
            [charts.dataset("Taps", summary["hourly"])], title="Taps by hour of day",
        ),
        "buttons_hourly_each": charts.chart(
            "bar", [f"{h:02d}:00" for h in range(24)],
            [charts.dataset(e["label"], e["hourly"]) for e in summary["top"]],
            title="Taps by hour of day, per button", stacked=True,
        ),
        "buttons_delay": charts.chart(
            "bar", ["< 1 min", "1-5 min", "5-60 min", "1-24 h", "> 1 day", "unknown"],
            [charts.dataset("Taps", list(summary["delay_buckets"].values()))],
            title="Time from delivery to tap",
        ),
    }  # fmt: skip
    return render(
        request,
        "analytics/dashboards/buttons.html",
        _context(
            request,
            "buttons",
            date_range=date_range,
            charts=chart_data,
            hours=[f"{h:02d}" for h in range(24)],
            **summary,
        ),
    )


# --- Page views -----------------------------------------------------------------------------------


@require_GET
@staff_permission_required(VIEW)
def page_views(request):
    date_range = selectors.date_range_from(request.GET)
    summary = selectors.page_view_summary(date_range)
    days = summary["days"]
    chart_data = {
        "page_views_daily": charts.chart(
            "bar", [charts.day_label(d["day"]) for d in days],
            [charts.dataset("Views", [d["views"] for d in days]),
             charts.dataset("Contacts", [d["contacts"] for d in days])],
            title="Page views per day",
        ),
    }  # fmt: skip
    return render(
        request,
        "analytics/dashboards/page_views.html",
        _context(request, "page_views", date_range=date_range, charts=chart_data, **summary),
    )


# --- Conversations --------------------------------------------------------------------------------


@require_GET
@staff_permission_required(VIEW)
def conversations(request):
    date_range = selectors.date_range_from(request.GET)
    summary = selectors.conversation_summary(date_range)
    series = summary["series"]
    labels = charts.day_labels(series)
    chart_data = {
        "conversations_daily": charts.chart(
            "bar", labels,
            [charts.dataset("Opened", [r["conversations_opened"] for r in series]),
             charts.dataset("Closed", [r["conversations_closed"] for r in series])],
            title="Conversations",
        ),
        "first_response": charts.chart(
            "line", labels,
            [charts.dataset("Median first response (min)",
                            [_minutes(r["first_response_median_seconds"]) for r in series])],
            title="First response time",
        ),
        "quality": charts.chart(
            "line", labels,
            [charts.dataset("Automated share %",
                            [_percent(r["automated_share"]) for r in series]),
             charts.dataset("Average rating (x20)",
                            [_times(r["average_rating"], 20) for r in series])],
            title="Automation and quality", percent=True,
        ),
    }  # fmt: skip
    return render(
        request,
        "analytics/dashboards/conversations.html",
        _context(request, "conversations", date_range=date_range, charts=chart_data, **summary),
    )


def _minutes(seconds):
    return round(seconds / 60.0, 1) if seconds is not None else None


def _percent(share):
    return round(share * 100.0, 1) if share is not None else None


def _times(value, factor):
    return round(value * factor, 1) if value is not None else None


# --- Customers ------------------------------------------------------------------------------------


@require_GET
@staff_permission_required(VIEW)
def customers(request):
    summary = selectors.customer_summary()
    chart_data = {
        "segments": charts.chart(
            "bar", [label for _v, label, _n in summary["segments"]],
            [charts.dataset("Customers", [n for _v, _l, n in summary["segments"]])],
            title="RFM segments",
        ),
    }  # fmt: skip
    return render(
        request,
        "analytics/dashboards/customers.html",
        _context(
            request,
            "customers",
            charts=chart_data,
            tier_labels=CustomerTier.choices,
            churn_labels=ChurnRisk.choices,
            **summary,
        ),
    )


# --- Revenue --------------------------------------------------------------------------------------


@require_GET
@staff_permission_required(VIEW)
def revenue(request):
    date_range = selectors.date_range_from(request.GET)
    summary = selectors.revenue_summary(date_range)
    series = summary["series"]
    labels = charts.day_labels(series)
    chart_data = {
        "revenue_sources": charts.chart(
            "bar", labels,
            [charts.dataset(name, [r[f"revenue_{key}"] for r in series])
             for key, name in SOURCES],
            title="Revenue by source", stacked=True, money=True,
        ),
    }  # fmt: skip
    return render(
        request,
        "analytics/dashboards/revenue.html",
        _context(
            request, "revenue", date_range=date_range, charts=chart_data,
            sources=[(name, summary["totals"][f"revenue_{key}"]) for key, name in SOURCES],
            window=settings.ATTRIBUTION_WINDOW_DAYS,
            **summary,
        ),
    )  # fmt: skip


SOURCES = [
    ("campaign", "Campaigns"),
    ("content", "Content"),
    ("notification", "Notifications"),
    ("organic", "Organic"),
]


# --- CSV exports ----------------------------------------------------------------------------------

Table = Callable[[Any], tuple[list[str], Iterable[Iterable[Any]]]]


def _daily_table(request):
    series = selectors.snapshot_series(selectors.date_range_from(request.GET))
    fields = ["day", "sent", "delivered", "read", "failed", "inbound", "contacts_reached",
              "new_contacts", "opt_ins", "opt_outs", "button_clicks", "link_clicks",
              "conversations_opened", "conversations_closed", "first_response_median_seconds",
              "automated_share", "average_rating", "notifications_sent", "content_created",
              "content_approved", "content_distributed", "advisors_served", "conversions",
              "revenue", "revenue_attributed", "revenue_campaign", "revenue_content",
              "revenue_notification", "revenue_organic", "cost"]  # fmt: skip
    return fields, ([row.get(f) for f in fields] for row in series)


def _content_table(request):
    rows = selectors.content_table(selectors.date_range_from(request.GET), limit=1000)
    fields = ["pk", "title", "state", "category", "send_on", "announced", "delivered", "read",
              "unlocked", "link_clicks", "delivery_rate", "unlock_rate"]  # fmt: skip
    return ["id", *fields[1:]], ([row.get(f) for f in fields] for row in rows)


def _campaigns_table(request):
    rows = selectors.campaign_totals(selectors.date_range_from(request.GET))
    header = ["campaign_id", "campaign", "state", "targeted", "sent", "delivered", "read",
              "failed", "replied", "clicked", "converted", "attributed_revenue", "cost",
              "roi"]  # fmt: skip
    return header, (
        [r.campaign_id, r.campaign.name, r.campaign.state, r.targeted, r.sent, r.delivered,
         r.read, r.failed, r.replied, r.clicked, r.converted, r.revenue, r.cost, r.roi]
        for r in rows.iterator(chunk_size=500)
    )  # fmt: skip


def _campaign_rows(request):
    campaign = get_object_or_404(
        selectors.campaign_report_list(), pk=request.GET.get("campaign") or 0
    )
    summary = selectors.campaign_summary(campaign)
    header = ["day", "targeted", "sent", "delivered", "read", "failed", "replied", "clicked",
              "converted", "attributed_revenue", "cost", "roi"]  # fmt: skip
    rows = [*summary["days"], *([summary["total"]] if summary["total"] else [])]
    return header, (
        [r.day or "total", r.targeted, r.sent, r.delivered, r.read, r.failed, r.replied,
         r.clicked, r.converted, r.revenue, r.cost, r.roi]
        for r in rows
    )  # fmt: skip


def _campaign_errors(request):
    campaign = get_object_or_404(
        selectors.campaign_report_list(), pk=request.GET.get("campaign") or 0
    )
    errors = selectors.campaign_summary(campaign)["errors"]
    return ["error_code", "count", "meaning"], (
        [e["code"], e["count"], e["meaning"]] for e in errors
    )


TEMPLATE_COLUMNS = ["template_id", "channel", "name", "language", "category", "status",
                    "quality", "sent", "delivered", "read", "replied", "clicked", "failed",
                    "cost"]  # fmt: skip


def _template_rows(request) -> list[dict[str, Any]]:
    date_range = selectors.date_range_from(request.GET)
    pk = request.GET.get("template")
    ids = [int(pk)] if pk and pk.isdigit() and len(pk) < 19 else None
    return template_report(date_range.first, date_range.last, template_ids=ids)


def _templates_table(request):
    rows = _template_rows(request)
    fields = ["id", *TEMPLATE_COLUMNS[1:]]
    return TEMPLATE_COLUMNS, ([row[f] for f in fields] for row in rows)


def _template_errors_table(request):
    rows = _template_rows(request)
    header = ["template_id", "name", "language", "error_code", "title", "count"]
    return header, (
        [row["id"], row["name"], row["language"], e["code"], e["title"], e["count"]]
        for row in rows
        for e in row["errors"]
    )


def _buttons_table(request):
    summary = selectors.button_summary(selectors.date_range_from(request.GET))
    # Each day's distinct tappers added up over the period: contact-days, not contacts.
    return ["button", "taps", "contact_days", "average_delay_seconds"], (
        [e["label"], e["clicks"], e["contacts"], e["average_delay_seconds"]]
        for e in summary["labels"]
    )


def _button_days_table(request):
    summary = selectors.button_summary(selectors.date_range_from(request.GET))
    return ["day", "button", "taps", "contacts", "average_delay_seconds"], (
        [r.day, r.label, r.clicks, r.contacts, r.average_delay_seconds] for r in summary["rows"]
    )


def _button_hours_table(request):
    summary = selectors.button_summary(selectors.date_range_from(request.GET))
    return ["button", "hour", "taps"], (
        [e["label"], f"{hour:02d}:00", n] for e in summary["labels"] for hour, n in
        enumerate(e["hourly"])
    )  # fmt: skip


def _page_view_pages_table(request):
    summary = selectors.page_view_summary(selectors.date_range_from(request.GET), limit=5000)
    return ["page", "views", "contacts"], (
        [r["page"], r["views"], r["contacts"]] for r in summary["pages"]
    )


def _page_view_sources_table(request):
    summary = selectors.page_view_summary(selectors.date_range_from(request.GET), limit=5000)
    return ["source", "views", "contacts"], (
        [r["source"], r["views"], r["contacts"]] for r in summary["sources"]
    )


def _page_view_days_table(request):
    summary = selectors.page_view_summary(selectors.date_range_from(request.GET))
    return ["day", "views", "contacts"], ([r["day"], r["views"], r["contacts"]]
                                          for r in summary["days"])  # fmt: skip


def _topics_table(request):
    summary = selectors.conversation_summary(selectors.date_range_from(request.GET))
    return ["topic", "automated_answers"], ([t, n] for t, n in summary["topics"])


def _segments_table(request):
    summary = selectors.customer_summary()
    return ["segment", "customers"], ([label, n] for _v, label, n in summary["segments"])


def _customer_rows(metrics):
    header = ["contact_id", "name", "phone", "lifetime_value", "orders", "average_order_value",
              "last_order_at", "recency", "frequency", "monetary", "segment", "churn_risk",
              "tier", "read_rate", "reply_rate"]  # fmt: skip
    rows = (
        [m.contact_id, m.contact.display_name, m.contact.phone, m.lifetime_value, m.orders,
         m.average_order_value, m.last_order_at, m.recency_score, m.frequency_score,
         m.monetary_score, m.segment, m.churn_risk, m.tier, m.read_rate, m.reply_rate]
        for m in metrics
    )  # fmt: skip
    return header, rows


def _at_risk_table(request):
    return _customer_rows(selectors.customer_summary(limit=1000)["at_risk"])


def _top_customers_table(request):
    return _customer_rows(selectors.customer_summary(limit=1000)["top"])


def _revenue_sources_table(request):
    series = selectors.snapshot_series(selectors.date_range_from(request.GET))
    header = ["day", "campaign", "content", "notification", "attributed", "organic", "total",
              "cost", "roi"]  # fmt: skip
    return header, (
        [r["day"], r["revenue_campaign"], r["revenue_content"], r["revenue_notification"],
         r["revenue_attributed"], r["revenue_organic"], r["revenue"], r["cost"],
         figures.roi(r["revenue_attributed"], r["cost"])]
        for r in series
    )  # fmt: skip


def _revenue_numbers_table(request):
    rows = selectors.revenue_summary(selectors.date_range_from(request.GET))["by_number"]
    header = ["channel_id", "number_name", "number", "conversions", "attributed", "organic",
              "cost", "roi"]  # fmt: skip
    return header, (
        [r["channel_id"], r["name"], r["number"], r["conversions"], r["attributed"],
         r["organic"], r["cost"], r["roi"]]
        for r in rows
    )  # fmt: skip


def _revenue_labels_table(request):
    rows = selectors.revenue_summary(selectors.date_range_from(request.GET))["by_label"]
    return ["source", "conversions", "attributed", "organic", "total"], (
        [r["label"], r["conversions"], r["attributed"], r["organic"], r["revenue"]] for r in rows
    )


def _top_campaigns_table(request):
    rows = selectors.revenue_summary(selectors.date_range_from(request.GET), top=1000)
    return ["campaign_id", "campaign", "conversions", "attributed_revenue", "cost", "roi"], (
        [r["campaign_id"], r["campaign__name"], r["conversions"], r["revenue"], r["cost"], r["roi"]]
        for r in rows["top_campaigns"]
    )


EXPORTS: dict[str, tuple[Table, tuple[int, ...]]] = {
    "daily": (_daily_table, ()),
    "content": (_content_table, ()),
    "campaigns": (_campaigns_table, ()),
    "campaign-days": (_campaign_rows, ()),
    "campaign-errors": (_campaign_errors, ()),
    "templates": (_templates_table, ()),
    "template-errors": (_template_errors_table, ()),
    "buttons": (_buttons_table, ()),
    "button-days": (_button_days_table, ()),
    "button-hours": (_button_hours_table, ()),
    "page-view-pages": (_page_view_pages_table, ()),
    "page-view-sources": (_page_view_sources_table, ()),
    "page-view-days": (_page_view_days_table, ()),
    "topics": (_topics_table, ()),
    "segments": (_segments_table, ()),
    "at-risk": (_at_risk_table, (2,)),
    "top-customers": (_top_customers_table, (2,)),
    "revenue-sources": (_revenue_sources_table, ()),
    "revenue-numbers": (_revenue_numbers_table, ()),
    "revenue-labels": (_revenue_labels_table, ()),
    "top-campaigns": (_top_campaigns_table, ()),
}


@require_GET
@staff_permission_required(VIEW)
def export(request, table: str):
    try:
        build, phone_columns = EXPORTS[table]
    except KeyError:
        raise Http404("No such table.") from None
    header, rows = build(request)
    filters = {k: v for k, v in request.GET.items() if v}
    audit_record(AuditAction.EXPORT, details={"what": f"analytics {table}", "filters": filters})
    response = StreamingHttpResponse(
        csv_stream(header, rows, phone_columns=phone_columns), content_type="text/csv"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="parley-{table}-{today().isoformat()}.csv"'
    )
    return response
