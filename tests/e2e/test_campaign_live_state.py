"""The campaign page's heading, progress and actions follow the campaign's state without a
reload, on a phone and on a desktop, and stop polling once the state is final."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from messaging.campaigns.services import campaigns_complete_finished
from messaging.models import Campaign, CampaignState, Message, Status
from tests.e2e.conftest import live_server_idle
from tests.factories import ChannelFactory, ContactFactory, MessageFactory, TemplateFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [390, 1366])
def test_the_heading_turns_from_running_to_completed_without_a_reload(
    make_user, page, login, live_server, screenshot, width
):
    page.set_viewport_size({"width": width, "height": 900})
    channel = ChannelFactory()
    campaign = Campaign.objects.create(
        name="Monsoon sale", channel=channel, template=TemplateFactory(channel=channel),
        state=CampaignState.RUNNING, launched_at=timezone.now(),
    )  # fmt: skip
    for contact in ContactFactory.create_batch(2):
        MessageFactory(channel=channel, contact=contact, campaign=campaign, status=Status.QUEUED)
    login(make_user("Campaign manager").username)
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if r.url.endswith("/progress/") else None)
    page.goto(f"{live_server.url}/staff/campaigns/{campaign.pk}/")

    heading = page.get_by_test_id("campaign-heading-state")
    assert heading.inner_text() == "Running"
    assert heading.is_visible()
    assert page.get_by_role("button", name="Pause").is_visible()
    assert page.get_by_test_id("count-queued").inner_text() == "2"

    # The messages go and the campaign completes, in another process's terms: the database.
    now = timezone.now()
    with live_server_idle():  # not in the middle of the page's polling request
        Message.objects.filter(campaign=campaign).update(
            status=Status.SENT, accepted_at=now, sent_at=now
        )
        assert campaigns_complete_finished() == 1

    expect(heading).to_have_text("Completed", timeout=10_000)
    assert page.get_by_test_id("campaign-state").inner_text() == "Completed"
    assert page.get_by_test_id("progress-state").inner_text() == "Completed"
    assert page.get_by_test_id("count-sent").inner_text() == "2"
    assert page.get_by_role("button", name="Pause").count() == 0
    assert page.get_by_role("button", name="Cancel campaign").count() == 0
    screenshot(f"campaign-live-completed-{width}")

    # Final: the answer carried no trigger, so nothing more is asked.
    assert page.get_by_test_id("campaign-live").get_attribute("hx-get") is None
    asked = len(polls)
    page.wait_for_timeout(4500)
    assert len(polls) == asked
