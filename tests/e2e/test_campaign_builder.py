"""A campaign manager builds a campaign in the browser: picks where each template variable
comes from, watches the preview follow for real contacts, sends themself a test through the
simulator, launches, and reads the results and recipients by outcome."""

import pytest

from crm.models import AttributeDefinition, Contact, Tag
from messaging.models import Campaign, CampaignTestSend, Message, MessageTemplate
from messaging.sending.dispatch import send_batch_run
from tests.factories import ContactFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MY_NUMBER = "+919876512345"


def test_build_preview_test_send_launch_and_results(
    make_user, page, login, live_server, channel, simulator, screenshot
):
    AttributeDefinition.objects.create(key="city", label="City", type="text")
    vip = Tag.objects.create(name="vip")
    people = [
        ContactFactory(name="Asha Patel", attributes={"city": "Pune"}),
        ContactFactory(name="Ravi Kumar", attributes={}),
        ContactFactory(name="", profile_name="", attributes={"city": "Kochi"}),
    ]
    vip.contacts.add(*people)
    simulator.configure(fail_numbers={people[1].wa_id: 131026})
    template = MessageTemplate.objects.get(channel=channel, name="festive_offer")
    manager = make_user("Campaign manager")
    login(manager.username)

    # My number, for tests: saved with my agreement.
    page.get_by_test_id("staff-nav").get_by_role("link", name="My profile").click()
    page.fill("#id_phone", "98765 12345")
    page.get_by_role("button", name="Save").click()
    assert "Tick that you agree" in page.get_by_test_id("staff-profile-form").inner_text()
    page.check("#id_consent")
    page.get_by_role("button", name="Save").click()
    assert page.get_by_test_id("profile-phone").inner_text() == f"Tests go to {MY_NUMBER}."

    page.get_by_role("link", name="Campaigns").first.click()
    page.get_by_role("link", name="New campaign").click()
    page.fill("#id_name", "Diwali offer")
    page.select_option("#id_channel", str(channel.pk))
    page.select_option("#id_template", str(template.pk))
    page.get_by_label("vip").check()
    page.get_by_role("button", name="Save and map parameters").click()
    page.wait_for_url("**/mapping/")

    # Each variable: pick the source, then its field, attribute or text.
    page.select_option("#id_header_0_source", "constant")
    assert page.is_hidden("#id_header_0_field") and page.is_visible("#id_header_0_text")
    page.fill("#id_header_0_text", "Diwali Sale")
    page.select_option("#id_body_0_field", "first_name")
    page.fill("#id_body_0_fallback", "there")
    page.select_option("#id_body_1_source", "attribute")
    page.select_option("#id_body_1_attribute", "city")
    page.fill("#id_body_1_fallback", "your city")
    page.select_option("#id_body_2_source", "constant")
    page.fill("#id_body_2_text", "2 November")

    # The preview follows the form, for three real contacts of the audience.
    bubbles = page.get_by_test_id("preview-bubble")
    # Each change asks for the preview again; wait for the answer to the last one.
    bubbles.filter(has_text="Hi there, enjoy Kochi off everything until 2 November.").wait_for()
    assert bubbles.count() == 3
    assert "Hi Asha, enjoy Pune off everything until 2 November." in bubbles.first.inner_text()
    assert "Diwali Sale is here" in bubbles.first.inner_text()
    assert "Hi there, enjoy Kochi off everything until 2 November." in bubbles.nth(2).inner_text()
    ravi = page.get_by_test_id("preview").nth(1)
    assert "your city" in ravi.get_by_test_id("value-body_1").inner_text()
    assert "fallback" in ravi.get_by_test_id("value-body_1").inner_text()
    screenshot("campaign-builder")

    page.get_by_test_id("save-and-test").click()
    page.wait_for_url("**/mapping/")
    assert "Test sent to +919876512345" in page.get_by_role("status").inner_text()
    [test] = CampaignTestSend.objects.all()
    assert test.message.campaign_id is None and test.message.contact.phone == MY_NUMBER
    assert test.sent_by == manager and test.sample_contact == people[0]
    assert page.get_by_test_id("test-status").first.inner_text() == "queued"

    # The dispatcher sends it through the simulator, like any message.
    page.wait_for_load_state("networkidle")
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    [sent] = simulator.messages(to=MY_NUMBER.lstrip("+"))
    assert sent["template"] == "festive_offer" and sent["outcome"] == "accepted"
    assert "Asha" in str(sent["body"])
    page.get_by_role("link", name="Back").click()
    assert page.get_by_test_id("test-status").first.inner_text() == "accepted"
    assert not Message.objects.filter(campaign__name="Diwali offer").exists()

    # Launch: the test counted nowhere, the audience gets one message each.
    assert page.get_by_test_id("sendable").inner_text() == "3"
    page.get_by_label("Send to 3 contacts now").check()
    page.get_by_role("button", name="Launch").click()
    assert page.get_by_test_id("progress-state").inner_text() == "Running"
    page.get_by_test_id("results").wait_for()  # loaded once, apart from the page
    campaign = Campaign.objects.get(name="Diwali offer")
    # Leave the page that polls: the live server shares this thread's SQLite connection.
    page.get_by_test_id("staff-nav").get_by_role("link", name="Campaigns", exact=True).click()
    page.wait_for_url(f"{live_server.url}/staff/campaigns/")
    page.wait_for_load_state("networkidle")
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    assert campaign.messages.count() == 3

    page.goto(f"{live_server.url}/staff/campaigns/{campaign.pk}/")
    results = page.get_by_test_id("results")
    results.wait_for()
    assert page.get_by_test_id("recipient").count() == 3
    page.get_by_test_id("outcome-failed").click()
    failed = page.get_by_test_id("recipient")
    failed.first.wait_for()
    assert failed.count() == 1
    assert "Ravi Kumar" in failed.first.inner_text()
    assert "131026" in failed.first.inner_text()
    assert "undeliverable" in failed.first.inner_text().lower()
    screenshot("campaign-results")
    assert Contact.objects.filter(phone=MY_NUMBER).get().consent == "opted_in"


@pytest.mark.parametrize("size", [(390, 844), (1366, 768)], ids=["phone", "laptop"])
def test_the_builder_fits_the_screen(make_user, browser, live_server, channel, size):
    vip = Tag.objects.create(name="vip")
    vip.contacts.add(*ContactFactory.create_batch(3))
    campaign = Campaign.objects.create(
        name="Fits",
        channel=channel,
        template=MessageTemplate.objects.get(channel=channel, name="festive_offer"),
    )
    campaign.tags.add(vip)
    user = make_user("Campaign manager")
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", "correct-horse-battery")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/staff/")
        for path in (f"/staff/campaigns/{campaign.pk}/mapping/", "/staff/profile/"):
            page.goto(f"{live_server.url}{path}")
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at {size}"
    finally:
        context.close()
