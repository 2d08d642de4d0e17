"""Campaign pause/resume exactness with real workers, restarts included."""

import time

from django.utils import timezone

from crm.models import Tag
from messaging.campaigns.services import campaign_launch, campaign_pause, campaign_resume
from messaging.models import Campaign, CampaignState, MessageTemplate, Status
from tests.factories import ChannelFactory, ContactFactory
from tests.integration.conftest import wait_for

MAPPING = {
    "body": [
        {"source": "field", "value": "name"},
        {"source": "constant", "value": "#1"},
        {"source": "constant", "value": "Monday"},
    ]
}


def test_pause_stops_within_a_second_and_resume_after_a_restart_is_exact(
    transactional_db, simulator, celery_worker, settings
):
    from messaging.channels.templates import templates_sync

    settings.WHATSAPP_API_TOKEN = "simulator-token"
    channel = ChannelFactory(base_url=simulator.url, throughput_mps=500)
    templates_sync(channel=channel)
    tag = Tag.objects.create(name="launch")
    contacts = ContactFactory.create_batch(200, last_inbound_at=timezone.now())
    tag.contacts.add(*contacts)
    campaign = Campaign.objects.create(
        name="Exactness", channel=channel, throttle_mps=40, parameter_mapping=MAPPING,
        template=MessageTemplate.objects.get(channel=channel, name="delivery_delayed"),
    )  # fmt: skip
    campaign.tags.add(tag)

    worker = celery_worker("camp1", concurrency=2)
    campaign_launch(campaign=campaign)
    wait_for(lambda: sum(simulator.counts().values()) >= 40, timeout=20)

    paused_at = time.time()
    campaign_pause(campaign=campaign, reason="test")
    time.sleep(1.2)  # a batch already in flight (at most a second of sends) may finish
    after_pause = sum(simulator.counts().values())
    time.sleep(1.5)
    late = sorted(
        round(m["time"] - paused_at, 2) for m in simulator.messages() if m["time"] > paused_at
    )
    assert sum(simulator.counts().values()) == after_pause, (
        f"sends continued after the pause: {late}"
    )
    assert after_pause < 200

    # Restart every process while paused.
    worker.stop()
    celery_worker("camp2", concurrency=2)
    campaign_resume(campaign=Campaign.objects.get(pk=campaign.pk))
    wait_for(
        lambda: Campaign.objects.get(pk=campaign.pk).state == CampaignState.COMPLETED, timeout=40
    )

    counts = simulator.counts()
    assert len(counts) == 200, "somebody was skipped"
    assert set(counts.values()) == {1}, "somebody got the campaign twice"
    assert campaign.messages.filter(status=Status.ACCEPTED).count() == 200


def test_sql_and_python_materialisation_render_the_same(transactional_db, simulator, settings):
    """PostgreSQL renders parameters in SQL; the result must equal the Python renderer's."""
    from crm.models import AttributeDefinition
    from messaging.campaigns.services import _materialise_in_python, _materialise_in_sql
    from messaging.channels.templates import templates_sync
    from messaging.models import Message

    channel = ChannelFactory(base_url=simulator.url)
    templates_sync(channel=channel)
    AttributeDefinition.objects.create(key="city", label="City", type="text")
    tag = Tag.objects.create(name="compare")
    people = [
        ContactFactory(name='Asha "Quotes" Patel', attributes={"city": "Pune"}),
        ContactFactory(name="", profile_name="Ravi ☀️", attributes={}),
        ContactFactory(name="", profile_name="", attributes={"city": "Mumbai\\nline"}),
    ]
    tag.contacts.add(*people)
    mapping = {
        "header": [{"source": "constant", "value": "#40321 ✓"}],
        "body": [
            {"source": "field", "value": "name", "fallback": "there"},
            {"source": "attribute", "value": "city", "fallback": "your city"},
            {"source": "field", "value": "first_name", "fallback": "there"},
            {"source": "constant", "value": "Friday"},
        ],
        "buttons": {"0": {"source": "field", "value": "wa_id"}},
    }
    template = MessageTemplate.objects.get(
        channel=channel, name="order_confirmation", language="en"
    )
    contents = {}
    for name, materialise in [("sql", _materialise_in_sql), ("python", _materialise_in_python)]:
        campaign = Campaign.objects.create(
            name=name, channel=channel, template=template, parameter_mapping=mapping
        )
        campaign.tags.add(tag)
        assert materialise(campaign) == 3
        contents[name] = {
            m.contact_id: m.content for m in Message.objects.filter(campaign=campaign)
        }
        assert materialise(campaign) == 0  # nothing twice
    assert contents["sql"] == contents["python"]


def test_autopause_reads_the_latest_results_on_postgresql(transactional_db, simulator):
    """The last CAMPAIGN_AUTOPAUSE_WINDOW results by the time of the result: PostgreSQL sorts
    NULLs first in a descending order, which must not hide the failures behind every accepted
    message (whose failed_at is empty)."""
    from datetime import timedelta

    from messaging.campaigns.services import campaign_failures_check
    from messaging.channels.templates import templates_sync

    channel = ChannelFactory(base_url=simulator.url)
    templates_sync(channel=channel)
    campaign = Campaign.objects.create(
        name="Autopause", channel=channel, state=CampaignState.RUNNING,
        parameter_mapping=MAPPING,
        template=MessageTemplate.objects.get(channel=channel, name="delivery_delayed"),
    )  # fmt: skip
    earlier = timezone.now() - timedelta(minutes=5)
    for i, contact in enumerate(ContactFactory.create_batch(90)):
        failed = i >= 60  # the 30 most recent results are failures
        campaign.messages.create(
            channel=channel, contact=contact, direction="out", type="template", content={},
            status=Status.FAILED if failed else Status.ACCEPTED,
            error_code=131051 if failed else None,
            accepted_at=None if failed else earlier + timedelta(seconds=i),
            failed_at=timezone.now() if failed else None,
        )  # fmt: skip
    assert campaign_failures_check(campaign_ids=[campaign.pk]) == [campaign.pk]
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.PAUSED
    assert "30 of the last 50" in campaign.pause_reason
