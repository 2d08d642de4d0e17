"""Creating and editing campaigns: only through the services, only while they may change."""

import pytest

from core.errors import DomainError, InvalidTransition
from crm.models import Tag
from messaging.campaigns.api import CampaignInputSerializer
from messaging.campaigns.forms import CampaignForm
from messaging.campaigns.services import (
    CampaignNotEditable,
    campaign_create,
    campaign_update,
)
from messaging.models import Campaign, CampaignState, CampaignTransition
from tests.factories import ChannelFactory, TemplateFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel(db):
    """A channel without the simulator: nothing here sends."""
    return ChannelFactory()


@pytest.fixture
def template(channel):
    return TemplateFactory(channel=channel)


@pytest.fixture
def foreign_template(db):
    other = ChannelFactory(phone_number_id="200000000000002", name="Other number")
    return TemplateFactory(channel=other)


def draft(channel, template, **fields):
    return campaign_create(name="Diwali", channel=channel, template=template, **fields)


def test_create_writes_a_draft_with_its_tags(channel, template):
    vip, new = Tag.objects.create(name="vip"), Tag.objects.create(name="new")
    author = UserFactory()
    campaign = draft(channel, template, created_by=author, tags=[vip, new])
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.DRAFT
    assert campaign.created_by == author
    assert set(campaign.tags.values_list("name", flat=True)) == {"vip", "new"}
    # Creating is not a transition: the history starts at the first state change.
    assert not CampaignTransition.objects.filter(campaign=campaign).exists()


def test_create_refuses_a_template_of_another_channel(channel, foreign_template):
    with pytest.raises(DomainError) as exc:
        draft(channel, foreign_template)
    assert exc.value.code == "invalid"
    assert "template" in exc.value.details
    assert not Campaign.objects.exists()


@pytest.mark.parametrize("field", ["state", "audience_size", "launched_at", "is_adhoc"])
def test_create_and_update_refuse_fields_the_transitions_own(channel, template, field):
    with pytest.raises(DomainError, match=field):
        draft(channel, template, **{field: None})
    campaign = draft(channel, template)
    with pytest.raises(DomainError, match=field):
        campaign_update(campaign=campaign, **{field: None})


def test_update_changes_only_what_is_given(channel, template):
    vip, new = Tag.objects.create(name="vip"), Tag.objects.create(name="new")
    campaign = draft(channel, template, description="first", tags=[vip])
    updated = campaign_update(campaign=campaign, name="Diwali 2", parameter_mapping={"body": []})
    assert updated.name == "Diwali 2"
    campaign.refresh_from_db()
    assert (campaign.name, campaign.description) == ("Diwali 2", "first")
    assert campaign.parameter_mapping == {"body": []}
    assert list(campaign.tags.values_list("name", flat=True)) == ["vip"]

    campaign_update(campaign=campaign, tags=[new])
    assert list(campaign.tags.values_list("name", flat=True)) == ["new"]


def test_update_checks_the_template_against_the_resulting_channel(
    channel, template, foreign_template
):
    campaign = draft(channel, template)
    with pytest.raises(DomainError, match="another channel"):
        campaign_update(campaign=campaign, template=foreign_template)
    with pytest.raises(DomainError, match="another channel"):
        campaign_update(campaign=campaign, channel=foreign_template.channel)
    campaign_update(campaign=campaign, channel=foreign_template.channel, template=foreign_template)
    campaign.refresh_from_db()
    assert campaign.template == foreign_template


def test_a_scheduled_campaign_may_still_be_edited(channel, template):
    campaign = draft(channel, template)
    Campaign.objects.filter(pk=campaign.pk).update(state=CampaignState.SCHEDULED)
    assert campaign_update(campaign=campaign, name="Later").name == "Later"


@pytest.mark.parametrize(
    "state",
    [CampaignState.RUNNING, CampaignState.PAUSED, CampaignState.COMPLETED, CampaignState.CANCELLED],
)
def test_update_refuses_a_launched_campaign_by_its_locked_row(channel, template, state):
    campaign = draft(channel, template)
    # The caller's object is stale: the row was launched since it was read.
    Campaign.objects.filter(pk=campaign.pk).update(state=state)
    assert campaign.state == CampaignState.DRAFT
    with pytest.raises(CampaignNotEditable) as exc:
        campaign_update(campaign=campaign, name="Too late")
    assert isinstance(exc.value, InvalidTransition)
    assert (exc.value.code, exc.value.status_code) == ("invalid_transition", 400)
    assert f"A {state} campaign cannot be edited." == exc.value.message
    campaign.refresh_from_db()
    assert campaign.name == "Diwali"


def test_the_form_validates_and_never_saves(channel, template):
    vip = Tag.objects.create(name="vip")
    data = {
        "name": "Form", "channel": channel.pk, "template": template.pk, "tags": [vip.pk],
        "tags_match": "any", "schedule_timezone": "Asia/Kolkata",
    }  # fmt: skip
    form = CampaignForm(data)
    assert form.is_valid(), form.errors
    assert not hasattr(form, "save")
    assert not Campaign.objects.exists()

    campaign = draft(channel, template, tags=[vip])
    form = CampaignForm({**data, "name": "Renamed"}, campaign=campaign)
    assert form.is_valid(), form.errors
    assert campaign.name == "Diwali"  # a ModelForm would have written into the instance
    campaign.refresh_from_db()
    assert campaign.name == "Diwali"


def test_the_edit_form_starts_from_the_campaign(channel, template):
    vip = Tag.objects.create(name="vip")
    campaign = draft(channel, template, tags=[vip], description="why")
    form = CampaignForm(campaign=campaign)
    assert form["name"].value() == "Diwali"
    assert form["description"].value() == "why"
    assert form["template"].value() == template.pk
    assert form["tags"].value() == [vip.pk]
    assert form["schedule_timezone"].value() == campaign.schedule_timezone


def test_a_new_campaign_schedules_in_the_business_time_zone(channel, template, settings):
    """Not the first of 600 names: the business's TIME_ZONE, listed first, common zones next."""
    settings.TIME_ZONE = "Asia/Kolkata"
    form = CampaignForm()
    assert form["schedule_timezone"].value() == "Asia/Kolkata"
    (common, zones), (rest, others) = form.fields["schedule_timezone"].choices
    assert (common, rest) == ("Common", "All time zones")
    assert [value for value, _ in zones][:3] == ["Asia/Kolkata", "UTC", "Asia/Dubai"]
    assert "Africa/Abidjan" in [value for value, _ in others]
    assert draft(channel, template).schedule_timezone == "Asia/Kolkata"
    settings.TIME_ZONE = "Europe/London"
    assert CampaignForm()["schedule_timezone"].value() == "Europe/London"
    assert CampaignForm().fields["schedule_timezone"].choices[0][1][0][0] == "Europe/London"


def test_the_input_serializer_validates_and_never_saves(channel, template):
    serializer = CampaignInputSerializer(
        data={"name": "API", "channel": channel.phone_number_id, "template": template.pk}
    )
    assert serializer.is_valid(), serializer.errors
    with pytest.raises(NotImplementedError):
        serializer.save()
    assert not Campaign.objects.exists()
