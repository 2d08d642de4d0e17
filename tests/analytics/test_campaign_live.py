"""A running or just-finished campaign's analytics summary reads live counts, so it matches the
campaign page without waiting for a rollup; a settled campaign reads its rollups."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from analytics.models import CampaignPerformance
from analytics.selectors import campaign_summary
from analytics.services.rollups import analytics_rollup
from crm.models import Tag
from messaging.campaigns.selectors import campaign_progress
from messaging.campaigns.services import (
    campaign_create,
    campaign_launch,
    campaigns_complete_finished,
)
from messaging.models import CampaignState, Message, Status
from messaging.providers.base import StatusUpdate
from messaging.sending.statuses import statuses_apply
from tests.analytics.analytics_support import NOW, D, at, build_world
from tests.factories import ChannelFactory, ContactFactory, MessageFactory, TemplateFactory

pytestmark = pytest.mark.django_db

MAPPING = {"body": [{"source": "field", "value": "name"}, {"source": "constant", "value": "#1"}]}


@pytest.fixture(autouse=True)
def _utc(settings):
    settings.ANALYTICS_TIME_ZONE = "UTC"


def _launched(size: int):
    channel = ChannelFactory()
    tag = Tag.objects.create(name="live")
    for contact in ContactFactory.create_batch(size):
        contact.tags.add(tag)
    campaign = campaign_create(
        name="Live sale", channel=channel, template=TemplateFactory(channel=channel),
        parameter_mapping=MAPPING, tags=[tag],
    )  # fmt: skip
    return campaign_launch(campaign=campaign)


def _accept(messages, now) -> None:
    """What the dispatcher records when WhatsApp accepts a send."""
    for message in messages:
        Message.objects.filter(pk=message.pk).update(
            status=Status.ACCEPTED, wamid=f"wamid.live.{message.pk}", accepted_at=now
        )


def _status(message, name: str, when, **extra) -> StatusUpdate:
    return StatusUpdate(
        channel_key=message.channel.phone_number_id, wamid=f"wamid.live.{message.pk}",
        status=name, timestamp=when, raw={"status": name}, **extra,
    )  # fmt: skip


def _as_progress(summary) -> dict:
    """The summary in the campaign page's terms: counts by current status."""
    total = summary["total"]
    return {
        "total": total.targeted,
        "sent_or_later": total.sent,
        "delivered": total.delivered,
        "read": total.read,
        "failed": total.failed,
        "errors": {int(e["code"]): e["count"] for e in summary["errors"]},
    }


def _progress(progress) -> dict:
    counts = progress["counts"]
    return {
        "total": progress["total"],
        "sent_or_later": sum(counts.get(s, 0) for s in ("sent", "delivered", "read")),
        "delivered": progress["delivered"],
        "read": counts.get("read", 0),
        "failed": counts.get("failed", 0),
        "errors": {e["code"]: e["count"] for e in progress["errors"]},
    }


def test_without_any_rollup_the_summary_equals_the_campaign_page(client, make_user):
    campaign = _launched(5)
    m1, m2, m3, m4, m5 = Message.objects.filter(campaign=campaign).order_by("pk")
    now = timezone.now()
    _accept([m1, m2, m3, m4], now)
    statuses_apply(
        updates=[
            _status(m1, "sent", now), _status(m1, "delivered", now), _status(m1, "read", now),
            _status(m2, "sent", now), _status(m2, "delivered", now),
            _status(m3, "sent", now),
            _status(m4, "failed", now, errors=[{"code": 131026, "title": "Undeliverable"}]),
        ]
    )  # fmt: skip
    assert not CampaignPerformance.objects.exists()  # no rollup ran

    summary = campaign_summary(campaign)
    assert summary["live"] is True
    assert _as_progress(summary) == _progress(campaign_progress(campaign))
    # 5 targeted; m1, m2, m3 sent; m1, m2 delivered; m1 read; m4 failed; m5 still queued.
    assert _as_progress(summary) == {
        "total": 5, "sent_or_later": 3, "delivered": 2, "read": 1, "failed": 1,
        "errors": {131026: 1},
    }  # fmt: skip
    assert [(row.day, row.sent) for row in summary["days"]] == [(timezone.now().date(), 3)]

    # The last message goes; the campaign completes; the summary follows at once.
    _accept([m5], now)
    statuses_apply(updates=[_status(m5, "sent", now)])
    assert campaigns_complete_finished() == 1
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.COMPLETED
    summary = campaign_summary(campaign)
    assert summary["live"] is True
    assert _as_progress(summary) == _progress(campaign_progress(campaign))
    assert _as_progress(summary)["sent_or_later"] == 4

    # The analytics page and the reporting API show the same live figures.
    client.force_login(make_user("Analyst"))
    page = client.get(f"/staff/analytics/campaigns/{campaign.pk}/")
    assert page.context["total"].sent == 4 and 'data-testid="campaign-live"' in page.text
    body = client.get(f"/api/v1/reporting/campaigns/{campaign.pk}/summary").json()
    assert body["campaign"]["live"] is True and body["campaign"]["state"] == "completed"
    assert (body["total"]["targeted"], body["total"]["sent"], body["total"]["failed"]) == (5, 4, 1)


def test_a_live_campaign_merges_the_settled_days_rollups_with_todays_rows():
    """The world's campaign K (tests/analytics/analytics_support.py) runs from day D; at
    D+2 10:00 the days up to D+1 are rolled up and final, today is read live."""
    with time_machine.travel(NOW - timedelta(minutes=10), tick=False):
        world = build_world()  # marks its days changed, as the signal handlers do
        campaign = world.campaign
        campaign.state, campaign.launched_at = CampaignState.RUNNING, at(8)
        campaign.save(update_fields=["state", "launched_at"])
    with time_machine.travel(NOW, tick=False):
        analytics_rollup(days=[D - timedelta(days=1), D, D + timedelta(days=1)])
        # Today: one more contact reached and delivered, live.
        MessageFactory(
            channel=world.a, contact=ContactFactory(), campaign=campaign, type="template",
            status=Status.DELIVERED, created_at=NOW - timedelta(minutes=5),
            sent_at=NOW - timedelta(minutes=4), delivered_at=NOW - timedelta(minutes=3),
        )  # fmt: skip
        summary = campaign_summary(campaign)
    assert summary["live"] is True
    assert [(row.day, row.pk is None) for row in summary["days"]] == [
        (D, False), (D + timedelta(days=1), False), (NOW.date(), True),
    ]  # fmt: skip
    total = summary["total"]
    # Rollups: targeted 3, sent 2 (m1, m2), delivered 2 (m1 on D, m2 on D+1), read 1, failed 1;
    # live today: one more targeted, sent and delivered.
    assert (total.targeted, total.sent, total.delivered, total.read, total.failed) == (
        4,
        3,
        3,
        1,
        1,
    )
    assert total.errors == {"131026": 1}
    # Whole campaign, distinct contacts: c1 and c2 replied within 24 hours, c1 tapped and c2
    # clicked, c1 converted (1000.00).
    assert (total.replied, total.clicked, total.converted, str(total.revenue)) == (
        2, 2, 1, "1000.00",
    )  # fmt: skip


def test_a_settled_campaign_reads_its_rollups(django_assert_max_num_queries):
    with time_machine.travel(NOW, tick=False):
        world = build_world()  # campaign K completed, never launched through Parley
        analytics_rollup(days=[D, D + timedelta(days=1)])
        with django_assert_max_num_queries(4):
            summary = campaign_summary(world.campaign)
    assert summary["live"] is False
    assert summary["total"].pk is not None and summary["total"].sent == 2


@pytest.mark.django_db
def test_a_final_campaign_without_its_finish_time_is_live_only_a_window_after_its_launch():
    from analytics.campaign_live import campaign_is_live
    from analytics.days import today
    from messaging.models import Campaign

    channel = ChannelFactory()
    old = Campaign.objects.create(
        name="Imported", channel=channel, state=CampaignState.COMPLETED,
        launched_at=timezone.now() - timedelta(days=40),
    )  # fmt: skip
    recent = Campaign.objects.create(
        name="Yesterday", channel=channel, state=CampaignState.COMPLETED,
        launched_at=timezone.now() - timedelta(days=1),
    )  # fmt: skip
    assert not campaign_is_live(old, since=today())  # read from its rollups, not live forever
    assert campaign_is_live(recent, since=today())
