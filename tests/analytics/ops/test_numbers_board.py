"""The operations board's Numbers section: each number's health and what it stopped."""

import pytest

from analytics.ops.board import board_build
from crm.models import Tag
from messaging.campaigns.services import campaign_launch
from messaging.channels.services import channel_health_apply
from messaging.models import Campaign, MessageTemplate
from tests.factories import ChannelFactory, ContactFactory

pytestmark = pytest.mark.django_db


def numbers(board):
    section = next(s for s in board["sections"] if s["name"] == "numbers")
    assert not section["error"], section["error"]
    return {row.label: row for row in section["rows"]}


def test_each_number_with_its_health_budget_and_state(settings):
    settings.MESSAGING_UNIQUE_RECIPIENT_LIMIT = 0
    good = ChannelFactory(name="Sales", phone_number_id="1")
    bad = ChannelFactory(name="Support", phone_number_id="2")
    ChannelFactory(name="New", phone_number_id="3")
    ChannelFactory(name="Off", phone_number_id="4", is_active=False)
    channel_health_apply(
        channel=good, source="graph", quality="GREEN", tier="TIER_10K", status="CONNECTED"
    )
    channel_health_apply(
        channel=bad, source="webhook", quality="YELLOW", tier="TIER_1K", status="RESTRICTED",
        status_detail="ACCOUNT_RESTRICTION: RESTRICTED_BIZ_INITIATED_MESSAGING",
    )  # fmt: skip
    rows = numbers(board_build())
    assert rows["Sales"].value == "GREEN, TIER_10K, CONNECTED; 10,000 of 10,000 left"
    assert rows["Sales"].state == ""
    assert rows["Sales"].url == f"/admin/messaging/channel/{good.pk}/change/"
    assert rows["Support"].value == (
        "YELLOW, TIER_1K, RESTRICTED; 0 of 1,000 left "
        "(ACCOUNT_RESTRICTION: RESTRICTED_BIZ_INITIATED_MESSAGING)"
    )
    assert rows["Support"].state == "down"
    assert rows["New"].value == "UNKNOWN, tier unknown, UNKNOWN; no limit"
    assert "Off" not in rows


def test_marketing_paused_by_a_quality_drop_is_counted(channel):
    tag = Tag.objects.create(name="all")
    for contact in ContactFactory.create_batch(2):
        contact.tags.add(tag)
    campaign = Campaign.objects.create(
        name="Offer",
        channel=channel,
        template=MessageTemplate.objects.get(channel=channel, name="festive_offer"),
        parameter_mapping={
            "header": [{"name": "offer_name", "source": "constant", "value": "Sale"}],
            "body": [
                {"name": n, "source": "constant", "value": "x"}
                for n in ("first_name", "discount", "valid_until")
            ],
        },
    )
    campaign.tags.add(tag)
    campaign_launch(campaign=campaign)
    channel_health_apply(channel=channel, source="webhook", quality="RED")
    rows = numbers(board_build())
    assert rows["Marketing paused by number health"].value == 1
    assert rows["Marketing paused by number health"].state == "down"
    assert rows[channel.name].state == "down"
    assert rows["Waiting for messaging budget"].value == 0
