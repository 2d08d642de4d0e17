"""The staff home per role in the browser, at phone (390x844) and laptop (1366x768) sizes: each
role sees its own sections with real data, and no page scrolls sideways."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from core.roles import ROLE_NAMES
from messaging.models import Campaign
from tests.factories import (
    ContactFactory,
    ContentItemFactory,
    ConversationFactory,
    MessageFactory,
    TemplateFactory,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SIZES = {"phone": {"width": 390, "height": 844}, "laptop": {"width": 1366, "height": 768}}
SECTION = {
    "Admin": "home-health",
    "Campaign manager": "home-campaigns",
    "Content reviewer": "home-review",
    "Agent": "home-inbox",
    "Analyst": "home-kpis",
}


def overflow(page) -> int:
    return page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


@pytest.fixture
def busy_day(channel, settings):
    """Something for every section: waiting customers, a running and a scheduled campaign
    with long names, content waiting for review, a template waiting for Meta."""
    now = timezone.now()
    template = channel.templates.get(name="order_confirmation", language="en")
    running = Campaign.objects.create(
        name="Diwali festive offer for every customer who bought in the last ninety days",
        channel=channel, template=template, state="running", launched_at=now,
    )  # fmt: skip
    for status in (40, 50, 10):
        MessageFactory(channel=channel, campaign=running, type="template", status=status,
                       contact=ContactFactory())  # fmt: skip
    Campaign.objects.create(name="New year", channel=channel, template=template,
                            state="scheduled", scheduled_at=now + dt.timedelta(days=2))  # fmt: skip
    ContentItemFactory(
        title="Mid-caps rallied on strong earnings: a long title to wrap well",
        state="pending_review",
        submitted_at=now - dt.timedelta(hours=3),
    )
    TemplateFactory(channel=channel, name="spring_sale_waiting_for_meta", status="PENDING")
    for n in range(3):
        conversation = ConversationFactory(
            channel=channel, contact=ContactFactory(name=f"Customer with a long name {n}")
        )
        MessageFactory(channel=channel, contact=conversation.contact, conversation=conversation,
                       direction="in", status=1,
                       created_at=now - dt.timedelta(minutes=40 * (n + 1)))  # fmt: skip
    return channel


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_each_role_has_its_home_at_phone_and_laptop_sizes(
    role, busy_day, make_user, page, login, screenshot
):
    user = make_user(role)
    for conversation in busy_day.conversations.all()[:1]:
        conversation.assignee = user
        conversation.save(update_fields=["assignee"])
    login(user.username)
    section = page.get_by_test_id(SECTION[role])
    assert section.is_visible()
    for other, key in SECTION.items():
        if other != role:
            assert page.get_by_test_id(key).count() == 0, key
    if role == "Agent":
        assert page.get_by_test_id("home-mine").get_by_test_id("waiting").count() == 1
        assert page.get_by_test_id("home-pick-up").get_by_test_id("home-conversation").count() == 2
    if role == "Campaign manager":
        assert "66.7% of 3" in section.inner_text()
        assert "spring_sale_waiting_for_meta" in section.inner_text()
    if role == "Content reviewer":
        assert "1 item waiting for review" in page.get_by_test_id("review-count").inner_text()
    for name, size in SIZES.items():
        page.set_viewport_size(size)
        page.reload()
        assert overflow(page) <= 0, f"{role} home is {overflow(page)} px too wide at {name}"
        screenshot(f"home-{role.lower().replace(' ', '-')}-{name}")


def test_an_agent_takes_a_waiting_conversation_from_the_home_page(busy_day, make_user, page, login):
    login(make_user("Agent").username)
    pick_up = page.get_by_test_id("home-pick-up")
    assert pick_up.get_by_test_id("home-conversation").count() == 3
    oldest = pick_up.get_by_test_id("home-conversation").first
    assert "Customer with a long name 2" in oldest.inner_text()  # waiting longest, listed first
    oldest.get_by_role("button", name="Take it").click()
    page.wait_for_url("**/staff/inbox/*/")
    page.goto(page.url.split("/staff/")[0] + "/staff/")
    mine = page.get_by_test_id("home-mine")
    assert "Customer with a long name 2" in mine.inner_text()


def test_several_roles_see_every_section_the_waiting_one_first(
    busy_day, make_user, page, login, screenshot
):
    user = make_user("Analyst", username="multi")
    user.groups.add(Group.objects.get(name="Agent"), Group.objects.get(name="Content reviewer"))
    login(user.username)
    sections = page.locator("section.home-section").evaluate_all(
        "sections => sections.map(s => s.dataset.testid)"
    )
    # Waiting on them: customers (agent) and an item (reviewer), in role order; then the KPIs.
    assert sections == ["home-review", "home-inbox", "home-kpis"]
    page.set_viewport_size(SIZES["phone"])
    assert overflow(page) <= 0
    screenshot("home-several-roles-phone")
