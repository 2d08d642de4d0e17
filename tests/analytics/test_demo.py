"""The analytics demo: conversions attributed to demo sends, taps, rollups that move."""

import random

import pytest

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
from messaging.campaigns.demo import seed_campaigns
from messaging.content.demo import seed_content
from messaging.inbox.demo import seed_inbox
from tests.factories import AdvisorFactory, ContactFactory

pytestmark = pytest.mark.django_db


def test_seed_analytics_attributes_rolls_up_and_is_idempotent(channel, make_user):
    for role in ("Campaign manager", "Content reviewer", "Agent"):
        make_user(role)
    contacts = ContactFactory.create_batch(40)
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
