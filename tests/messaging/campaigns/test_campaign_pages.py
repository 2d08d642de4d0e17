"""Staff campaign pages: permissions, the create-map-launch flow, live progress partial."""

import pytest

from crm.models import Tag
from messaging.models import Campaign, MessageTemplate
from tests.factories import ChannelFactory, ContactFactory, TemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client, make_user):
    client.force_login(make_user("Campaign manager"))
    return client


def test_anonymous_and_unprivileged_are_kept_out(client, make_user, channel):
    assert client.get("/staff/campaigns/").status_code == 302
    client.force_login(make_user("Agent"))
    assert client.get("/staff/campaigns/").status_code == 403
    assert client.get("/staff/campaigns/new/").status_code == 403


def test_analyst_reads_but_cannot_act(client, make_user, channel):
    campaign = Campaign.objects.create(name="x", channel=channel)
    client.force_login(make_user("Analyst"))
    assert client.get(f"/staff/campaigns/{campaign.pk}/").status_code == 200
    assert client.post(f"/staff/campaigns/{campaign.pk}/launch/").status_code == 403
    assert client.get("/staff/campaigns/new/").status_code == 403


def test_create_map_and_launch(manager_client, channel):
    vip = Tag.objects.create(name="vip")
    for contact in ContactFactory.create_batch(2):
        contact.tags.add(vip)
    template = MessageTemplate.objects.get(channel=channel, name="delivery_delayed")
    response = manager_client.post(
        "/staff/campaigns/new/",
        {
            "name": "Delay notice",
            "channel": channel.pk,
            "template": template.pk,
            "tags": [vip.pk],
            "tags_match": "any",
            "cost_per_message": "0.78",
            "currency": "INR",
            "schedule_timezone": "Asia/Kolkata",
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    campaign = Campaign.objects.get(name="Delay notice")
    mapping_url = f"/staff/campaigns/{campaign.pk}/mapping/"
    assert response["Location"] == mapping_url
    page = manager_client.get(mapping_url)
    assert page.status_code == 200
    response = manager_client.post(
        mapping_url,
        {
            "body_0_source": "field",
            "body_0_value": "name",
            "body_1_source": "constant",
            "body_1_value": "#123",
            "body_2_source": "constant",
            "body_2_value": "Monday",
        },
    )
    assert response.status_code == 302
    detail = manager_client.get(f"/staff/campaigns/{campaign.pk}/")
    assert detail.context["preflight"].ok, detail.context["preflight"].problems
    assert b"Send to 2 contacts now" in detail.content
    unconfirmed = manager_client.post(f"/staff/campaigns/{campaign.pk}/launch/")
    assert unconfirmed.status_code == 302
    campaign.refresh_from_db()
    assert campaign.state == "draft"
    manager_client.post(f"/staff/campaigns/{campaign.pk}/launch/", {"confirm": "yes"})
    campaign.refresh_from_db()
    assert campaign.state == "running"
    partial = manager_client.get(f"/staff/campaigns/{campaign.pk}/progress/")
    assert b'hx-trigger="every 2s"' in partial.content
    manager_client.post(f"/staff/campaigns/{campaign.pk}/pause/")
    campaign.refresh_from_db()
    assert campaign.state == "paused"


def test_invalid_action_shows_the_reason(manager_client, channel):
    campaign = Campaign.objects.create(name="x", channel=channel)
    response = manager_client.post(f"/staff/campaigns/{campaign.pk}/pause/", follow=True)
    assert b"cannot become paused" in response.content


def test_list_query_count_is_bounded(manager_client, channel, django_assert_max_num_queries):
    for i in range(15):
        Campaign.objects.create(name=f"c{i}", channel=channel)
    with django_assert_max_num_queries(12):
        assert manager_client.get("/staff/campaigns/").status_code == 200


def test_edit_and_mapping_write_through_the_services(manager_client, channel):
    vip = Tag.objects.create(name="vip")
    template = MessageTemplate.objects.get(channel=channel, name="delivery_delayed")
    campaign = Campaign.objects.create(name="Before", channel=channel, template=template)
    campaign.tags.add(vip)
    page = manager_client.get(f"/staff/campaigns/{campaign.pk}/edit/")
    assert page.context["form"]["name"].value() == "Before"
    response = manager_client.post(
        f"/staff/campaigns/{campaign.pk}/edit/",
        {
            "name": "After", "channel": channel.pk, "template": template.pk, "tags": [vip.pk],
            "tags_match": "all", "cost_per_message": "0.5", "currency": "INR",
            "schedule_timezone": "UTC",
        },
    )  # fmt: skip
    assert response.status_code == 302, response.context["form"].errors
    campaign.refresh_from_db()
    assert (campaign.name, campaign.tags_match, campaign.schedule_timezone) == (
        "After",
        "all",
        "UTC",
    )

    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    edit = manager_client.get(f"/staff/campaigns/{campaign.pk}/edit/", follow=True)
    assert b"A running campaign cannot be edited." in edit.content
    mapping = {"body_0_source": "constant", "body_0_value": "x"}
    response = manager_client.post(f"/staff/campaigns/{campaign.pk}/mapping/", mapping)
    assert response["Location"] == f"/staff/campaigns/{campaign.pk}/"
    campaign.refresh_from_db()
    assert campaign.parameter_mapping == {}
    detail = manager_client.get(f"/staff/campaigns/{campaign.pk}/")
    assert detail.context["can_edit"] is False
    assert "preflight" not in detail.context


def test_a_template_of_another_channel_is_shown_on_its_field(manager_client, channel):
    vip = Tag.objects.create(name="vip")
    other = ChannelFactory(phone_number_id="200000000000002", name="Other number")
    foreign = TemplateFactory(channel=other)
    response = manager_client.post(
        "/staff/campaigns/new/",
        {
            "name": "Wrong", "channel": channel.pk, "template": foreign.pk, "tags": [vip.pk],
            "tags_match": "any", "cost_per_message": "0", "currency": "INR",
            "schedule_timezone": "Asia/Kolkata",
        },
    )  # fmt: skip
    assert response.status_code == 200
    assert response.context["form"].errors["template"] == [
        "The template belongs to another channel."
    ]
    assert not Campaign.objects.filter(name="Wrong").exists()


def test_detail_query_count_is_bounded(manager_client, channel, django_assert_max_num_queries):
    vip = Tag.objects.create(name="vip")
    for contact in ContactFactory.create_batch(5):
        contact.tags.add(vip)
    template = MessageTemplate.objects.get(channel=channel, name="delivery_delayed")
    campaign = Campaign.objects.create(name="x", channel=channel, template=template)
    campaign.tags.add(vip)
    with django_assert_max_num_queries(12):
        response = manager_client.get(f"/staff/campaigns/{campaign.pk}/")
    assert response.context["preflight"].audience == 5
