"""The content and notification demo data: every state present, written once."""

import random

import pytest

from messaging.content.demo import seed_content
from messaging.models import ContentDelivery, ContentItem, LinkClick, Notification
from tests.factories import AdvisorFactory, ContactFactory

pytestmark = pytest.mark.django_db


def test_seed_content_covers_every_state_and_is_idempotent(channel, make_user):
    make_user("Campaign manager")
    make_user("Content reviewer")
    for _ in range(12):
        AdvisorFactory()
    ContactFactory.create_batch(10)
    counts = seed_content(rng=random.Random(7), channel=channel)
    assert counts["content_items"] == 12 and counts["notifications"] == 60
    states = set(ContentItem.objects.values_list("state", flat=True))
    assert states == {"draft", "pending_review", "approved", "rejected", "scheduled", "distributed"}
    assert ContentItem.objects.filter(state="rejected").exclude(review_note="").count() == 2
    assert ContentDelivery.objects.count() == 3 * 12
    assert ContentDelivery.objects.filter(unlocked_at__isnull=False).exists()
    statuses = {n.status for n in Notification.objects.select_related("message")}
    assert {"read", "delivered", "failed", "refused"} <= statuses
    assert LinkClick.objects.exists() == (counts["link_clicks"] > 0)
    again = seed_content(rng=random.Random(7), channel=channel)
    assert again == {"content_items": 0, "deliveries": 0, "notifications": 0, "link_clicks": 0}
    assert ContentItem.objects.count() == 12 and Notification.objects.count() == 60


def test_the_demo_days_content_reaches_advisors(channel, make_user, settings, tmp_path):
    """The demo's advisors prefer the demo content's categories (or none): distributing the
    day's item reaches some of them, and it becomes distributed."""
    from crm.demo import seed_crm
    from messaging.content.distribution import content_distribute, content_reach_today

    settings.MEDIA_ROOT = tmp_path
    make_user("Campaign manager")
    make_user("Content reviewer")
    seed_crm(rng=random.Random(7))
    seed_content(rng=random.Random(7), channel=channel)
    [reach] = content_reach_today()
    assert reach.item.title == "RBI policy: rates on hold" and reach.category == "macro"
    assert not reach.problems
    assert reach.wants > 0 and reach.everything > 0 and reach.other > 0
    result = content_distribute()
    assert result.sent == reach.will_receive > 0
    reach.item.refresh_from_db()
    assert reach.item.state == "distributed"
