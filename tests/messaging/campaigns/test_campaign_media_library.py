"""A campaign's media header from the media library: chosen on the mapping page or in the
API's mapping, checked at save and pre-flight, sent by the number's media id."""

import pytest

from core.errors import DomainError
from crm.models import Tag
from messaging.campaigns.selectors import campaign_preflight
from messaging.campaigns.services import campaign_create, campaign_launch
from messaging.models import Campaign, Message, MessageTemplate, Status
from messaging.sending.dispatch import send_batch_run
from tests.factories import ContactFactory
from tests.messaging.media.support import PDF, asset_make

pytestmark = pytest.mark.django_db

BODY = [{"source": "field", "value": "name"}, {"source": "constant", "value": "x"}]


@pytest.fixture
def vip(db):
    tag = Tag.objects.create(name="vip")
    for contact in ContactFactory.create_batch(3, consent="opted_in"):
        contact.tags.add(tag)
    return tag


@pytest.fixture
def image_template(channel):
    return MessageTemplate.objects.get(channel=channel, name="daily_market_insight", language="en")


def test_a_launched_campaign_uploads_its_header_once(channel, simulator, image_template, vip):
    banner = asset_make("banner.png")
    campaign = campaign_create(
        name="Insight", channel=channel, template=image_template,
        parameter_mapping={"body": BODY, "header_media_asset": banner.pk},
    )  # fmt: skip
    campaign.tags.add(vip)
    assert campaign_preflight(campaign).problems == []
    campaign_launch(campaign=Campaign.objects.get(pk=campaign.pk), launched_by=None)
    for _ in range(10):
        send_batch_run(channel_id=channel.pk, max_seconds=5)
        if not Message.objects.filter(status=Status.QUEUED).exists():
            break
    assert set(Message.objects.values_list("status", flat=True)) == {Status.ACCEPTED}
    assert len(simulator.state.media) == 1
    (media_id,) = simulator.state.media
    for sent in simulator.state.list_messages():
        header = sent["body"]["components"][0]
        assert header["parameters"][0]["image"] == {"id": media_id}


def test_an_unknown_or_wrong_kind_file_is_refused(channel, image_template, vip):
    with pytest.raises(DomainError) as error:
        campaign_create(
            name="Gone", channel=channel, template=image_template,
            parameter_mapping={"body": BODY, "header_media_asset": 999999},
        )  # fmt: skip
    assert error.value.code == "media_asset_unknown"
    brochure = asset_make("brochure.pdf", PDF)
    campaign = Campaign.objects.create(
        name="Wrong", channel=channel, template=image_template,
        parameter_mapping={"body": BODY, "header_media_asset": brochure.pk},
    )  # fmt: skip
    campaign.tags.add(vip)
    problems = campaign_preflight(campaign).problems
    assert any("the header needs image" in p for p in problems), problems


def test_the_mapping_page_offers_library_images_and_stores_the_choice(
    client, make_user, channel, image_template, vip
):
    client.force_login(make_user("Campaign manager"))
    banner, brochure = asset_make("banner.png"), asset_make("brochure.pdf", PDF)
    campaign = Campaign.objects.create(name="Insight", channel=channel, template=image_template)
    url = f"/staff/campaigns/{campaign.pk}/mapping/"
    page = client.get(url).content.decode()
    assert "banner.png" in page and "brochure.pdf" not in page  # only images for an image
    data = {
        "body_0_source": "field", "body_0_field": "name",
        "body_1_source": "constant", "body_1_text": "Mid-caps rallied",
    }  # fmt: skip
    missing = client.post(url, data)
    assert missing.status_code == 422
    assert "Choose a library file" in missing.content.decode()
    assert client.post(url, {**data, "header_media_asset": banner.pk}).status_code == 302
    campaign.refresh_from_db()
    assert campaign.parameter_mapping["header_media_asset"] == banner.pk
    assert "header_media_link" not in campaign.parameter_mapping
    assert client.post(url, {**data, "header_media_asset": brochure.pk}).status_code == 422
