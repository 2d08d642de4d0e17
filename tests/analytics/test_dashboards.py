"""Staff dashboards: permissions, bounded queries whatever the data, CSV exports, today's
figures, navigation."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.models import (
    ButtonDaily,
    CampaignPerformance,
    ContentPerformance,
    CustomerMetrics,
    DailySnapshot,
)
from analytics.services.customers import customers_summary
from analytics.services.rollups import analytics_rollup
from analytics.views import EXPORTS
from messaging.models import Campaign
from tests.analytics.analytics_support import NOW, D, build_world
from tests.factories import ChannelFactory, ContactFactory, ContentItemFactory

pytestmark = pytest.mark.django_db

PAGES = [
    "/staff/analytics/",
    "/staff/analytics/today/",
    "/staff/analytics/campaigns/",
    "/staff/analytics/templates/",
    "/staff/analytics/buttons/",
    "/staff/analytics/page-views/",
    "/staff/analytics/conversations/",
    "/staff/analytics/customers/",
    "/staff/analytics/revenue/",
]


@pytest.fixture(autouse=True)
def _clock(settings):
    settings.ANALYTICS_TIME_ZONE = "UTC"
    with time_machine.travel(NOW, tick=False):
        yield


def _campaign_page(campaign_id: int) -> str:
    return f"/staff/analytics/campaigns/{campaign_id}/"


@pytest.mark.parametrize("url", [*PAGES, "/staff/analytics/export/daily/"])
def test_anonymous_users_are_sent_to_the_login_page(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("url", [*PAGES, "/staff/analytics/export/daily/"])
@pytest.mark.parametrize("role", ["Agent", None])
def test_users_without_the_permission_get_403(client, make_user, url, role):
    user = make_user(role)
    assert not user.has_perm("analytics.view_dashboard")
    client.force_login(user)
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("role", ["Admin", "Analyst", "Campaign manager", "Content reviewer"])
def test_roles_with_the_permission_see_every_dashboard(client, make_user, role):
    world = build_world()
    analytics_rollup(days=[D])
    client.force_login(make_user(role))
    for url in [*PAGES, _campaign_page(world.campaign.pk)]:
        assert client.get(url).status_code == 200, url
    home = client.get("/staff/").content.decode()
    assert "/staff/analytics/" in home  # the navigation offers it


@pytest.mark.parametrize(
    ("role", "linked"),
    [("Campaign manager", True), ("Analyst", True), ("Content reviewer", False)],
)
def test_the_campaign_report_links_the_campaign_page_only_for_who_may_open_it(
    client, make_user, role, linked
):
    world = build_world()
    client.force_login(make_user(role))
    page = client.get(_campaign_page(world.campaign.pk)).content.decode()
    assert (f'href="/staff/campaigns/{world.campaign.pk}/"' in page) is linked


def test_the_agent_navigation_has_no_analytics(client, make_user):
    client.force_login(make_user("Agent"))
    assert "/staff/analytics/" not in client.get("/staff/").content.decode()


def _fill(size: int, tag: str = "") -> Campaign:
    """Rollup rows of `size` campaigns, 90 days, `size` buttons and customers."""
    channel = ChannelFactory()
    campaigns = [Campaign.objects.create(name=f"C{i}", channel=channel) for i in range(size)]
    days = [NOW.date() - timedelta(days=n) for n in range(90)]
    DailySnapshot.objects.all().delete()
    DailySnapshot.objects.bulk_create(
        [DailySnapshot(day=d, sent=10, delivered=9, read=5, revenue=Decimal(3)) for d in days]
        + [DailySnapshot(day=d, channel=channel, sent=10) for d in days]
    )
    CampaignPerformance.objects.bulk_create(
        [CampaignPerformance(campaign=c, day=None, sent=5, revenue=1) for c in campaigns]
        + [
            CampaignPerformance(campaign=c, day=d, sent=1, revenue=1, hourly_sent=[1] * 24)
            for c in campaigns
            for d in days[:10]
        ]
    )
    ButtonDaily.objects.bulk_create(
        [
            ButtonDaily(day=d, label=f"B{tag}{i}", clicks=2, hourly=[0] * 24)
            for i in range(size)
            for d in days[:10]
        ]
    )
    items = [ContentItemFactory(send_on=days[i % 20]) for i in range(size)]
    ContentPerformance.objects.bulk_create(
        [ContentPerformance(content_item=item, announced=3, delivered=2) for item in items]
    )
    contacts = [ContactFactory() for _ in range(size * 3)]
    CustomerMetrics.objects.bulk_create(
        [
            CustomerMetrics(contact=c, lifetime_value=i, orders=1, segment="at_risk")
            for i, c in enumerate(contacts)
        ]
    )
    from analytics.models import RollupState

    RollupState.objects.update_or_create(
        name="customers", defaults={"computed_at": NOW, "summary": customers_summary()}
    )
    return campaigns[0]


def _queries(client, url) -> int:
    cache.clear()  # today's live figures are cached for a few seconds
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def test_every_dashboard_runs_a_bounded_number_of_queries_whatever_the_data(client, make_user):
    client.force_login(make_user("Analyst"))
    small = _fill(2)
    urls = [*PAGES, _campaign_page(small.pk), "/api/v1/reporting/dashboard",
            f"/api/v1/reporting/campaigns/{small.pk}/summary", "/api/v1/reporting/page-views/",
            "/api/v1/monitoring/dashboard"]  # fmt: skip
    urls += [f"/staff/analytics/export/{t}/?campaign={small.pk}" for t in EXPORTS if t not in {
        "campaigns"}]  # fmt: skip
    counts_small = {url: _queries(client, url) for url in urls}
    big = _fill(30, tag="big")
    counts_big = {
        url.replace(f"/{small.pk}/", f"/{big.pk}/").replace(f"={small.pk}", f"={big.pk}"): n
        for url, n in counts_small.items()
    }
    for url, expected in counts_big.items():
        assert _queries(client, url) == expected, url
    for url, n in counts_small.items():
        assert n <= 25, (url, n)


def test_the_campaign_list_is_paginated(client, make_user):
    client.force_login(make_user("Analyst"))
    _fill(60)
    response = client.get("/staff/analytics/campaigns/")
    assert response.status_code == 200
    assert len(response.context["page"].object_list) == 50
    assert "Page 1 of 2" in response.content.decode()


def test_the_overview_shows_the_period_and_chart_data(client, make_user):
    build_world()
    analytics_rollup(days=[D])
    client.force_login(make_user("Analyst"))
    response = client.get("/staff/analytics/?range=7")
    html = response.content.decode()
    assert response.context["totals"]["sent"] == 4
    assert response.context["charts"]["messages"]["labels"][-1] == NOW.strftime("%d %b")
    assert len(response.context["charts"]["messages"]["labels"]) == 7
    assert 'id="analytics-charts" type="application/json"' in html
    assert 'data-chart="messages"' in html
    assert "<script>" not in html  # nothing inline (CSP)
    assert "vendor/chartjs/chart.umd.min.js" in html and "js/dashboards.js" in html
    assert 'hx-get="/staff/analytics/today/"' in html


@pytest.mark.parametrize(
    ("params", "first", "last", "days"),
    [
        ("range=7", NOW.date() - timedelta(days=6), NOW.date(), 7),
        ("range=90", NOW.date() - timedelta(days=89), NOW.date(), 90),
        ("range=bogus", NOW.date() - timedelta(days=29), NOW.date(), 30),
        ("range=custom&start=2026-03-01&end=2026-03-05", D.replace(day=1), D.replace(day=5), 5),
        ("range=custom&start=2026-03-05&end=2027-01-01", D.replace(day=5), NOW.date(), 8),
        (
            "range=custom&start=2020-01-01&end=2026-03-12",
            NOW.date() - timedelta(days=365),
            NOW.date(),
            366,
        ),
    ],
)
def test_the_date_range(client, make_user, params, first, last, days):
    client.force_login(make_user("Analyst"))
    response = client.get(f"/staff/analytics/revenue/?{params}")
    date_range = response.context["date_range"]
    assert (date_range.first, date_range.last, len(date_range.days)) == (first, last, days)


def test_today_comes_live_from_todays_rows(client, make_user, settings):
    from messaging.models import Status
    from tests.factories import MessageFactory

    settings.ANALYTICS_TODAY_CACHE_SECONDS = 10
    MessageFactory(status=Status.DELIVERED, sent_at=NOW, delivered_at=NOW)
    MessageFactory(status=Status.FAILED, failed_at=NOW)
    client.force_login(make_user("Analyst"))
    response = client.get("/staff/analytics/today/")
    assert response.context["today"]["sent"] == 1
    assert response.context["today"]["failed"] == 1
    MessageFactory(status=Status.SENT, sent_at=NOW)
    assert client.get("/staff/analytics/today/").context["today"]["sent"] == 1  # cached
    cache.clear()
    assert client.get("/staff/analytics/today/").context["today"]["sent"] == 2
    assert 'hx-trigger="every 30s"' in response.content.decode()
    assert response["Cache-Control"].startswith("max-age=0")


def _csv(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_csv_exports_are_formula_safe(client, make_user):
    world = build_world()
    Campaign.objects.filter(pk=world.campaign.pk).update(name='=HYPERLINK("http://x","y")')
    world.contacts["c1"].name = "@SUM(A1)"
    world.contacts["c1"].save(update_fields=["name"])
    analytics_rollup(days=[D], customers=True)
    client.force_login(make_user("Analyst"))
    response = client.get("/staff/analytics/export/campaigns/?range=7")
    assert response["Content-Type"] == "text/csv"
    assert "attachment" in response["Content-Disposition"]
    rows = _csv(response)
    assert rows[0][:2] == ["campaign_id", "campaign"]
    assert rows[1][1] == '\'=HYPERLINK("http://x","y")'
    customers = _csv(client.get("/staff/analytics/export/top-customers/"))
    by_name = {row[1]: row for row in customers[1:]}
    assert "'@SUM(A1)" in by_name
    assert by_name["'@SUM(A1)"][2].startswith("+91")  # a valid E.164 phone stays as it is


def test_every_table_exports(client, make_user):
    world = build_world()
    analytics_rollup(days=[D], customers=True)
    client.force_login(make_user("Analyst"))
    for table in EXPORTS:
        response = client.get(f"/staff/analytics/export/{table}/?campaign={world.campaign.pk}")
        assert response.status_code == 200, table
        assert len(_csv(response)) >= 1
    assert client.get("/staff/analytics/export/nothing/").status_code == 404


def test_the_campaign_summary_explains_its_errors(client, make_user):
    world = build_world()
    analytics_rollup(days=[D, D + timedelta(days=1)])
    client.force_login(make_user("Analyst"))
    response = client.get(_campaign_page(world.campaign.pk))
    html = response.content.decode()
    assert "131026" in html and "Undeliverable" in html
    funnel = {s["step"]: s["count"] for s in response.context["funnel"]}
    assert funnel == {"Targeted": 3, "Sent": 2, "Delivered": 2, "Read": 1, "Replied": 2,
                      "Clicked": 2, "Converted": 1}  # fmt: skip
    assert response.context["hourly"][9] == 2
    assert client.get(_campaign_page(99999)).status_code == 404


def test_a_chart_of_nothing_but_zeros_and_gaps_is_marked_empty():
    from analytics.charts import chart, dataset

    assert chart("line", [], [])["empty"] is True
    assert chart("line", ["5 Dec"], [dataset("Sent", [0]), dataset("Read", [None])])["empty"]
    assert not chart("bar", ["5 Dec", "6 Dec"], [dataset("Sent", [0, 3])])["empty"]
    assert not chart("bar", ["5 Dec"], [dataset("Revenue", [Decimal("0.50")])])["empty"]
