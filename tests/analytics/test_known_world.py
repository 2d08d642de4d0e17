"""Every funnel, overview, content, button and page-view figure on the dashboards, in their
CSVs and in the reporting endpoints equals the hand count of tests/analytics/known_world.py
(README "Metrics glossary" has the definitions). Runs on SQLite and PostgreSQL
(Makefile POSTGRES_PROOFS)."""

import csv
import html
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from analytics.days import days_between
from analytics.models import CampaignPerformance
from analytics.services.rollups import analytics_rollup
from tests.analytics.known_world import EXCHANGE_RATES, LAST, NOW, PERIOD, D, build_known_world

pytestmark = pytest.mark.django_db
D1, D2 = D + timedelta(days=1), D + timedelta(days=2)
FUNNEL_UNITS = ["messages"] * 4 + ["contacts"] * 3


@pytest.fixture(autouse=True)
def _clock(settings):
    settings.ANALYTICS_TIME_ZONE = "UTC"
    settings.ATTRIBUTION_WINDOW_DAYS = 7
    settings.ANALYTICS_CURRENCY = "INR"
    settings.ANALYTICS_EXCHANGE_RATES = EXCHANGE_RATES
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world():
    w = build_known_world()
    analytics_rollup(days=days_between(D, LAST))
    return w


@pytest.fixture
def analyst(client, make_user):
    client.force_login(make_user("Analyst"))
    return client


def _csv(client, table: str, query: str = PERIOD) -> list[dict[str, str]]:
    response = client.get(f"/staff/analytics/export/{table}/?{query}")
    assert response.status_code == 200, table
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def _figures(row, names):
    return tuple(getattr(row, n) for n in names)


COUNTS = ("targeted", "sent", "delivered", "read", "failed", "replied", "clicked", "converted")


# --- Campaigns -----------------------------------------------------------------------------------


def test_the_campaign_funnels_count_messages_then_contacts_in_the_window(world, analyst):
    k1 = CampaignPerformance.objects.get(campaign=world.k1, day=None)
    assert _figures(k1, COUNTS) == (6, 5, 4, 2, 1, 1, 2, 3)
    assert (k1.conversions, k1.revenue, k1.errors) == (4, Decimal("2030.00"), {"131026": 1})
    k2 = CampaignPerformance.objects.get(campaign=world.k2, day=None)
    assert _figures(k2, COUNTS) == (2, 2, 2, 1, 0, 1, 1, 0)
    assert (k2.conversions, k2.revenue) == (0, 0)

    days = {
        r.day: r for r in CampaignPerformance.objects.filter(campaign=world.k1, day__isnull=False)
    }
    assert sorted(days) == [D, D1, D2]  # p3's late reply and tap (D+8) are outside the window
    assert _figures(days[D], COUNTS) == (6, 5, 4, 2, 1, 1, 2, 2)
    assert (days[D].conversions, days[D].revenue) == (2, Decimal("1200.00"))
    assert (days[D1].converted, days[D1].conversions, days[D1].revenue) == (1, 1, 0)
    assert (days[D2].converted, days[D2].conversions, days[D2].revenue) == (1, 1, Decimal(830))

    page = analyst.get(f"/staff/analytics/campaigns/{world.k1.pk}/")
    funnel = page.context["funnel"]
    assert [(s["step"], s["count"]) for s in funnel] == [
        ("Targeted", 6), ("Sent", 5), ("Delivered", 4), ("Read", 2), ("Replied", 1),
        ("Clicked", 2), ("Converted", 3),
    ]  # fmt: skip
    assert [s["counts"] for s in funnel] == FUNNEL_UNITS
    assert [s["share"] for s in funnel] == [1.0, 0.8333, 0.6667, 0.3333, 0.1667, 0.3333, 0.5]
    counts = [s["count"] for s in funnel[1:4]]
    assert counts == sorted(counts, reverse=True)  # sent >= delivered >= read
    funnel2 = analyst.get(f"/staff/analytics/campaigns/{world.k2.pk}/").context["funnel"]
    assert [s["count"] for s in funnel2] == [2, 2, 2, 1, 1, 1, 0]


def test_the_campaign_csvs_hold_the_same_figures(world, analyst):
    rows = {r["campaign"]: r for r in _csv(analyst, "campaigns")}
    wanted = ["targeted", "sent", "delivered", "read", "failed", "replied", "clicked", "converted"]
    assert [rows["Diwali"][k] for k in wanted] == ["6", "5", "4", "2", "1", "1", "2", "3"]
    assert rows["Diwali"]["attributed_revenue"] == "2030.00"
    assert [rows["Spring"][k] for k in wanted] == ["2", "2", "2", "1", "0", "1", "1", "0"]

    by_day = {r["day"]: r for r in _csv(analyst, "campaign-days", f"campaign={world.k1.pk}")}
    assert list(by_day) == [D.isoformat(), D1.isoformat(), D2.isoformat(), "total"]
    assert [by_day[D.isoformat()][k] for k in wanted] == ["6", "5", "4", "2", "1", "1", "2", "2"]
    assert [by_day["total"][k] for k in wanted] == ["6", "5", "4", "2", "1", "1", "2", "3"]
    assert by_day[D2.isoformat()]["attributed_revenue"] == "830.00"

    errors = _csv(analyst, "campaign-errors", f"campaign={world.k1.pk}")
    assert [(r["error_code"], r["count"]) for r in errors] == [("131026", "1")]


def test_the_campaign_pages_export_links_download_that_campaigns_rows(world, analyst):
    page = analyst.get(f"/staff/analytics/campaigns/{world.k1.pk}/").content.decode()
    for table in ("campaign-days", "campaign-errors"):
        href = re.search(rf'href="([^"]+)" data-testid="export-{table}"', page).group(1)
        assert f"campaign={world.k1.pk}" in html.unescape(href)
        response = analyst.get(html.unescape(href))
        assert response.status_code == 200, (table, href)
        assert response["Content-Type"].startswith("text/csv")


def test_the_campaign_summary_endpoint_reports_the_same_funnel(world, analyst):
    body = analyst.get(f"/api/v1/reporting/campaigns/{world.k1.pk}/summary").json()
    assert [(s["step"], s["count"], s["counts"]) for s in body["funnel"]] == [
        ("Targeted", 6, "messages"), ("Sent", 5, "messages"), ("Delivered", 4, "messages"),
        ("Read", 2, "messages"), ("Replied", 1, "contacts"), ("Clicked", 2, "contacts"),
        ("Converted", 3, "contacts"),
    ]  # fmt: skip
    total = body["total"]
    assert [total[k] for k in COUNTS] == [6, 5, 4, 2, 1, 1, 2, 3]
    assert (total["conversions"], total["revenue"]) == (4, "2030.00")
    assert [d["day"] for d in body["days"]] == [D.isoformat(), D1.isoformat(), D2.isoformat()]
    assert body["errors"][0]["code"] == "131026" and body["errors"][0]["count"] == 1


# --- Overview -------------------------------------------------------------------------------------


def test_the_overview_counts_conversions_without_page_views(world, analyst):
    page = analyst.get(f"/staff/analytics/?{PERIOD}")
    totals = page.context["totals"]
    assert (totals["sent"], totals["delivered"], totals["read"], totals["failed"]) == (
        10, 9, 4, 1,
    )  # fmt: skip
    assert (totals["contacts_reached"], totals["inbound"]) == (10, 6)
    assert (totals["button_clicks"], totals["link_clicks"]) == (4, 1)
    assert (totals["delivery_rate"], totals["read_rate"], totals["failure_rate"]) == (
        0.9, 0.4444, 0.0909,
    )  # fmt: skip
    assert (totals["opt_ins"], totals["opt_outs"], totals["new_contacts"]) == (0, 0, 0)
    assert (totals["notifications_sent"], totals["advisors_served"]) == (1, 2)
    assert totals["conversions"] == 8
    assert totals["revenue"] == Decimal("3380.00")
    assert (
        totals["revenue_campaign"], totals["revenue_content"], totals["revenue_notification"],
        totals["revenue_organic"],
    ) == (Decimal(2030), Decimal(400), Decimal(150), Decimal(800))  # fmt: skip

    today = page.context["today"]
    assert (today["sent"], today["conversions"], today["revenue"]) == (0, 1, Decimal(500))

    daily = {r["day"]: r for r in _csv(analyst, "daily")}
    assert len(daily) == 11
    d = daily[D.isoformat()]
    assert (d["sent"], d["delivered"], d["read"], d["failed"]) == ("8", "7", "3", "1")
    assert (d["contacts_reached"], d["inbound"], d["button_clicks"]) == ("8", "3", "2")
    assert (d["conversions"], d["revenue"]) == ("5", "2050.00")
    assert (d["revenue_campaign"], d["revenue_organic"]) == ("1200.00", "300.00")
    d1 = daily[D1.isoformat()]
    assert (d1["sent"], d1["contacts_reached"], d1["conversions"]) == ("2", "2", "1")
    assert sum(int(r["conversions"]) for r in daily.values()) == 8
    assert sum(int(r["contacts_reached"]) for r in daily.values()) == 10  # contact-days


def test_the_dashboard_endpoint_and_its_monitoring_alias_agree(world, analyst):
    body = analyst.get(f"/api/v1/reporting/dashboard?{PERIOD}").json()
    totals = body["totals"]
    assert [totals[k] for k in ("sent", "delivered", "read", "failed", "inbound")] == [
        10, 9, 4, 1, 6,
    ]  # fmt: skip
    assert (totals["conversions"], totals["revenue"]) == (8, "3380.00")
    assert (body["today"]["conversions"], body["today"]["revenue"]) == (1, "500.00")
    day = next(r for r in body["days"] if r["day"] == D.isoformat())
    assert (day["conversions"], day["revenue"]) == (5, "2050.00")
    assert analyst.get(f"/api/v1/monitoring/dashboard?{PERIOD}").json() == body

    inbound = analyst.get("/api/v1/reporting/inbound?limit=10").json()
    assert len(inbound["results"]) == 6
    assert analyst.get("/api/v1/monitoring/inbound?limit=10").json() == inbound


# --- Content --------------------------------------------------------------------------------------


def test_content_figures(world, analyst):
    content = analyst.get(f"/staff/analytics/?{PERIOD}").context["content"]
    assert len(content) == 1
    item = content[0]
    assert [item[k] for k in ("announced", "delivered", "read", "unlocked", "link_clicks")] == [
        2, 2, 1, 1, 0,
    ]  # fmt: skip
    assert (item["delivery_rate"], item["unlock_rate"]) == (1.0, 0.5)
    (row,) = _csv(analyst, "content")
    assert [row[k] for k in ("announced", "delivered", "read", "unlocked", "link_clicks")] == [
        "2", "2", "1", "1", "0",
    ]  # fmt: skip
    assert (row["delivery_rate"], row["unlock_rate"]) == ("1.0", "0.5")


# --- Buttons --------------------------------------------------------------------------------------


def test_buttons_per_button_and_hour(world, analyst):
    page = analyst.get(f"/staff/analytics/buttons/?{PERIOD}")
    labels = {e["label"]: e for e in page.context["labels"]}
    assert (labels["Shop"]["clicks"], labels["Shop"]["contacts"]) == (3, 3)
    assert (labels["Unlock"]["clicks"], labels["Unlock"]["contacts"]) == (1, 1)
    shop_hours = {h: n for h, n in enumerate(labels["Shop"]["hourly"]) if n}
    assert shop_hours == {9: 1, 10: 1, 14: 1}
    assert {h: n for h, n in enumerate(labels["Unlock"]["hourly"]) if n} == {18: 1}
    assert page.context["total"] == 4
    chart = page.context["charts"]["buttons_hourly_each"]
    assert {d["label"]: d["data"][9] + d["data"][10] + d["data"][14] for d in chart["datasets"]}[
        "Shop"
    ] == 3

    rows = {r["button"]: r for r in _csv(analyst, "buttons")}
    assert (rows["Shop"]["taps"], rows["Shop"]["contact_days"]) == ("3", "3")
    hours = _csv(analyst, "button-hours")
    assert len(hours) == 48  # 24 hours for each of the two buttons
    tapped = {(r["button"], r["hour"]): r["taps"] for r in hours if r["taps"] != "0"}
    assert tapped == {("Shop", "09:00"): "1", ("Shop", "10:00"): "1", ("Shop", "14:00"): "1",
                      ("Unlock", "18:00"): "1"}  # fmt: skip
    days = _csv(analyst, "button-days")
    assert [(r["day"], r["button"], r["taps"], r["contacts"]) for r in days] == [
        (D.isoformat(), "Shop", "1", "1"), (D.isoformat(), "Unlock", "1", "1"),
        (D1.isoformat(), "Shop", "1", "1"), ((D + timedelta(days=8)).isoformat(), "Shop", "1", "1"),
    ]  # fmt: skip


# --- Page views -----------------------------------------------------------------------------------


def test_page_views_are_reported_on_their_own(world, analyst):
    page = analyst.get(f"/staff/analytics/page-views/?{PERIOD}")
    ctx = page.context
    assert (ctx["views"], ctx["contacts"]) == (4, 3)
    assert ctx["pages"] == [
        {"page": "pricing", "views": 3, "contacts": 2},
        {"page": "checkout", "views": 1, "contacts": 1},
    ]
    assert ctx["sources"] == [
        {"source": "web", "views": 3, "contacts": 2},
        {"source": "app", "views": 1, "contacts": 1},
    ]
    by_day = {d["day"]: (d["views"], d["contacts"]) for d in ctx["days"]}
    assert (by_day[D], by_day[D1], len(by_day)) == ((3, 3), (1, 1), 11)

    assert [(r["page"], r["views"], r["contacts"]) for r in _csv(analyst, "page-view-pages")] == [
        ("pricing", "3", "2"), ("checkout", "1", "1"),
    ]  # fmt: skip
    assert [
        (r["source"], r["views"], r["contacts"]) for r in _csv(analyst, "page-view-sources")
    ] == [("web", "3", "2"), ("app", "1", "1")]
    days = {r["day"]: (r["views"], r["contacts"]) for r in _csv(analyst, "page-view-days")}
    assert (days[D.isoformat()], days[D1.isoformat()]) == (("3", "3"), ("1", "1"))

    body = analyst.get(f"/api/v1/reporting/page-views/?{PERIOD}").json()
    assert (body["first"], body["last"]) == (D.isoformat(), LAST.isoformat())
    assert (body["views"], body["contacts"]) == (4, 3)
    assert body["pages"] == ctx["pages"] and body["sources"] == ctx["sources"]
    assert {d["day"]: d["views"] for d in body["days"]}[D.isoformat()] == 3


@pytest.mark.parametrize("role", ["Agent", None])
def test_page_views_need_the_dashboard_permission(client, make_user, role):
    client.force_login(make_user(role))
    assert client.get("/staff/analytics/page-views/").status_code == 403
    assert client.get("/api/v1/reporting/page-views/").status_code == 403
    assert client.get("/api/v1/monitoring/dashboard").status_code == 403
    assert client.get("/api/v1/monitoring/inbound").status_code == 403


def test_page_views_and_aliases_refuse_anonymous_callers(client):
    assert client.get("/staff/analytics/page-views/").status_code == 302
    for url in ("/api/v1/reporting/page-views/", "/api/v1/monitoring/dashboard",
                "/api/v1/monitoring/inbound"):  # fmt: skip
        assert client.get(url).status_code == 401, url


def test_a_bad_period_falls_back_to_the_default_and_never_fails(world, analyst):
    response = analyst.get("/api/v1/reporting/page-views/?range=custom&start=nonsense")
    assert response.status_code == 200
    assert response.json()["views"] == 4  # the default 30 days still hold D .. D+10
