"""A campaign's header media link passes the SSRF guard (`core.ssrf`) wherever it is set or
used: the API (create and edit), the staff mapping form, pre-flight, launch and scheduled
launch. Private, loopback, link-local (cloud metadata) addresses and names that resolve to
them are refused; nothing here touches the internet (IP literals, and `localhost` from the
hosts file)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import DomainError
from crm.models import Tag
from messaging.campaigns.selectors import campaign_preflight
from messaging.campaigns.services import (
    CampaignNotReady,
    campaign_create,
    campaign_launch,
    campaign_update,
    campaigns_launch_due,
)
from messaging.models import Campaign, MessageTemplate
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

PUBLIC = "https://93.184.215.14/banner.png"
REFUSED = [
    pytest.param("http://127.0.0.1/banner.png", id="loopback"),
    pytest.param("http://[::1]/banner.png", id="loopback-v6"),
    pytest.param("http://169.254.169.254/latest/meta-data/", id="metadata"),
    pytest.param("http://10.1.2.3/banner.png", id="private-10"),
    pytest.param("http://172.16.0.9/banner.png", id="private-172"),
    pytest.param("http://192.168.1.20/banner.png", id="private-192"),
    pytest.param("http://localhost/banner.png", id="name-to-loopback"),
]


@pytest.fixture(autouse=True)
def guard_on(settings):
    settings.MEDIA_URL_ALLOW_PRIVATE = False  # as in production, whatever the environment


@pytest.fixture
def vip(db):
    tag = Tag.objects.create(name="vip")
    for contact in ContactFactory.create_batch(2, consent="opted_in"):
        contact.tags.add(tag)
    return tag


@pytest.fixture
def image_template(channel):
    """An approved marketing template with an IMAGE header and two body parameters."""
    return MessageTemplate.objects.get(channel=channel, name="daily_market_insight", language="en")


def mapping(link: str) -> dict:
    return {
        "header": [],
        "body": [{"source": "field", "value": "name"}, {"source": "constant", "value": "x"}],
        "buttons": {},
        "header_media_link": link,
    }


def stored_campaign(channel, template, tag, link: str) -> Campaign:
    """A draft saved with `link` behind the services' back (before this guard existed, or
    a name that resolved to a public address then)."""
    campaign = Campaign.objects.create(
        name="Insight", channel=channel, template=template, parameter_mapping=mapping(link)
    )
    campaign.tags.add(tag)
    return campaign


# --- Services ---------------------------------------------------------------------------------


@pytest.mark.parametrize("link", REFUSED)
def test_services_refuse_a_private_header_media_link(channel, image_template, vip, link):
    with pytest.raises(DomainError) as exc:
        campaign_create(
            name="Insight",
            channel=channel,
            template=image_template,
            parameter_mapping=mapping(link),
        )
    assert exc.value.code == "media_url_refused"
    assert "header_media_link" in exc.value.details
    assert not Campaign.objects.exists()
    campaign = campaign_create(
        name="Insight", channel=channel, template=image_template, parameter_mapping=mapping(PUBLIC)
    )
    with pytest.raises(DomainError) as exc:
        campaign_update(campaign=campaign, parameter_mapping=mapping(link))
    assert exc.value.code == "media_url_refused"
    campaign.refresh_from_db()
    assert campaign.parameter_mapping["header_media_link"] == PUBLIC


def test_services_refuse_a_mapping_that_is_not_an_object(channel, image_template):
    with pytest.raises(DomainError) as exc:
        campaign_create(name="x", channel=channel, template=image_template, parameter_mapping=[1])
    assert exc.value.code == "invalid" and "parameter_mapping" in exc.value.details


# --- API --------------------------------------------------------------------------------------


@pytest.fixture
def manager(make_user, api_client):
    api_client.force_authenticate(make_user("Campaign manager"))
    return api_client


def api_body(channel, template, link):
    return {
        "name": "Insight",
        "channel": channel.phone_number_id,
        "template": template.pk,
        "parameter_mapping": mapping(link),
        "tags": ["vip"],
    }


@pytest.mark.parametrize("link", REFUSED)
def test_the_api_refuses_a_private_header_media_link(manager, channel, image_template, vip, link):
    response = manager.post(
        "/api/v1/campaigns/", api_body(channel, image_template, link), format="json"
    )
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "media_url_refused"
    assert "non-public address" in error["message"] and error["details"]["header_media_link"]
    assert not Campaign.objects.exists()

    created = manager.post(
        "/api/v1/campaigns/", api_body(channel, image_template, PUBLIC), format="json"
    )
    assert created.status_code == 201, created.json()
    url = f"/api/v1/campaigns/{created.json()['id']}/"
    response = manager.patch(url, {"parameter_mapping": mapping(link)}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "media_url_refused"
    assert manager.get(url).json()["parameter_mapping"]["header_media_link"] == PUBLIC
    assert manager.get(url + "preflight/").json()["ok"] is True


def test_the_api_refuses_a_mapping_that_is_not_an_object(manager, channel, image_template, vip):
    body = {**api_body(channel, image_template, PUBLIC), "parameter_mapping": ["x"]}
    response = manager.post("/api/v1/campaigns/", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["parameter_mapping"]


@pytest.mark.parametrize("link", REFUSED)
def test_api_preflight_and_launch_refuse_a_stored_private_link(
    manager, channel, image_template, vip, link
):
    campaign = stored_campaign(channel, image_template, vip, link)
    url = f"/api/v1/campaigns/{campaign.pk}/"
    preflight = manager.get(url + "preflight/").json()
    assert preflight["ok"] is False
    assert any(p.startswith("Header media link refused") for p in preflight["problems"])
    response = manager.post(url + "launch/")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "campaign_not_ready"
    campaign.refresh_from_db()
    assert campaign.state == "draft" and not campaign.messages.exists()


# --- Pre-flight and launch --------------------------------------------------------------------


@pytest.mark.parametrize("link", REFUSED)
def test_preflight_launch_and_scheduled_launch_refuse_a_private_link(
    channel, image_template, vip, link
):
    campaign = stored_campaign(channel, image_template, vip, link)
    report = campaign_preflight(campaign)
    assert not report.ok
    assert any("non-public address" in p for p in report.problems), report.problems
    with pytest.raises(CampaignNotReady):
        campaign_launch(campaign=campaign)
    Campaign.objects.filter(pk=campaign.pk).update(
        state="scheduled", scheduled_at=timezone.now() - timedelta(minutes=1)
    )
    assert campaigns_launch_due() == 0
    campaign.refresh_from_db()
    assert campaign.state == "draft" and not campaign.messages.exists()


def test_a_public_link_passes_preflight(channel, image_template, vip):
    campaign = stored_campaign(channel, image_template, vip, PUBLIC)
    report = campaign_preflight(campaign)
    assert report.ok, report.problems
    assert report.sendable == 2


@pytest.mark.parametrize(
    ("link", "reason"),
    [
        ("ftp://93.184.215.14/banner.png", "Only http and https"),
        ("https://user:pw@93.184.215.14/banner.png", "credentials"),
        ("https://93.184.215.14:8443/banner.png", "standard ports"),
        (42, "must be a URL"),
    ],
)
def test_preflight_names_every_other_unsafe_link(channel, image_template, vip, link, reason):
    campaign = stored_campaign(channel, image_template, vip, link)
    report = campaign_preflight(campaign)
    assert any(reason in p for p in report.problems), report.problems


# --- The staff form ---------------------------------------------------------------------------


@pytest.fixture
def manager_client(client, make_user):
    client.force_login(make_user("Campaign manager"))
    return client


def form_data(link):
    return {
        "body_0_source": "field",
        "body_0_field": "name",
        "body_1_source": "constant",
        "body_1_text": "Mid-caps rallied",
        "header_media_link": link,
    }


@pytest.mark.parametrize("link", REFUSED)
def test_the_staff_mapping_form_refuses_a_private_link(
    manager_client, channel, image_template, vip, link
):
    campaign = stored_campaign(channel, image_template, vip, PUBLIC)
    url = f"/staff/campaigns/{campaign.pk}/mapping/"
    response = manager_client.post(url, form_data(link))
    assert response.status_code == 422
    errors = response.context["form"].errors["header_media_link"]
    assert any("non-public address" in e for e in errors)
    assert b"non-public address" in response.content
    campaign.refresh_from_db()
    assert campaign.parameter_mapping["header_media_link"] == PUBLIC

    response = manager_client.post(url, form_data("https://93.184.215.14/other.png"))
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.parameter_mapping["header_media_link"] == "https://93.184.215.14/other.png"


@pytest.mark.parametrize("link", REFUSED[:1])
def test_the_staff_detail_page_shows_the_preflight_problem(
    manager_client, channel, image_template, vip, link
):
    campaign = stored_campaign(channel, image_template, vip, link)
    detail = manager_client.get(f"/staff/campaigns/{campaign.pk}/")
    assert detail.status_code == 200
    assert not detail.context["preflight"].ok
    assert b"Header media link refused" in detail.content


def test_the_mapping_form_is_kept_from_others(client, make_user, channel, image_template, vip):
    campaign = stored_campaign(channel, image_template, vip, PUBLIC)
    url = f"/staff/campaigns/{campaign.pk}/mapping/"
    assert client.post(url, form_data(PUBLIC)).status_code == 302  # to the sign-in page
    client.force_login(make_user("Agent"))
    assert client.post(url, form_data("http://127.0.0.1/x.png")).status_code == 403
