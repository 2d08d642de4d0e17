"""Campaigns and the number's health: the messaging-limit budget at pre-flight, campaigns
spread over it (held, paused, resumed by the tick), and marketing paused on a quality drop.

Sends go through the real dispatcher to the simulator over loopback; health arrives through
the real webhook processor and the Graph refresh.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.ops.models import AppError
from core.errors import InvalidTransition
from crm.models import Tag
from messaging.campaigns.selectors import campaign_preflight, channel_budget
from messaging.campaigns.services import (
    HEALTH_PAUSE_PREFIX,
    CampaignNotReady,
    campaign_launch,
    campaign_pause,
    campaign_resume,
    campaigns_budget_check,
    campaigns_complete_finished,
)
from messaging.campaigns.tasks import campaigns_tick
from messaging.channels.services import channel_health_apply, channel_health_sync
from messaging.models import Campaign, CampaignState, Message, MessageTemplate, Status
from messaging.sending.dispatch import send_batch_run
from tests.factories import ContactFactory, MessageFactory
from tests.messaging.webhooks.support import process

pytestmark = pytest.mark.django_db

OFFER = {
    "header": [{"name": "offer_name", "source": "constant", "value": "Diwali Sale"}],
    "body": [
        {"name": "first_name", "source": "field", "value": "name"},
        {"name": "discount", "source": "constant", "value": "20%"},
        {"name": "valid_until", "source": "constant", "value": "Sunday"},
    ],
}
ORDER = {
    "header": [{"source": "constant", "value": "#40321"}],
    "body": [{"source": "constant", "value": v} for v in ("Asha", "order", "₹999", "Friday")],
    "buttons": {"0": {"source": "field", "value": "phone"}},
}


@pytest.fixture
def tag(db):
    return Tag.objects.create(name="festive")


def campaign_for(channel, tag, *, n=0, template="festive_offer", mapping=OFFER, **kwargs):
    for contact in ContactFactory.create_batch(n):
        contact.tags.add(tag)
    campaign = Campaign.objects.create(
        name=f"{template} campaign",
        channel=channel,
        template=MessageTemplate.objects.get(channel=channel, name=template, language="en"),
        parameter_mapping=mapping,
        **kwargs,
    )
    campaign.tags.add(tag)
    return campaign


def limit_to(channel, tier: str, **values) -> None:
    channel_health_apply(channel=channel, source="manual", tier=tier, **values)


def reached(channel, n: int, *, ago=timedelta(hours=1)) -> list[Message]:
    """`n` people reached with a template `ago`."""
    return [
        MessageFactory(
            channel=channel,
            type="template",
            status=Status.DELIVERED,
            accepted_at=timezone.now() - ago,
        )
        for _ in range(n)
    ]


def states(campaign) -> dict[int, int]:
    rows = Message.objects.filter(campaign=campaign).values_list("status", flat=True)
    return {s: list(rows).count(s) for s in set(rows)}


# --- Pre-flight ----------------------------------------------------------------------------------


def test_preflight_uses_the_numbers_tier_and_todays_recipients(channel, tag):
    limit_to(channel, "TIER_5")
    reached(channel, 2)
    campaign = campaign_for(channel, tag, n=4)
    report = campaign_preflight(campaign)
    assert not report.ok
    assert (report.recipients_last_24h, report.unique_recipient_limit) == (2, 5)
    assert (report.budget_left, report.over_budget) == (3, 1)
    assert report.problems == [report.budget_problem]
    assert "2 of 5 unique recipients reached in the last 24 hours, room for 3 more" in (
        report.budget_problem
    )
    assert "spread it over the budget" in report.budget_problem
    assert report.spread_would_launch


def test_a_launch_past_the_budget_is_refused_and_writes_nothing(channel, tag):
    limit_to(channel, "TIER_5")
    campaign = campaign_for(channel, tag, n=6)
    with pytest.raises(CampaignNotReady) as refused:
        campaign_launch(campaign=campaign)
    assert "unique recipients" in refused.value.message
    assert refused.value.details["over_budget"] == 1
    assert not Message.objects.filter(campaign=campaign).exists()


def test_sends_on_their_way_take_room_and_held_ones_do_not(channel, tag):
    limit_to(channel, "TIER_5")
    MessageFactory(channel=channel, type="template", status=Status.QUEUED)
    MessageFactory(channel=channel, type="template", status=Status.PAUSED)
    MessageFactory(channel=channel, type="text", status=Status.QUEUED)
    budget = channel_budget(channel)
    assert (budget.budget_left, budget.room) == (5, 4)


def test_the_budget_is_one_query(channel, django_assert_num_queries):
    limit_to(channel, "TIER_1K")
    reached(channel, 2)
    with django_assert_num_queries(1):
        budget = channel_budget(channel)
    assert (budget.recipients_24h, budget.limit, budget.budget_left, budget.room) == (
        2,
        1000,
        998,
        998,
    )


def test_a_restricted_number_has_no_room(channel, tag):
    limit_to(channel, "TIER_1K", status="RESTRICTED")
    report = campaign_preflight(campaign_for(channel, tag, n=1))
    assert report.budget_left == 0
    assert any("is RESTRICTED: no business-initiated messages" in p for p in report.problems)


def test_an_unlimited_number_has_no_budget_problem(channel, tag):
    limit_to(channel, "TIER_UNLIMITED")
    reached(channel, 3)
    report = campaign_preflight(campaign_for(channel, tag, n=4))
    assert report.ok, report.problems
    assert report.unique_recipient_limit is None and report.budget_left is None


# --- Spread over the budget -------------------------------------------------------------------


def test_a_spread_campaign_sends_what_the_budget_allows_and_waits_for_room(channel, tag, simulator):
    limit_to(channel, "TIER_5")
    campaign = campaign_for(channel, tag, n=8)
    campaign = campaign_launch(campaign=campaign, spread_over_budget=True)
    assert campaign.state == CampaignState.RUNNING and campaign.spread_over_budget
    assert states(campaign) == {Status.QUEUED: 5, Status.PAUSED: 3}

    assert send_batch_run(channel_id=channel.pk, max_seconds=5)["accepted"] == 5
    assert campaigns_budget_check() == {"released": 0, "paused": 1, "resumed": 0}
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.PAUSED
    assert campaign.budget_paused and campaign.auto_paused
    assert "5 of 5 unique recipients" in campaign.pause_reason
    assert "Resumes by itself" in campaign.pause_reason
    assert campaigns_budget_check() == {"released": 0, "paused": 0, "resumed": 0}

    # The moving window frees the first recipients: the campaign resumes by itself.
    Message.objects.filter(campaign=campaign, status__gte=Status.ACCEPTED).update(
        accepted_at=timezone.now() - timedelta(hours=25)
    )
    assert campaigns_tick.apply().get()["budget"] == {"released": 3, "paused": 0, "resumed": 1}
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.RUNNING and not campaign.budget_paused
    assert campaign.pause_reason == ""
    assert send_batch_run(channel_id=channel.pk, max_seconds=5)["accepted"] == 3
    campaigns_complete_finished()
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.COMPLETED
    assert sorted(simulator.counts().values()) == [1] * 8  # everyone once, nobody twice


def test_a_spread_campaign_with_no_room_starts_paused(channel, tag):
    limit_to(channel, "TIER_2")
    reached(channel, 2)
    campaign = campaign_launch(campaign=campaign_for(channel, tag, n=3), spread_over_budget=True)
    assert campaign.state == CampaignState.PAUSED and campaign.budget_paused
    assert states(campaign) == {Status.PAUSED: 3}


def test_a_running_spread_campaign_gets_released_as_room_frees(channel, tag):
    limit_to(channel, "TIER_4")
    old = reached(channel, 2)
    campaign = campaign_launch(campaign=campaign_for(channel, tag, n=5), spread_over_budget=True)
    assert states(campaign) == {Status.QUEUED: 2, Status.PAUSED: 3}
    Message.objects.filter(pk=old[0].pk).update(accepted_at=timezone.now() - timedelta(days=2))
    assert campaigns_budget_check()["released"] == 1
    assert states(campaign) == {Status.QUEUED: 3, Status.PAUSED: 2}


def test_resuming_a_spread_campaign_by_hand_respects_the_budget(channel, tag):
    limit_to(channel, "TIER_3")
    campaign = campaign_launch(campaign=campaign_for(channel, tag, n=5), spread_over_budget=True)
    campaign = campaign_pause(campaign=campaign, reason="checking copy")
    assert states(campaign) == {Status.PAUSED: 5}
    campaign = campaign_resume(campaign=campaign)
    assert states(campaign) == {Status.QUEUED: 3, Status.PAUSED: 2}

    campaign = campaign_pause(campaign=campaign, reason="again")
    reached(channel, 3)
    campaign = campaign_resume(campaign=campaign)  # no room: it waits for the budget
    assert campaign.state == CampaignState.PAUSED and campaign.budget_paused
    assert "Resumes by itself" in campaign.pause_reason


def test_a_running_spread_campaign_cannot_be_resumed(channel, tag):
    limit_to(channel, "TIER_3")
    reached(channel, 3)
    campaign = campaign_launch(campaign=campaign_for(channel, tag, n=1), spread_over_budget=True)
    Campaign.objects.filter(pk=campaign.pk).update(state=CampaignState.RUNNING)
    campaign.refresh_from_db()
    with pytest.raises(InvalidTransition):
        campaign_resume(campaign=campaign)


def test_a_campaign_paused_by_a_person_is_not_resumed_by_the_budget(channel, tag):
    limit_to(channel, "TIER_10")
    campaign = campaign_launch(campaign=campaign_for(channel, tag, n=3), spread_over_budget=True)
    campaign_pause(campaign=campaign, reason="hold on")
    assert campaigns_budget_check() == {"released": 0, "paused": 0, "resumed": 0}
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.PAUSED and campaign.pause_reason == "hold on"


# --- A quality drop or a flag pauses marketing -------------------------------------------------


def _running(channel, tag):
    marketing = campaign_launch(campaign=campaign_for(channel, tag, n=2))
    utility = campaign_launch(
        campaign=campaign_for(channel, Tag.objects.create(name="orders"), n=2,
                              template="order_confirmation", mapping=ORDER)
    )  # fmt: skip
    return marketing, utility


def _flag(channel_display="15550001111", time=1767225600):
    value = {"display_phone_number": channel_display, "event": "FLAGGED"}
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "100000000000001",
                "time": time,
                "changes": [{"field": "phone_number_quality_update", "value": value}],
            }
        ],
    }


def test_a_flag_webhook_pauses_running_marketing_campaigns_and_tells_staff(
    channel, tag, django_capture_on_commit_callbacks
):
    marketing, utility = _running(channel, tag)
    # On SQLite the error log stores a record once the transaction that logged it commits.
    with django_capture_on_commit_callbacks(execute=True):
        event = process(_flag())
    assert event.state == "processed", event.error
    marketing.refresh_from_db()
    utility.refresh_from_db()
    assert marketing.state == CampaignState.PAUSED and marketing.auto_paused
    assert marketing.pause_reason == (
        f"{HEALTH_PAUSE_PREFIX}{channel.name}: number flagged (from webhook)."
    )
    assert states(marketing) == {Status.PAUSED: 2}
    assert utility.state == CampaignState.RUNNING
    logged = AppError.objects.filter(message__contains="marketing campaigns paused on").get()
    assert marketing.name in logged.message and "number flagged" in logged.message
    assert AppError.objects.filter(message__contains="number flagged", logger__contains="channels")


def test_the_same_flag_again_does_not_pause_a_campaign_staff_resumed(channel, tag):
    marketing, _ = _running(channel, tag)
    event = process(_flag())
    campaign_resume(campaign=marketing)
    from messaging.webhooks.services import webhook_event_process, webhook_events_replay

    webhook_events_replay(event_ids=[event.pk], enqueue=False)
    webhook_event_process(event_id=event.pk)
    process(_flag(time=1767225700))  # a duplicate sent later
    marketing.refresh_from_db()
    assert marketing.state == CampaignState.RUNNING


def test_a_graph_refresh_that_finds_red_pauses_marketing(channel, tag, simulator):
    channel_health_sync(channel=channel)
    marketing, utility = _running(channel, tag)
    simulator.configure(quality_rating="RED")
    channel_health_sync(channel=channel)
    marketing.refresh_from_db()
    utility.refresh_from_db()
    assert marketing.state == CampaignState.PAUSED
    assert "quality rating dropped to RED from GREEN (from graph)" in marketing.pause_reason
    assert utility.state == CampaignState.RUNNING


def test_yellow_only_warns(channel, tag):
    marketing, _ = _running(channel, tag)
    channel_health_apply(channel=channel, source="graph", quality="GREEN")
    channel_health_apply(channel=channel, source="graph", quality="YELLOW")
    marketing.refresh_from_db()
    assert marketing.state == CampaignState.RUNNING


def test_a_marketing_campaign_waiting_for_budget_stays_paused_after_a_drop(channel, tag):
    limit_to(channel, "TIER_1")
    campaign = campaign_launch(campaign=campaign_for(channel, tag, n=2), spread_over_budget=True)
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    campaigns_budget_check()
    campaign.refresh_from_db()
    assert campaign.budget_paused
    channel_health_apply(channel=channel, source="webhook", quality="RED")
    campaign.refresh_from_db()
    assert not campaign.budget_paused and campaign.pause_reason.startswith(HEALTH_PAUSE_PREFIX)
    Message.objects.filter(campaign=campaign, accepted_at__isnull=False).update(
        accepted_at=timezone.now() - timedelta(days=2)
    )
    assert campaigns_budget_check() == {"released": 0, "paused": 0, "resumed": 0}


# --- The API and the launch page -----------------------------------------------------------------


@pytest.fixture
def manager_api(make_user, api_client):
    api_client.force_authenticate(make_user("Campaign manager"))
    return api_client


def test_the_api_refuses_a_launch_past_the_budget_and_accepts_it_spread(channel, tag, manager_api):
    limit_to(channel, "TIER_2")
    campaign = campaign_for(channel, tag, n=3)
    preflight = manager_api.get(f"/api/v1/campaigns/{campaign.pk}/preflight/").json()
    assert (preflight["budget_left"], preflight["over_budget"]) == (2, 1)
    assert preflight["unique_recipient_limit"] == 2 and not preflight["spread_over_budget"]

    refused = manager_api.post(f"/api/v1/campaigns/{campaign.pk}/launch/", {}, format="json")
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "campaign_not_ready" and "unique recipients" in error["message"]
    assert error["details"]["over_budget"] == 1

    launched = manager_api.post(
        f"/api/v1/campaigns/{campaign.pk}/launch/", {"spread_over_budget": True}, format="json"
    )
    assert launched.status_code == 200, launched.content
    body = launched.json()
    assert body["state"] == "running" and body["spread_over_budget"] is True
    assert body["budget_paused"] is False
    assert states(campaign) == {Status.QUEUED: 2, Status.PAUSED: 1}


def test_a_draft_may_be_marked_spread_through_the_api(channel, tag, manager_api):
    campaign = campaign_for(channel, tag, n=1)
    response = manager_api.patch(
        f"/api/v1/campaigns/{campaign.pk}/", {"spread_over_budget": True}, format="json"
    )
    assert response.status_code == 200 and response.json()["spread_over_budget"] is True
    campaign.refresh_from_db()
    assert campaign.spread_over_budget


def test_an_unlimited_number_shows_null_limits_in_the_api(channel, tag, manager_api):
    limit_to(channel, "TIER_UNLIMITED")
    campaign = campaign_for(channel, tag, n=1)
    preflight = manager_api.get(f"/api/v1/campaigns/{campaign.pk}/preflight/").json()
    assert preflight["unique_recipient_limit"] is None and preflight["budget_left"] is None


@pytest.fixture
def manager_client(client, make_user):
    client.force_login(make_user("Campaign manager"))
    return client


def test_the_launch_page_offers_to_spread_a_campaign_past_the_budget(channel, tag, manager_client):
    limit_to(channel, "TIER_2")
    campaign = campaign_for(channel, tag, n=3)
    page = manager_client.get(f"/staff/campaigns/{campaign.pk}/").content.decode()
    assert 'name="spread_over_budget"' in page
    assert "send to 2 now and to the other 1 as the 24-hour window frees room" in page
    assert "a limit of 2 (TIER_2); room for 2 more" in page

    url = f"/staff/campaigns/{campaign.pk}/launch/"
    manager_client.post(url, {"confirm": "yes"})
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.DRAFT  # refused: the budget

    manager_client.post(url, {"confirm": "yes", "spread_over_budget": "yes"})
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.RUNNING and campaign.spread_over_budget


def test_the_launch_page_has_no_spread_box_when_the_audience_fits(channel, tag, manager_client):
    limit_to(channel, "TIER_1K")
    campaign = campaign_for(channel, tag, n=3)
    page = manager_client.get(f"/staff/campaigns/{campaign.pk}/").content.decode()
    assert 'name="spread_over_budget"' not in page
    assert "Send to 3 contacts now" in page


def test_the_pause_reason_of_a_quality_drop_is_on_the_campaign_page(channel, tag, manager_client):
    marketing, _ = _running(channel, tag)
    channel_health_apply(channel=channel, source="webhook", quality="RED")
    page = manager_client.get(f"/staff/campaigns/{marketing.pk}/").content.decode()
    assert "Number health: " in page and "quality rating dropped to RED" in page
