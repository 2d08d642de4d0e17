"""A campaign manager creates, launches, pauses and resumes a campaign in the browser."""

import pytest

from crm.models import Tag
from messaging.models import Campaign, MessageTemplate
from tests.factories import ContactFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_create_launch_pause_resume(make_user, page, login, live_server, channel, screenshot):
    vip = Tag.objects.create(name="vip")
    for contact in ContactFactory.create_batch(3):
        contact.tags.add(vip)
    template = MessageTemplate.objects.get(channel=channel, name="delivery_delayed")
    login(make_user("Campaign manager").username)

    page.get_by_role("link", name="Campaigns").first.click()
    page.get_by_role("link", name="New campaign").click()
    page.fill("#id_name", "Late deliveries")
    page.select_option("#id_channel", str(channel.pk))
    page.select_option("#id_template", str(template.pk))
    page.get_by_label("vip").check()
    page.get_by_role("button", name="Save and map parameters").click()

    page.wait_for_url("**/mapping/")
    page.select_option("#id_body_0_source", "field")
    page.select_option("#id_body_0_field", "name")
    page.select_option("#id_body_1_source", "constant")
    page.fill("#id_body_1_text", "#40321")
    page.select_option("#id_body_2_source", "constant")
    page.fill("#id_body_2_text", "Monday")
    page.get_by_role("button", name="Save mapping").click()

    assert page.get_by_test_id("sendable").inner_text() == "3"
    screenshot("campaign-preflight")
    page.get_by_label("Send to 3 contacts now").check()
    page.get_by_role("button", name="Launch").click()
    assert page.get_by_test_id("progress-state").inner_text() == "Running"

    page.get_by_role("button", name="Pause").click()
    assert page.get_by_test_id("progress-state").inner_text() == "Paused"
    assert Campaign.objects.get(name="Late deliveries").state == "paused"
    page.get_by_role("button", name="Resume").click()
    assert page.get_by_test_id("progress-state").inner_text() == "Running"
    screenshot("campaign-running")
    assert page.get_by_test_id("count-queued").inner_text() == "3"
