"""A campaign manager distributes today's content in the browser: sees who will receive it by
the advisors' preferences, confirms, and sees it go; an item nobody matches stays approved."""

import pytest

from messaging.content.services import content_approve, content_submit
from messaging.models import ContentDelivery, ContentItem, MessageTemplate
from tests.factories import AdvisorFactory, ContentItemFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def approved(template, author, reviewer, **kwargs):
    item = ContentItemFactory(template=template, created_by=author, **kwargs)
    content_submit(item=item, actor=author)
    return content_approve(item=item, reviewer=reviewer)


def test_distribute_with_confirmation(make_user, page, login, live_server, channel, screenshot):
    author, reviewer = make_user("Campaign manager"), make_user("Content reviewer")
    template = MessageTemplate.objects.get(channel=channel, name="advisor_content_ready")
    for prefs in (["macro"], ["macro", "tax"], [], ["markets"]):
        AdvisorFactory(content_preferences=prefs)
    item = approved(template, author, reviewer, title="RBI holds rates", category="macro")
    login(author.username)

    page.get_by_test_id("staff-nav").get_by_role("link", name="Content", exact=True).click()
    page.get_by_test_id("distribute-now").click()
    page.wait_for_url(f"{live_server.url}/staff/content/distribute/")
    reach = page.get_by_test_id("reach")
    assert "RBI holds rates" in reach.inner_text()
    assert page.get_by_test_id("reach-targeted").inner_text() == "4"
    assert page.get_by_test_id("reach-wants").inner_text() == "2"
    assert page.get_by_test_id("reach-everything").inner_text() == "1"
    assert page.get_by_test_id("reach-other").inner_text() == "1"
    assert page.get_by_test_id("reach-will-receive").inner_text() == "3"
    assert "macro 2" in page.get_by_test_id("reach-preferences").inner_text()
    screenshot("content-distribute-confirm")
    assert not ContentDelivery.objects.exists()  # nothing sent by looking

    page.get_by_label("Send today's content to 3 advisors now").check()
    page.get_by_role("button", name="Distribute now").click()
    page.wait_for_url(f"{live_server.url}/staff/content/")
    assert "1 item(s) distributed to 3 advisor(s)" in page.get_by_role("status").inner_text()
    item.refresh_from_db()
    assert item.state == "distributed"
    assert ContentDelivery.objects.filter(content_item=item).count() == 3


def test_nobody_matches(make_user, page, login, live_server, channel, screenshot):
    author, reviewer = make_user("Campaign manager"), make_user("Content reviewer")
    template = MessageTemplate.objects.get(channel=channel, name="advisor_content_ready")
    AdvisorFactory(content_preferences=["markets"])
    AdvisorFactory(content_preferences=["tax"])
    item = approved(template, author, reviewer, title="Gold as a hedge", category="commodities")
    login(author.username)

    page.goto(f"{live_server.url}/staff/content/distribute/")
    nobody = page.get_by_test_id("reach-nobody")
    assert "Nobody matches" in nobody.inner_text()
    assert "commodities" in nobody.inner_text()
    assert "stays approved" in nobody.inner_text()
    assert page.get_by_test_id("distribute-confirm").count() == 0
    screenshot("content-distribute-nobody")
    page.get_by_test_id("distribute-back").click()
    page.wait_for_url(f"{live_server.url}/staff/content/")
    assert ContentItem.objects.get(pk=item.pk).state == "approved"
    assert not ContentDelivery.objects.exists()


@pytest.mark.parametrize("size", [(390, 844), (1366, 768)], ids=["phone", "laptop"])
def test_the_confirmation_fits_the_screen(make_user, browser, live_server, channel, size):
    author, reviewer = make_user("Campaign manager"), make_user("Content reviewer")
    template = MessageTemplate.objects.get(channel=channel, name="advisor_content_ready")
    AdvisorFactory(content_preferences=["macro"])
    approved(template, author, reviewer, title="RBI holds rates", category="macro")
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", author.username)
        page.fill("#id_password", "correct-horse-battery")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/staff/")
        page.goto(f"{live_server.url}/staff/content/distribute/")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {size}"
    finally:
        context.close()
