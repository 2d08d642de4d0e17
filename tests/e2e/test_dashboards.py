"""The analytics overview in a real browser: Chart.js draws every chart under the strict CSP,
and the period filter redraws them."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics.models import DailySnapshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CHARTS = ["messages", "rates", "money", "audience"]

# Counts the canvas pixels that are not fully transparent: a drawn chart has plenty.
INKED = """(name) => {
  const canvas = document.getElementById('chart-' + name);
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let inked = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) inked++;
  return inked;
}"""


def _snapshots(days: int = 90) -> None:
    today = timezone.localdate()
    DailySnapshot.objects.bulk_create(
        [
            DailySnapshot(
                day=today - timedelta(days=n),
                sent=1000 + 10 * n,
                delivered=950 + 9 * n,
                read=600 + 5 * n,
                failed=20 + n % 7,
                opt_ins=n % 5,
                opt_outs=n % 3,
                conversations_opened=30 + n % 11,
                revenue=Decimal(5000 + 50 * n),
                cost=Decimal(120 + n),
            )
            for n in range(days)
        ]
    )


def _labels(page, name: str) -> list[str]:
    return page.evaluate(f"() => window.parleyCharts['{name}'].data.labels")


def test_the_overview_draws_its_charts_and_the_period_filter_redraws_them(
    make_user, page, login, live_server, screenshot
):
    _snapshots()
    problems = []
    page.on(
        "console",
        lambda msg: (
            problems.append(msg.text)
            if msg.type == "error" and "favicon" not in (msg.location or {}).get("url", "")
            else None
        ),
    )
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    login(make_user("Analyst").username)

    page.goto(f"{live_server.url}/staff/analytics/")
    page.wait_for_function(
        "(n) => window.parleyCharts && Object.keys(window.parleyCharts).length === n",
        arg=len(CHARTS),
    )
    for name in CHARTS:
        assert page.evaluate(f"() => window.parleyCharts['{name}'] instanceof window.Chart")
        assert page.evaluate(INKED, name) > 500, name
    assert len(_labels(page, "messages")) == 30
    before = page.evaluate("() => window.parleyCharts.messages.data.datasets[0].data")
    assert page.get_by_test_id("kpi-sent").inner_text() != "0"
    screenshot("analytics-overview-30-days")

    page.get_by_test_id("range-select").select_option("7")
    page.wait_for_url("**/staff/analytics/?range=7*")
    page.wait_for_function("() => window.parleyCharts && window.parleyCharts.messages")
    labels = _labels(page, "messages")
    assert len(labels) == 7
    after = page.evaluate("() => window.parleyCharts.messages.data.datasets[0].data")
    assert after == before[-7:]
    assert page.evaluate(INKED, "messages") > 500
    screenshot("analytics-overview-7-days")

    # A custom period: the date fields appear only for it.
    start_field = page.locator("input[name=start]")
    assert not start_field.is_visible()
    page.get_by_test_id("range-select").select_option("custom")
    assert start_field.is_visible()
    first = timezone.localdate() - timedelta(days=59)
    last = timezone.localdate() - timedelta(days=50)
    start_field.fill(first.isoformat())
    page.locator("input[name=end]").fill(last.isoformat())
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**range=custom*")
    page.wait_for_function("() => window.parleyCharts && window.parleyCharts.messages")
    assert len(_labels(page, "messages")) == 10
    assert problems == [], problems  # no CSP violation, no script error


def test_every_dashboard_renders_its_charts(make_user, page, login, live_server):
    _snapshots(10)
    login(make_user("Campaign manager").username)
    for path, charts in [
        ("buttons/", 4),
        ("page-views/", 1),
        ("conversations/", 3),
        ("customers/", 1),
        ("revenue/", 1),
    ]:
        page.goto(f"{live_server.url}/staff/analytics/{path}")
        # Each chart is drawn, or says it has nothing to show (no taps in this world).
        page.wait_for_function(
            "(n) => window.parleyCharts && Object.keys(window.parleyCharts).length"
            " + document.querySelectorAll('.chart-empty').length === n",
            arg=charts,
        )


def test_an_empty_period_says_so_and_small_counts_get_whole_number_ticks(
    make_user, page, login, live_server
):
    login(make_user("Analyst").username)
    page.goto(f"{live_server.url}/staff/analytics/")
    for name in CHARTS:
        note = page.get_by_test_id(f"chart-empty-{name}")
        assert note.inner_text() == "No data for this period."
        assert not page.locator(f"#chart-{name}").is_visible()
    assert page.evaluate("() => Object.keys(window.parleyCharts)") == []

    today = timezone.localdate()
    DailySnapshot.objects.bulk_create(
        [DailySnapshot(day=today - timedelta(days=n), sent=n % 2, opt_ins=1) for n in range(5)]
    )
    page.reload()
    page.wait_for_function("() => window.parleyCharts && window.parleyCharts.messages")
    assert not page.get_by_test_id("chart-empty-messages").count()
    ticks = page.evaluate("() => window.parleyCharts.messages.scales.y.ticks.map(t => t.value)")
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
    labels = page.evaluate("() => window.parleyCharts.messages.scales.y.ticks.map(t => t.label)")
    assert len(labels) == len(set(labels)), labels  # never "1 1 1 0 0"
