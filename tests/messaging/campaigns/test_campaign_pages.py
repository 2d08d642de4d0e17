"""Staff campaign pages: permissions, the create-map-launch flow, live progress partial,
unconfirmed sends and sending them again."""

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import Tag
from messaging.campaigns.services import campaign_launch
from messaging.models import Campaign, CampaignState, Message, MessageTemplate, Status
from messaging.sending.unconfirmed import messages_unconfirmed_mark
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
            "schedule_timezone": "Asia/Kolkata",
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    campaign = Campaign.objects.get(name="Delay notice")
    mapping_url = f"/staff/campaigns/{campaign.pk}/mapping/"
    assert response["Location"] == mapping_url
    # No flat cost to fill in: each message is priced from Meta's price card.
    form = manager_client.get("/staff/campaigns/new/").content
    assert b"cost_per_message" not in form and b'name="currency"' not in form
    page = manager_client.get(mapping_url)
    assert page.status_code == 200
    response = manager_client.post(
        mapping_url,
        {
            "body_0_source": "field",
            "body_0_field": "name",
            "body_1_source": "constant",
            "body_1_text": "#123",
            "body_2_source": "constant",
            "body_2_text": "Monday",
        },
    )
    assert response.status_code == 302
    detail = manager_client.get(f"/staff/campaigns/{campaign.pk}/")
    assert detail.context["preflight"].ok, detail.context["preflight"].problems
    assert b"Send to 2 contacts now" in detail.content
    assert b"Cost per message" not in detail.content
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
            "tags_match": "all", "schedule_timezone": "UTC",
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
    mapping = {"body_0_source": "constant", "body_0_text": "x"}
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
            "tags_match": "any", "schedule_timezone": "Asia/Kolkata",
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
    # Pre-flight, the user's test number, the test sends and the sample contacts.
    with django_assert_max_num_queries(16):
        response = manager_client.get(f"/staff/campaigns/{campaign.pk}/")
    assert response.context["preflight"].audience == 5


# --- Unconfirmed sends ----------------------------------------------------------------------------

DELAYED = {
    "body": [
        {"source": "field", "value": "name"},
        {"source": "constant", "value": "#1"},
        {"source": "constant", "value": "Monday"},
    ]
}


def with_unconfirmed(channel, n=3):
    """A launched campaign whose n sends were ambiguous 30 hours ago and never settled."""
    tag = Tag.objects.create(name="resend")
    for contact in ContactFactory.create_batch(n):
        contact.tags.add(tag)
    template = MessageTemplate.objects.get(channel=channel, name="delivery_delayed")
    campaign = Campaign.objects.create(
        name="Resend", channel=channel, template=template, parameter_mapping=DELAYED
    )
    campaign.tags.add(tag)
    campaign_launch(campaign=campaign)
    at = timezone.now() - timedelta(hours=30)
    Message.objects.filter(campaign=campaign).update(
        status=Status.UNKNOWN, attempts=1, claimed_at=at, request_started_at=at
    )
    assert messages_unconfirmed_mark() == n
    return campaign, list(Message.objects.filter(campaign=campaign).order_by("pk"))


def test_the_campaign_page_lists_unconfirmed_sends(
    manager_client, channel, django_assert_max_num_queries
):
    campaign, messages = with_unconfirmed(channel)
    with django_assert_max_num_queries(14):
        page = manager_client.get(f"/staff/campaigns/{campaign.pk}/")
    assert page.context["progress"]["unconfirmed"] == 3
    assert [m.pk for m in page.context["unconfirmed"]] == [m.pk for m in messages]
    html = page.content.decode()
    assert 'data-testid="unconfirmed-count">3<' in html
    assert "Send the selected again" in html and "Send all 3 unconfirmed messages again" in html


def test_the_page_sends_the_ticked_ones_again_once(manager_client, channel):
    campaign, (first, second, _third) = with_unconfirmed(channel)
    url = f"/staff/campaigns/{campaign.pk}/unconfirmed/resend/"
    response = manager_client.post(url, {"message": [first.pk, second.pk]}, follow=True)
    assert "2 message(s) sent again." in [str(m) for m in response.context["messages"]]
    resent = Message.objects.filter(resent_from__isnull=False)
    assert {m.resent_from_id for m in resent} == {first.pk, second.pk}
    # A double submit sends nothing more; the page shows what happened to each.
    manager_client.post(url, {"message": [first.pk, second.pk]})
    assert Message.objects.filter(resent_from__isnull=False).count() == 2
    page = manager_client.get(f"/staff/campaigns/{campaign.pk}/")
    assert page.context["resendable"] == 1
    html = page.content.decode()
    assert html.count('name="message"') == 1  # only the one not sent again can be ticked
    assert html.count("queued (") == 2  # the two resends, with their status
    assert "Send all 1 unconfirmed message again" in html


def test_sending_all_again_needs_the_confirmation(manager_client, channel):
    campaign, _ = with_unconfirmed(channel)
    url = f"/staff/campaigns/{campaign.pk}/unconfirmed/resend/"
    manager_client.post(url, {"all": "yes"})
    assert not Message.objects.filter(resent_from__isnull=False).exists()
    manager_client.post(url, {})  # nothing ticked
    assert not Message.objects.filter(resent_from__isnull=False).exists()
    manager_client.post(url, {"all": "yes", "confirm": "yes"})
    assert Message.objects.filter(resent_from__isnull=False).count() == 3


def test_only_staff_with_the_permission_send_again(client, make_user, channel):
    campaign, _ = with_unconfirmed(channel)
    url = f"/staff/campaigns/{campaign.pk}/unconfirmed/resend/"
    data = {"all": "yes", "confirm": "yes"}
    response = client.post(url, data)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    client.force_login(make_user("Analyst"))  # reads the campaign and its unconfirmed sends
    page = client.get(f"/staff/campaigns/{campaign.pk}/")
    assert len(page.context["unconfirmed"]) == 3
    assert "Send all" not in page.content.decode()
    assert client.post(url, data).status_code == 403
    client.force_login(make_user("Agent"))
    assert client.post(url, data).status_code == 403
    assert client.get(url).status_code == 405
    assert not Message.objects.filter(resent_from__isnull=False).exists()


@pytest.mark.parametrize(
    ("state", "polls"),
    [
        (CampaignState.SCHEDULED, True),
        (CampaignState.RUNNING, True),
        (CampaignState.PAUSED, True),
        (CampaignState.COMPLETED, False),
        (CampaignState.CANCELLED, False),
    ],
)
def test_the_live_partial_carries_the_state_and_polls_until_final(
    manager_client, channel, state, polls
):
    campaign = Campaign.objects.create(name="Live", channel=channel, state=state)
    html = manager_client.get(f"/staff/campaigns/{campaign.pk}/progress/").content.decode()
    assert ('hx-trigger="every 2s"' in html) is polls
    label = CampaignState(state).label
    assert f'id="campaign-heading-state" class="status-{state}" hx-swap-oob="true"' in html
    assert f'id="campaign-state" class="status-{state}" hx-swap-oob="true"' in html
    assert f">{label}</span>" in html
    assert ("Cancel campaign" in html) is polls  # the actions follow the state
    page = manager_client.get(f"/staff/campaigns/{campaign.pk}/").content.decode()
    assert ('hx-trigger="every 2s"' in page) is polls
    assert "hx-swap-oob" not in page  # only the polled answer swaps out of band


def test_the_live_partial_is_kept_from_who_may_not_see_campaigns(client, make_user, channel):
    campaign = Campaign.objects.create(name="Live", channel=channel, state=CampaignState.RUNNING)
    url = f"/staff/campaigns/{campaign.pk}/progress/"
    assert client.get(url).status_code == 302
    client.force_login(make_user("Agent"))
    assert client.get(url).status_code == 403
    client.force_login(make_user("Analyst"))  # reads, but is offered no action
    html = client.get(url).content.decode()
    assert "Running" in html and "Pause" not in html
