"""The analytics demo: conversions attributed to demo sends, taps, rollups that move."""

import io
import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics.demo import seed_analytics
from analytics.models import (
    ButtonClick,
    ButtonDaily,
    CampaignPerformance,
    ConversionEvent,
    CustomerMetrics,
    DailySnapshot,
    JobRun,
    QualityRating,
)
from crm.models import Segment
from messaging.campaigns.demo import seed_campaigns
from messaging.content.demo import seed_content
from messaging.inbox.demo import seed_inbox
from tests.factories import AdvisorFactory, ContactFactory

pytestmark = pytest.mark.django_db


def test_seed_analytics_attributes_rolls_up_and_is_idempotent(channel, make_user):
    for role in ("Campaign manager", "Content reviewer", "Agent"):
        make_user(role)
    month_ago = timezone.now() - timedelta(days=30)
    contacts = ContactFactory.create_batch(60, consent_updated_at=month_ago)
    Segment.objects.create(name="Diwali 2026 audience", filter={"consent": ["opted_in"]})
    for _ in range(8):
        AdvisorFactory()
    seed_campaigns(rng=random.Random(1), channel=channel, contacts=contacts)
    seed_content(rng=random.Random(2), channel=channel)
    seed_inbox(rng=random.Random(3), channel=channel)

    first = seed_analytics(rng=random.Random(4))
    assert first["rollup"]["state"] == "succeeded"
    sources = set(ConversionEvent.objects.values_list("attribution_source", flat=True))
    assert {"campaign", "organic", "notification"} <= sources
    assert ButtonClick.objects.exists() and ButtonDaily.objects.exists()
    assert DailySnapshot.objects.filter(channel=None).count() == 60
    assert DailySnapshot.objects.filter(channel=None, revenue__gt=0).count() > 20
    assert CampaignPerformance.objects.filter(day=None).exists()
    segments = set(CustomerMetrics.objects.exclude(segment="").values_list("segment", flat=True))
    assert len(segments) >= 3
    assert QualityRating.objects.exists()
    assert JobRun.objects.filter(name="rollup_analytics", state="succeeded").exists()

    counts = (ConversionEvent.objects.count(), ButtonClick.objects.count())
    again = seed_analytics(rng=random.Random(4))
    assert (again["attributed"], again["repeat_orders"], again["organic"], again["taps"]) == (
        0, 0, 0, 0,
    )  # fmt: skip
    assert (ConversionEvent.objects.count(), ButtonClick.objects.count()) == counts


# --- The whole demo, as `make run` seeds it, reads like a real business ------------------------


@pytest.mark.django_db(transaction=False)
def test_the_seeded_demo_has_plausible_money_funnels_page_views_and_quality(channel, settings):
    """`seed_demo` on the simulator's channel, then every figure read as the pages read it.

    Bounds: a marketing campaign in India earns 2x to 30x its messaging cost (ROI 100% to
    3,000%); no campaign shows more than 5,000% (a campaign paused two hours after launch
    has not earned yet: -100% is its truth); organic revenue is larger than attributed."""
    from django.core.management import call_command

    from analytics import selectors
    from analytics.template_report import template_report
    from messaging.campaigns.models import Campaign

    settings.ANALYTICS_EXCHANGE_RATES = {"USD": Decimal("86.0")}  # as the demo's settings
    call_command("seed_demo", stdout=io.StringIO())

    month = selectors.date_range_from({"range": "30"})
    totals = selectors.kpis(selectors.snapshot_series(month))
    assert totals["cost"] > 0 and totals["revenue_attributed"] > 0
    assert 1.0 <= totals["roi"] <= 30.0, totals["roi"]  # 100% to 3,000%
    assert totals["revenue_organic"] > totals["revenue_attributed"]
    week = selectors.kpis(selectors.snapshot_series(selectors.date_range_from({"range": "7"})))
    assert 1.0 <= week["roi"] <= 50.0, week["roi"]

    summaries = {c.name: selectors.campaign_summary(c) for c in Campaign.objects.all()}
    diwali = summaries["Diwali sale 2026"]["total"]
    assert diwali.cost > 0 and 1.0 <= diwali.roi <= 30.0, (diwali.revenue, diwali.cost)
    assert 0 < diwali.converted <= diwali.clicked
    for name, summary in summaries.items():
        total = summary["total"]
        if total is None:
            continue
        funnel = {step["step"]: step["count"] for step in summary["funnel"]}
        assert funnel["Targeted"] >= funnel["Sent"] >= funnel["Delivered"] >= funnel["Read"], name
        assert max(funnel["Replied"], funnel["Clicked"], funnel["Converted"]) <= funnel["Sent"]
        if total.cost:
            assert -1.0 <= total.roi <= 50.0, (name, total.revenue, total.cost)
        else:
            assert total.roi is None
    top = selectors.revenue_summary(month)["top_campaigns"]
    assert all(1.0 <= row["roi"] <= 50.0 for row in top if row["cost"]), top
    numbers = selectors.revenue_summary(month)["by_number"]
    assert all(row["roi"] is None or -1.0 <= row["roi"] <= 30.0 for row in numbers), numbers

    views = selectors.page_view_summary(month)
    assert views["views"] >= 150 and views["contacts"] < views["views"]
    assert len(views["pages"]) >= 5 and len(views["sources"]) >= 3
    assert views["pages"][0]["page"] == "home"

    quality = {row["name"]: row["quality"] for row in template_report(month.first, month.last)}
    assert quality["festive_offer"] == "GREEN" and quality["we_miss_you"] == "YELLOW"
