"""A content reviewer approves an item in the browser and it leaves the review queue."""

import pytest

from messaging.content.services import content_submit
from messaging.models import ContentItem
from tests.factories import ContentItemFactory, TemplateFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BUTTONS = [
    {"type": "BODY", "text": "Hi {{1}}, today's content is ready: {{2}}."},
    {"type": "BUTTONS", "buttons": [
        {"type": "QUICK_REPLY", "text": "Unlock content"},
        {"type": "QUICK_REPLY", "text": "Get images"},
        {"type": "QUICK_REPLY", "text": "Share with clients"},
    ]},
]  # fmt: skip


def test_reviewer_approves_and_rejects_in_the_queue(
    make_user, page, login, screenshot, live_server
):
    author = make_user("Campaign manager")
    reviewer = make_user("Content reviewer")
    template = TemplateFactory(name="advisor_content_ready", components=BUTTONS)
    approve_me = ContentItemFactory(template=template, created_by=author, title="Budget notes")
    reject_me = ContentItemFactory(template=template, created_by=author, title="Gold rumours")
    for item in (approve_me, reject_me):
        content_submit(item=item, actor=author)

    login(reviewer.username)
    page.get_by_test_id("staff-nav").get_by_role("link", name="Content review").click()
    page.wait_for_url(f"{live_server.url}/staff/content/review/")
    queue = page.get_by_test_id("review-item")
    assert queue.count() == 2
    screenshot("content-review-queue")

    first = queue.filter(has_text="Budget notes")
    first.get_by_label("Note (optional)").fill("Clear and accurate")
    first.get_by_test_id("approve").click()
    page.wait_for_url(f"{live_server.url}/staff/content/review/")
    assert page.get_by_role("status").inner_text().startswith("Approved: Budget notes")
    assert page.get_by_test_id("review-item").count() == 1
    assert page.get_by_test_id("review-item").filter(has_text="Budget notes").count() == 0

    second = page.get_by_test_id("review-item").filter(has_text="Gold rumours")
    second.get_by_label("Why").fill("Unverified claims")
    second.get_by_test_id("reject").click()
    page.get_by_test_id("review-empty").wait_for()
    screenshot("content-review-empty")

    approve_me.refresh_from_db()
    reject_me.refresh_from_db()
    assert approve_me.state == "approved" and approve_me.reviewed_by == reviewer
    assert approve_me.review_note == "Clear and accurate"
    assert reject_me.state == "rejected" and reject_me.review_note == "Unverified claims"
    assert ContentItem.objects.get(pk=approve_me.pk).transitions.last().actor == reviewer
