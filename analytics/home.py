"""Analytics' sections of the staff home (`core.home`): the analyst's key figures and the
admin's health and alerts. Both read what the dashboards and the operations centre read
(`analytics.selectors`, `analytics.ops.health`), so no figure or check is defined twice."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from analytics.ops.errorlog import error_summary
from analytics.ops.health import OK, health_collect
from analytics.selectors import date_range_from, kpis, rollup_last_run, snapshot_series, today_live
from core.home import HomeSection, home_register
from core.roles import ADMIN, ANALYST

KPI_RANGE = "7"  # the dashboards' "Last 7 days"


def analyst_home(user) -> dict[str, Any]:
    """Today's live figures and the last 7 days' totals, as the overview dashboard shows
    them (today's cached for ANALYTICS_TODAY_CACHE_SECONDS; the week from the rollups)."""
    date_range = date_range_from({"range": KPI_RANGE})
    return {
        "today": today_live(),
        "week": kpis(snapshot_series(date_range)),
        "date_range": date_range,
        "currency": settings.ANALYTICS_CURRENCY,
        "last_run": rollup_last_run(),
    }


def admin_home(user) -> dict[str, Any]:
    """The operations centre's health report boiled down: the overall state, the core
    components, and the open alerts (every component that is not ok, inactive numbers
    aside) with the failures of the last day."""
    report = health_collect()
    alerts = [
        c
        for c in report["components"]
        if c["state"] != OK and (not c["key"].startswith("channel:") or c["channel"].is_active)
    ]
    failures = error_summary()
    return {
        "status": report["status"],
        "time": report["time"],
        "core": report["core"],
        "alerts": alerts,
        "failures": failures,
        "failures_total": sum(failures.values()),
        "attention": len(alerts),
    }


def home_sections_register() -> None:
    home_register(
        HomeSection(
            "health", "Health and alerts", ADMIN, "core.view_operations",
            "analytics/home/_health.html", admin_home,
        ),
        HomeSection(
            "kpis", "Key figures", ANALYST, "analytics.view_dashboard",
            "analytics/home/_kpis.html", analyst_home,
        ),
    )  # fmt: skip
