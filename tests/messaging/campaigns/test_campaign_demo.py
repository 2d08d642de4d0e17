"""The demo shows number health: a number with a tier and a quality, and a marketing campaign
that paused itself on a quality drop, with the reason."""

import random

import pytest

from messaging.campaigns.demo import seed_campaigns
from messaging.demo import seed_number_health
from messaging.models import Campaign, CampaignState, Status
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def test_the_demo_number_has_a_tier_and_a_quality_read_from_the_simulator(channel):
    assert seed_number_health(channel=channel) == "quality GREEN, tier TIER_10K, CONNECTED"
    channel.refresh_from_db()
    assert channel.quality_source == "graph" and channel.messaging_tier == "TIER_10K"


def test_without_a_provider_the_demo_number_is_set_by_hand(channel, settings):
    settings.WHATSAPP_API_TOKEN = "wrong"
    assert seed_number_health(channel=channel).startswith("set by hand")
    channel.refresh_from_db()
    assert (channel.quality_rating, channel.messaging_tier, channel.quality_source) == (
        "GREEN",
        "TIER_10K",
        "manual",
    )


def test_the_demo_has_a_marketing_campaign_paused_on_a_quality_drop(channel):
    seed_number_health(channel=channel)
    contacts = ContactFactory.create_batch(40)
    result = seed_campaigns(rng=random.Random(1), channel=channel, contacts=contacts)
    paused = Campaign.objects.get(name="Festive offer (paused: quality drop)")
    assert paused.state == CampaignState.PAUSED and paused.auto_paused
    assert paused.pause_reason == (
        f"Number health: {channel.name}: quality rating dropped to RED from GREEN; "
        "number flagged (from webhook)."
    )
    assert result["paused_on_quality_drop"] == paused.pause_reason
    statuses = set(paused.messages.values_list("status", flat=True))
    assert Status.PAUSED in statuses and statuses & {Status.DELIVERED, Status.READ}
    assert Campaign.objects.get(name="Order follow-up (live)").state == CampaignState.RUNNING
    channel.refresh_from_db()
    assert (channel.quality_rating, channel.number_status) == ("YELLOW", "CONNECTED")
    assert seed_campaigns(rng=random.Random(1), channel=channel, contacts=contacts) == {
        "campaigns": "already seeded"
    }
