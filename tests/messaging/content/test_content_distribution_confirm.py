"""Distributing today's content: who it would reach, counted by the advisors' preferences and
the send policy, confirmed before anything is sent; an item nobody matches stays approved."""

import pytest
from django.test import Client

from messaging.content.distribution import content_distribute, content_reach
from messaging.content.services import content_approve, content_submit
from messaging.models import (
    ContentDelivery,
    ContentItem,
    ContentTransition,
    Message,
    MessageTemplate,
)
from tests.factories import AdvisorFactory, ContactFactory, ContentItemFactory

pytestmark = pytest.mark.django_db

URL = "/staff/content/distribute/"


@pytest.fixture
def template(channel):
    return MessageTemplate.objects.get(channel=channel, name="advisor_content_ready")


@pytest.fixture
def author(make_user):
    return make_user("Campaign manager")


@pytest.fixture
def reviewer(make_user):
    return make_user("Content reviewer")


def approved_item(template, author, reviewer, **kwargs):
    item = ContentItemFactory(template=template, created_by=author, **kwargs)
    content_submit(item=item, actor=author)
    return content_approve(item=item, reviewer=reviewer)


@pytest.fixture
def network(db):
    """Seven active advisors by preference, one disabled, one blocked."""
    return {
        "macro": [AdvisorFactory(content_preferences=["Macro", "tax"]) for _ in range(2)],
        "everything": [AdvisorFactory(content_preferences=[]) for _ in range(2)],
        "other": [AdvisorFactory(content_preferences=["markets"]) for _ in range(3)],
        "disabled": AdvisorFactory(is_active=False, content_preferences=["macro"]),
        "blocked": AdvisorFactory(contact=ContactFactory(blocked=True), content_preferences=[]),
    }


def test_the_reach_counts_advisors_by_their_preferences(template, author, reviewer, network):
    item = approved_item(template, author, reviewer, category="macro")
    reach = content_reach(item)
    assert (reach.targeted, reach.wants, reach.everything, reach.other) == (8, 2, 2, 3)
    assert reach.excluded == {"blocked": 1}
    assert reach.will_receive == 4
    assert dict(reach.preferences) == {"macro": 2, "tax": 2, "markets": 3}
    # The count is the rule: distributing reaches exactly those.
    assert content_distribute().sent == 4
    reached = set(ContentDelivery.objects.values_list("contact_id", flat=True))
    expected = {a.contact_id for a in network["macro"] + network["everything"]}
    assert reached == expected
    # Already reached: nobody gets it twice.
    again = content_reach(ContentItem.objects.select_related("template").get(pk=item.pk))
    assert (again.already, again.will_receive) == (4, 0)


def test_the_reach_of_an_item_that_is_not_ready_names_its_problems(template, author, reviewer):
    item = approved_item(template, author, reviewer)
    MessageTemplate.objects.filter(pk=template.pk).update(status="PAUSED")
    item.refresh_from_db()
    reach = content_reach(ContentItem.objects.select_related("template").get(pk=item.pk))
    assert reach.problems and reach.will_receive == 0


def test_nobody_matching_leaves_the_item_approved(template, author, reviewer, network):
    item = approved_item(template, author, reviewer, category="commodities")
    for advisor in network["everything"]:
        advisor.content_preferences = ["tax"]
        advisor.save()
    result = content_distribute()
    [outcome] = result.items
    assert outcome.sent == 0 and outcome.reached_nobody
    assert "no advisor matches (7 prefer other categories, 1 blocked)" in outcome.skipped
    item.refresh_from_db()
    assert item.state == "approved" and item.distributed_at is None
    assert not ContentTransition.objects.filter(content_item=item, to_state="distributed").exists()
    assert not Message.objects.exists()
    # Once an advisor matches, the same item goes out later the same day.
    network["everything"][0].content_preferences = ["commodities"]
    network["everything"][0].save()
    assert content_distribute().sent == 1
    item.refresh_from_db()
    assert item.state == "distributed"


def test_the_confirmation_page_shows_who_will_receive_it(
    client, template, author, reviewer, network, django_assert_max_num_queries
):
    approved_item(template, author, reviewer, category="macro", title="RBI holds rates")
    client.force_login(author)
    with django_assert_max_num_queries(16):
        page = client.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert "RBI holds rates" in html
    assert 'data-testid="reach-will-receive"><strong>4</strong>' in html
    assert 'data-testid="reach-wants">2<' in html and 'data-testid="reach-other">3<' in html
    assert "Send today's content to 4 advisors now" in html
    assert not Message.objects.exists()  # looking sends nothing


def test_distribution_waits_for_the_confirmation(client, template, author, reviewer, network):
    item = approved_item(template, author, reviewer, category="macro")
    client.force_login(author)
    response = client.post(URL, follow=True)
    assert response.redirect_chain[-1][0] == URL
    assert any("Tick the confirmation" in str(m) for m in response.context["messages"])
    assert not Message.objects.exists()
    response = client.post(URL, {"confirm": "yes"}, follow=True)
    assert any("distributed to 4 advisor(s)" in str(m) for m in response.context["messages"])
    item.refresh_from_db()
    assert item.state == "distributed"


def test_the_page_says_so_when_nobody_matches(client, template, author, reviewer, network):
    item = approved_item(template, author, reviewer, category="commodities", title="Gold")
    for advisor in network["everything"]:
        advisor.content_preferences = ["tax"]
        advisor.save()
    client.force_login(author)
    html = client.get(URL).content.decode()
    assert 'data-testid="reach-nobody"' in html
    assert "No targeted advisor wants “commodities”" not in html  # one is blocked, not only prefs
    assert 'data-testid="distribute-confirm"' not in html  # nothing to confirm
    response = client.post(URL, {"confirm": "yes"}, follow=True)
    warnings = [str(m) for m in response.context["messages"]]
    assert any(w.startswith("Not distributed: Gold: no advisor matches") for w in warnings)
    item.refresh_from_db()
    assert item.state == "approved"


def test_the_page_names_the_preference_problem(client, template, author, reviewer):
    AdvisorFactory(content_preferences=["markets"])
    approved_item(template, author, reviewer, category="macro")
    client.force_login(author)
    html = client.get(URL).content.decode()
    assert "No targeted advisor wants “macro”" in html
    assert "Preferences of the targeted advisors: markets 1." in html


def test_the_page_says_when_nothing_is_due(client, author):
    client.force_login(author)
    html = client.get(URL).content.decode()
    assert 'data-testid="reach-none"' in html


def test_distribution_is_kept_from_those_without_its_permission(
    client, make_user, template, author, reviewer, network
):
    approved_item(template, author, reviewer, category="macro")
    assert client.get(URL).status_code == 302
    assert client.post(URL, {"confirm": "yes"}).status_code == 302
    for role in ("Agent", "Content reviewer", "Analyst"):
        client.force_login(make_user(role))
        assert client.get(URL).status_code == 403, role
        assert client.post(URL, {"confirm": "yes"}).status_code == 403, role
    assert not Message.objects.exists()


def test_the_confirmation_needs_the_csrf_token(author, template, reviewer, network):
    approved_item(template, author, reviewer, category="macro")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(author)
    assert strict.post(URL, {"confirm": "yes"}).status_code == 403
    assert not Message.objects.exists()
