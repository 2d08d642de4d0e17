"""Campaign reads: the editable rule, pre-flight and progress with their query budgets."""

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import Tag
from messaging.campaigns.mapping import CONTACT_VALUES
from messaging.campaigns.selectors import (
    campaign_is_editable,
    campaign_list,
    campaign_preflight,
    campaign_progress,
    campaign_sample_contacts,
    campaign_transitions,
)
from messaging.campaigns.services import campaign_cancel, campaign_create
from messaging.models import CampaignState, Status
from tests.factories import (
    ChannelFactory,
    ContactFactory,
    MessageFactory,
    TemplateFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

MAPPING = {"body": [{"source": "field", "value": "name"}, {"source": "constant", "value": "#1"}]}


@pytest.fixture
def campaign(db):
    channel = ChannelFactory(throughput_mps=80)
    vip = Tag.objects.create(name="vip")
    for contact in ContactFactory.create_batch(3, attributes={"city": "Pune"}):
        contact.tags.add(vip)
    ContactFactory(blocked=True).tags.add(vip)
    return campaign_create(
        name="Diwali",
        channel=channel,
        template=TemplateFactory(channel=channel),
        parameter_mapping=MAPPING,
        tags=[vip],
    )


@pytest.mark.parametrize(
    ("state", "editable"),
    [
        (CampaignState.DRAFT, True),
        (CampaignState.SCHEDULED, True),
        (CampaignState.RUNNING, False),
        (CampaignState.PAUSED, False),
        (CampaignState.COMPLETED, False),
        (CampaignState.CANCELLED, False),
    ],
)
def test_only_drafts_and_scheduled_campaigns_are_editable(campaign, state, editable):
    campaign.state = state
    assert campaign_is_editable(campaign) is editable


def test_preflight_reads_two_queries_for_a_listed_campaign(campaign, django_assert_num_queries):
    listed = campaign_list().get(pk=campaign.pk)
    with django_assert_num_queries(2):
        report = campaign_preflight(listed)
    assert report.ok, report.problems
    assert (report.audience, report.sendable, report.excluded) == (4, 3, {"blocked": 1})


def test_preflight_flags_a_campaign_that_can_no_longer_change(campaign):
    campaign_cancel(campaign=campaign)
    campaign.refresh_from_db()
    assert "The campaign is cancelled." in campaign_preflight(campaign).problems


def test_progress_is_one_query(campaign, django_assert_num_queries):
    now = timezone.now()
    contacts = ContactFactory.create_batch(6)
    made = [
        (Status.QUEUED, None, None),
        (Status.SENDING, None, None),
        (Status.DELIVERED, None, now - timedelta(seconds=5)),
        (Status.READ, None, now - timedelta(minutes=10)),
        (Status.FAILED, 131026, None),
        (Status.FAILED, 131026, None),
    ]
    for contact, (status, code, accepted_at) in zip(contacts, made, strict=True):
        MessageFactory(
            channel=campaign.channel, contact=contact, campaign=campaign, status=status,
            error_code=code, accepted_at=accepted_at,
        )  # fmt: skip
    with django_assert_num_queries(1):
        progress = campaign_progress(campaign)
    assert progress["total"] == 6
    assert progress["counts"] == {"queued": 1, "sending": 1, "delivered": 1, "read": 1, "failed": 2}
    assert (progress["pending"], progress["done"], progress["delivered"]) == (2, 4, 2)
    assert progress["rate_per_second"] == round(1 / 60, 2)
    assert progress["seconds_remaining"] == 120
    assert [(e["code"], e["count"]) for e in progress["errors"]] == [(131026, 2)]


def test_progress_of_a_campaign_without_messages(campaign):
    progress = campaign_progress(campaign)
    assert (progress["total"], progress["percent"], progress["errors"]) == (0, 0.0, [])
    assert progress["seconds_remaining"] is None


def test_the_sample_contacts_carry_what_a_mapping_reads(campaign):
    [sample, *_] = campaign_sample_contacts(campaign)
    assert set(sample) == set(CONTACT_VALUES)


def test_transitions_name_their_actor(campaign):
    actor = UserFactory()
    campaign_cancel(campaign=campaign, actor=actor, reason="wrong list")
    [transition] = campaign_transitions(campaign)
    assert (transition.to_state, transition.actor, transition.note) == (
        "cancelled",
        actor,
        "wrong list",
    )
