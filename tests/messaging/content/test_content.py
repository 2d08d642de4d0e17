"""Content for advisors: workflow and permissions, distribution, Click-to-Unlock, the feed."""

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from core.errors import InvalidTransition
from crm.models import Segment
from messaging.content.distribution import (
    content_announcement,
    content_distribute,
    content_materialise,
)
from messaging.content.feed import content_feed_import
from messaging.content.schedules import DISTRIBUTION, FEED_IMPORT
from messaging.content.selectors import content_stats
from messaging.content.services import (
    ContentNotReady,
    SelfApproval,
    content_approve,
    content_create,
    content_reject,
    content_schedule,
    content_submit,
    content_today,
    content_update,
    content_withdraw,
)
from messaging.content.unlock import content_payload_parse, content_unlock
from messaging.models import (
    ContentDelivery,
    ContentItem,
    ContentUnlock,
    Message,
    MessageTemplate,
    Status,
    TrackedLink,
)
from messaging.sending.dispatch import send_batch_run
from messaging.signals import content_unlocked
from tests.factories import AdvisorFactory, ContactFactory, ContentItemFactory, window_open

pytestmark = pytest.mark.django_db


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


def advisors(n, **kwargs):
    return [AdvisorFactory(**kwargs) for _ in range(n)]


def payloads(message):
    return [
        c["parameters"][0]["payload"]
        for c in message.content["components"]
        if c["type"] == "button" and c.get("sub_type") == "quick_reply"
    ]


# --- Workflow ----------------------------------------------------------------------------------


def test_workflow_records_every_transition(template, author, reviewer):
    item = content_create(
        created_by=author, title="Tax-saving funds", body="Body", template=template,
        send_on=content_today(), unlock_buttons=[{"kind": "unlock_content", "title": ""}],
    )  # fmt: skip
    assert item.state == "draft" and item.unlock_buttons[0]["kind"] == "UNLOCK_CONTENT"
    item = content_submit(item=item, actor=author)
    assert item.state == "pending_review" and item.submitted_by == author
    item = content_reject(item=item, reviewer=reviewer, note="Add the fund names")
    assert item.state == "rejected" and item.review_note == "Add the fund names"
    item = content_update(item=item, actor=author, body="ELSS: fund A, fund B")
    assert item.state == "draft"
    item = content_submit(item=item, actor=author)
    item = content_approve(item=item, reviewer=reviewer, note="Good")
    assert item.state == "approved" and item.reviewed_by == reviewer
    item = content_schedule(item=item, actor=author)
    assert item.state == "scheduled"
    history = [(t.from_state, t.to_state, t.actor) for t in item.transitions.all()]
    assert history == [
        ("", "draft", author),
        ("draft", "pending_review", author),
        ("pending_review", "rejected", reviewer),
        ("rejected", "draft", author),
        ("draft", "pending_review", author),
        ("pending_review", "approved", reviewer),
        ("approved", "scheduled", author),
    ]
    assert item.transitions.get(to_state="rejected").note == "Add the fund names"


def test_a_rejected_item_can_be_resubmitted_as_it_is(template, author, reviewer):
    item = ContentItemFactory(template=template, created_by=author)
    content_submit(item=item, actor=author)
    item = content_reject(item=item, reviewer=reviewer, note="Check the figures")
    item = content_submit(item=item, actor=author)
    assert item.state == "pending_review"


def test_editing_an_approved_item_needs_review_again(template, author, reviewer):
    item = approved_item(template, author, reviewer)
    item = content_update(item=item, actor=author, title="New title")
    assert item.state == "draft" and item.title == "New title"
    assert "needs review again" in item.transitions.last().note


def test_the_author_cannot_approve_their_own_item(template, make_user):
    both = make_user("Admin")  # may author and review
    item = ContentItemFactory(template=template, created_by=both)
    content_submit(item=item, actor=both)
    with pytest.raises(SelfApproval):
        content_approve(item=item, reviewer=both)
    item.refresh_from_db()
    assert item.state == "pending_review"
    # Nor the person who submitted someone else's draft.
    submitter = make_user("Admin", username="submitter")
    other = ContentItemFactory(template=template, created_by=make_user("Campaign manager"))
    content_submit(item=other, actor=submitter)
    with pytest.raises(SelfApproval):
        content_approve(item=other, reviewer=submitter)


def test_rules_refuse_bad_moves_and_unready_items(template, author, reviewer):
    item = ContentItemFactory(template=None, created_by=author)
    with pytest.raises(ContentNotReady, match="template"):
        content_submit(item=item, actor=author)
    item = ContentItemFactory(template=template, created_by=author, unlock_buttons=[])
    with pytest.raises(ContentNotReady, match="at least one button"):
        content_submit(item=item, actor=author)
    item = ContentItemFactory(
        template=template, created_by=author,
        unlock_buttons=[{"kind": "UNLOCK_CONTENT"}] * 4,
    )  # fmt: skip
    with pytest.raises(ContentNotReady, match="3 quick-reply"):
        content_submit(item=item, actor=author)
    item = ContentItemFactory(template=template, created_by=author)
    with pytest.raises(InvalidTransition):
        content_approve(item=item, reviewer=reviewer)  # still a draft
    content_submit(item=item, actor=author)
    with pytest.raises(InvalidTransition, match="withdraw"):
        content_update(item=item, actor=author, title="x")
    with pytest.raises(Exception, match="Say why"):
        content_reject(item=item, reviewer=reviewer, note="  ")
    content_withdraw(item=item, actor=author)
    late = ContentItemFactory(
        template=template, created_by=author, send_on=content_today() - timedelta(days=1)
    )
    with pytest.raises(ContentNotReady, match="date has passed"):
        content_submit(item=late, actor=author)
    paused = MessageTemplate.objects.get(channel=template.channel, name="advisor_content_drop")
    item = ContentItemFactory(template=paused, created_by=author)
    with pytest.raises(ContentNotReady, match="PAUSED"):
        content_submit(item=item, actor=author)


# --- Staff pages and permissions ---------------------------------------------------------------


def test_anonymous_and_unprivileged_are_kept_out(client, make_user, template):
    item = ContentItemFactory(template=template)
    urls = ["/staff/content/", "/staff/content/new/", "/staff/content/review/",
            f"/staff/content/{item.pk}/"]  # fmt: skip
    for url in urls:
        assert client.get(url).status_code == 302, url
    assert client.post("/staff/content/distribute/").status_code == 302
    client.force_login(make_user("Agent"))  # may read content, nothing else
    assert client.get("/staff/content/").status_code == 200
    assert client.get("/staff/content/new/").status_code == 403
    assert client.get("/staff/content/review/").status_code == 403
    assert client.get(f"/staff/content/{item.pk}/edit/").status_code == 403
    assert client.post(f"/staff/content/{item.pk}/submit/").status_code == 403
    assert client.post("/staff/content/distribute/").status_code == 403
    client.force_login(make_user())  # no role at all
    assert client.get("/staff/content/").status_code == 403


def test_campaign_manager_authors_but_cannot_review(client, author, template, reviewer):
    client.force_login(author)
    response = client.post(
        "/staff/content/new/",
        {
            "title": "Gold outlook", "body": "Gold may rise. https://r.example.com/gold",
            "category": "commodities", "send_on": content_today().isoformat(),
            "target": "tier", "target_tier": "gold", "template": template.pk,
            "button_0_kind": "UNLOCK_CONTENT", "button_0_title": "",
            "button_1_kind": "RETRIEVE_CONTENT", "button_1_title": "Again",
        },
    )  # fmt: skip
    assert response.status_code == 302, response.context["form"].errors
    item = ContentItem.objects.get(title="Gold outlook")
    assert item.unlock_buttons == [
        {"kind": "UNLOCK_CONTENT", "title": "Unlock content"},
        {"kind": "RETRIEVE_CONTENT", "title": "Again"},
    ]
    assert item.created_by == author and item.target_tier == "gold"
    client.post(f"/staff/content/{item.pk}/submit/")
    item.refresh_from_db()
    assert item.state == "pending_review"
    assert client.get("/staff/content/review/").status_code == 403
    assert client.post(f"/staff/content/{item.pk}/approve/").status_code == 403
    item.refresh_from_db()
    assert item.state == "pending_review"


def test_the_form_checks_target_fields_and_media(client, author, template):
    client.force_login(author)
    response = client.post(
        "/staff/content/new/",
        {
            "title": "x", "body": "y", "send_on": content_today().isoformat(),
            "target": "segment", "template": template.pk, "media_url": "http://127.0.0.1/a.png",
        },
    )  # fmt: skip
    errors = response.context["form"].errors
    assert "target_segment" in errors and "media_url" in errors and "button_0_kind" in errors


def test_reviewer_approves_and_rejects_on_the_review_page(client, author, reviewer, template):
    first = ContentItemFactory(template=template, created_by=author, title="First")
    second = ContentItemFactory(template=template, created_by=author, title="Second")
    for item in (first, second):
        content_submit(item=item, actor=author)
    client.force_login(reviewer)
    page = client.get("/staff/content/review/")
    assert page.status_code == 200
    assert [i.title for i in page.context["items"]] == ["First", "Second"]
    response = client.post(
        f"/staff/content/{first.pk}/approve/", {"next": "/staff/content/review/"}
    )
    assert response["Location"] == "/staff/content/review/"
    client.post(f"/staff/content/{second.pk}/reject/", {"note": "Too long"})
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, second.state) == ("approved", "rejected")
    assert second.review_note == "Too long"
    assert b"Nothing is waiting for review" in client.get("/staff/content/review/").content
    # An open redirect through `next` is refused.
    third = ContentItemFactory(template=template, created_by=author)
    content_submit(item=third, actor=author)
    response = client.post(
        f"/staff/content/{third.pk}/approve/", {"next": "https://evil.example.com/"}
    )
    assert response["Location"] == f"/staff/content/{third.pk}/"


def test_review_actions_need_post_and_csrf(reviewer, author, template):
    from django.test import Client

    item = ContentItemFactory(template=template, created_by=author)
    content_submit(item=item, actor=author)
    client = Client(enforce_csrf_checks=True)
    client.force_login(reviewer)
    assert client.get(f"/staff/content/{item.pk}/approve/").status_code == 405
    assert client.post(f"/staff/content/{item.pk}/approve/").status_code == 403
    item.refresh_from_db()
    assert item.state == "pending_review"


def test_own_item_shows_no_approve_button(client, make_user, template):
    admin = make_user("Admin")
    item = ContentItemFactory(template=template, created_by=admin)
    content_submit(item=item, actor=admin)
    client.force_login(admin)
    page = client.get("/staff/content/review/")
    assert b'data-testid="approve"' not in page.content
    assert b"another reviewer must approve" in page.content
    client.post(f"/staff/content/{item.pk}/approve/")
    item.refresh_from_db()
    assert item.state == "pending_review"


def test_detail_and_list_pages(client, author, reviewer, template, django_assert_max_num_queries):
    item = approved_item(template, author, reviewer)
    for _ in range(5):
        ContentItemFactory(template=template, created_by=author)
    client.force_login(author)
    with django_assert_max_num_queries(12):
        listing = client.get("/staff/content/")
    assert listing.status_code == 200 and listing.context["page"].paginator.count == 6
    detail = client.get(f"/staff/content/{item.pk}/")
    assert detail.status_code == 200
    assert detail.context["stats"]["total"] == 0
    assert b"pending_review" in detail.content and b"approved" in detail.content


def test_admin_actions_review_with_a_note(client, make_user, author, template):
    items = [ContentItemFactory(template=template, created_by=author) for _ in range(2)]
    for item in items:
        content_submit(item=item, actor=author)
    client.force_login(make_user("Admin", username="boss"))
    url = "/admin/messaging/contentitem/"
    client.post(url, {"action": "approve", "_selected_action": [items[0].pk]})
    page = client.post(url, {"action": "reject", "_selected_action": [items[1].pk]})
    assert page.status_code == 200 and b"Reject these content items" in page.content
    client.post(url, {"action": "reject", "_selected_action": [items[1].pk], "note": "Off-brand"})
    states = [ContentItem.objects.get(pk=i.pk).state for i in items]
    assert states == ["approved", "rejected"]
    assert ContentItem.objects.get(pk=items[1].pk).review_note == "Off-brand"


# --- Distribution ------------------------------------------------------------------------------


def test_distribution_reaches_each_active_advisor_once(
    template, author, reviewer, django_capture_on_commit_callbacks
):
    active = advisors(3)
    disabled = AdvisorFactory(is_active=False)
    blocked = AdvisorFactory(contact=ContactFactory(blocked=True))
    item = approved_item(template, author, reviewer)
    with django_capture_on_commit_callbacks() as callbacks:
        result = content_distribute()
    assert len(callbacks) >= 1  # the dispatcher is nudged after commit
    assert result.sent == 3 and result.items[0].excluded == {"blocked": 1}
    item.refresh_from_db()
    assert item.state == "distributed" and item.distributed_at
    deliveries = ContentDelivery.objects.filter(content_item=item)
    assert {d.contact_id for d in deliveries} == {a.contact_id for a in active}
    assert disabled.contact_id not in {d.contact_id for d in deliveries}
    assert blocked.contact_id not in {d.contact_id for d in deliveries}
    for delivery in deliveries.select_related("message"):
        message = delivery.message
        assert message.status == Status.QUEUED and message.lane == 1 and message.is_automated
        assert message.type == "template" and message.content["name"] == "advisor_content_ready"
        assert payloads(message) == [
            f"UNLOCK_CONTENT:{delivery.pk}",
            f"UNLOCK_IMAGES:{delivery.pk}",
            f"SHARE_WITH_CLIENTS:{delivery.pk}",
        ]
        body = next(c for c in message.content["components"] if c["type"] == "body")
        assert body["parameters"][1]["text"] == item.title
    # Running it again sends nothing more.
    assert content_distribute().sent == 0
    assert Message.objects.count() == 3


def test_materialising_twice_never_duplicates(template, author, reviewer):
    advisors(4)
    item = approved_item(template, author, reviewer)
    assert content_materialise(item=item)[0] == 4
    assert content_materialise(item=item)[0] == 0  # a crash before the state change
    assert content_distribute().sent == 0
    assert ContentDelivery.objects.count() == Message.objects.count() == 4


def test_distribution_does_not_query_per_advisor(
    template, author, reviewer, django_assert_max_num_queries
):
    advisors(40)
    approved_item(template, author, reviewer)
    with django_assert_max_num_queries(25):
        assert content_distribute().sent == 40


def test_targets_and_preferences(template, author, reviewer):
    gold = AdvisorFactory(tier="gold", region="North")
    AdvisorFactory(tier="silver", region="North")
    AdvisorFactory(tier="silver", region="South", content_preferences=["tax"])
    anything = AdvisorFactory(tier="bronze", region="South", content_preferences=[])
    segment = Segment.objects.create(name="Gold", filter={})
    today = content_today()
    by_tier = approved_item(template, author, reviewer, target="tier", target_tier="gold")
    by_region = approved_item(
        template, author, reviewer, target="region", target_region="south", category="markets"
    )
    by_segment = approved_item(
        template, author, reviewer, target="segment", target_segment=segment, category=""
    )
    result = content_distribute(day=today)
    sent = {r.item: r.sent for r in result.items}
    assert sent[by_tier.pk] == 1
    assert ContentDelivery.objects.get(content_item=by_tier).contact_id == gold.contact_id
    assert sent[by_region.pk] == 1  # the tax-only advisor does not get markets
    assert ContentDelivery.objects.get(content_item=by_region).contact_id == anything.contact_id
    assert [r.excluded for r in result.items if r.item == by_region.pk] == [{"preferences": 1}]
    assert sent[by_segment.pk] == 4  # an empty filter matches every contact


def test_only_the_days_items_go_and_not_drafts(template, author, reviewer):
    advisors(2)
    today = content_today()
    due = approved_item(template, author, reviewer)
    later = approved_item(template, author, reviewer, send_on=today + timedelta(days=1))
    draft = ContentItemFactory(template=template, created_by=author)
    pending = ContentItemFactory(template=template, created_by=author)
    content_submit(item=pending, actor=author)
    content_distribute()
    states = {i.pk: ContentItem.objects.get(pk=i.pk).state for i in (due, later, draft, pending)}
    assert states == {
        due.pk: "distributed",
        later.pk: "approved",
        draft.pk: "draft",
        pending.pk: "pending_review",
    }
    call_command("distribute_content", "--date", (today + timedelta(days=1)).isoformat())
    later.refresh_from_db()
    assert later.state == "distributed"


def test_marketing_announcements_need_opt_in(channel, author, reviewer, settings):
    settings.MEDIA_URL_ALLOW_PRIVATE = True  # no DNS in tests
    opted_in = AdvisorFactory()
    AdvisorFactory(contact=ContactFactory(consent="unknown"))
    marketing = MessageTemplate.objects.get(channel=channel, name="daily_market_insight")
    item = approved_item(
        marketing, author, reviewer, media_url="https://cdn.example.com/chart.png",
        unlock_buttons=[{"kind": "UNLOCK_CONTENT", "title": "Unlock full report"}],
    )  # fmt: skip
    result = content_distribute()
    assert result.sent == 1 and result.items[0].excluded == {"no_consent": 1}
    message = ContentDelivery.objects.get(content_item=item).message
    assert message.contact_id == opted_in.contact_id and message.is_marketing
    header = next(c for c in message.content["components"] if c["type"] == "header")
    assert header["parameters"][0]["image"]["link"] == "https://cdn.example.com/chart.png"


def test_an_item_that_is_no_longer_ready_is_skipped(template, author, reviewer):
    advisors(1)
    item = approved_item(template, author, reviewer)
    MessageTemplate.objects.filter(pk=template.pk).update(status="PAUSED")
    result = content_distribute()
    assert result.sent == 0 and "PAUSED" in result.items[0].skipped
    item.refresh_from_db()
    assert item.state == "approved"


def test_distribute_now_button_needs_its_permission(client, make_user, template, author, reviewer):
    advisors(2)
    item = approved_item(template, author, reviewer)
    client.force_login(reviewer)
    assert client.post("/staff/content/distribute/").status_code == 403
    client.force_login(make_user("Campaign manager", username="manager2"))
    response = client.post("/staff/content/distribute/", {"confirm": "yes"}, follow=True)
    assert b"distributed to 2 advisor" in response.content
    item.refresh_from_db()
    assert item.state == "distributed"


def test_beat_rows_exist_at_the_configured_local_time(settings):
    task = PeriodicTask.objects.get(name=DISTRIBUTION)
    # Beat starts the registered job, so every scheduled run is recorded as a JobRun.
    assert task.task == "analytics.job_scheduled" and task.enabled
    assert json.loads(task.kwargs) == {"name": "distribute_content"}
    assert (task.crontab.hour, task.crontab.minute) == ("8", "0")
    assert str(task.crontab.timezone) == settings.CONTENT_TIME_ZONE
    feed = PeriodicTask.objects.get(name=FEED_IMPORT)
    assert json.loads(feed.kwargs) == {"name": "import_content_feed"}
    settings.CONTENT_DISTRIBUTION_TIME = "07:30"
    settings.CONTENT_TIME_ZONE = "Asia/Kolkata"
    call_command("distribute_content", "--reschedule")
    task.refresh_from_db()
    assert (task.crontab.hour, task.crontab.minute) == ("7", "30")
    assert str(task.crontab.timezone) == "Asia/Kolkata"


def test_the_task_runs_the_distribution(template, author, reviewer):
    from messaging.content.tasks import content_distribute_task

    advisors(1)
    approved_item(template, author, reviewer)
    assert content_distribute_task.apply().get()["sent"] == 1


def test_content_task_runs_never_overlap():
    from django.core.cache import cache

    from messaging.content.tasks import content_distribute_task, content_feed_import_task

    for task in (content_distribute_task, content_feed_import_task):
        cache.add(f"task-lock:{task.name}", "other", timeout=60)
        try:
            assert task.apply().get() == {"skipped": "already running"}
        finally:
            cache.delete(f"task-lock:{task.name}")


# --- Click-to-Unlock ---------------------------------------------------------------------------


@pytest.fixture
def distributed(template, author, reviewer, simulator, settings):
    """One advisor got an item with media; the announcement reached the simulator."""
    settings.MEDIA_URL_ALLOW_PRIVATE = True
    settings.SEND_RECIPIENT_MIN_GAP_SECONDS = 0  # several replies to one person in a test
    advisor = AdvisorFactory(contact=ContactFactory(name="Ravi Kumar"))
    item = approved_item(
        template, author, reviewer, media_url="https://cdn.example.com/notes/chart.png",
        body="Mid-caps rallied 2.1%. Full note: https://research.example.com/n/1 today.",
    )  # fmt: skip
    content_distribute()
    send_batch_run(channel_id=template.channel_id, max_seconds=5)
    delivery = ContentDelivery.objects.select_related("message").get(content_item=item)
    assert delivery.message.status == Status.ACCEPTED and delivery.message.wamid
    contact = advisor.contact
    window_open(contact, template.channel)  # the tap opened the window (the webhook does this)
    return delivery, contact, advisor


def drain(channel_id: int) -> None:
    """Send everything queued (a second message to one person waits a moment)."""
    deadline = time.monotonic() + 10
    while Message.objects.filter(status=Status.QUEUED).exists():
        assert time.monotonic() < deadline, "messages stayed queued"
        send_batch_run(channel_id=channel_id, max_seconds=2)
        time.sleep(0.1)


def sent_to(simulator, contact):
    return [m for m in simulator.messages() if m["to"] == contact.wa_id]


def test_unlock_end_to_end_with_the_simulator(
    distributed, simulator, template, django_capture_on_commit_callbacks
):
    delivery, contact, _ = distributed
    announcement = sent_to(simulator, contact)[0]
    assert announcement["type"] == "template"
    assert announcement["template"] == "advisor_content_ready"
    heard = []

    def receiver(sender, **kwargs):
        heard.append(kwargs)

    content_unlocked.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            message = content_unlock(
                payload=f"UNLOCK_CONTENT:{delivery.pk}", contact=contact, context_wamid=None
            )
    finally:
        content_unlocked.disconnect(receiver)
    assert message is not None and message.lane == 0 and message.is_automated
    assert message.type == "text" and "Mid-caps rallied" in message.content["body"]
    assert "research.example.com" not in message.content["body"]  # the link is tracked
    link = TrackedLink.objects.get(content_item=delivery.content_item, contact=contact)
    assert link.url == "https://research.example.com/n/1" and link.message_id == message.pk
    delivery.refresh_from_db()
    assert delivery.unlocked_at and delivery.unlock_message_id == message.pk
    assert heard and heard[0]["kind"] == "UNLOCK_CONTENT" and heard[0]["first"]
    send_batch_run(channel_id=template.channel_id, max_seconds=5)
    texts = [m for m in sent_to(simulator, contact) if m["type"] == "text"]
    assert len(texts) == 1 and "/l/" in texts[0]["body"]["body"]
    # A second tap of the same button sends nothing new.
    assert (
        content_unlock(payload=f"UNLOCK_CONTENT:{delivery.pk}", contact=contact, context_wamid=None)
        is None
    )
    # RETRIEVE_CONTENT always sends the text and the media again.
    again = content_unlock(
        payload=f"RETRIEVE_CONTENT:{delivery.pk}", contact=contact, context_wamid=None
    )
    assert again is not None
    drain(template.channel_id)
    types = [m["type"] for m in sent_to(simulator, contact)]
    assert types == ["template", "text", "text", "image"]
    unlocked_at = delivery.unlocked_at
    delivery.refresh_from_db()
    assert delivery.unlocked_at == unlocked_at  # recorded once
    kinds = list(ContentUnlock.objects.filter(delivery=delivery).values_list("kind", flat=True))
    assert kinds == ["UNLOCK_CONTENT", "RETRIEVE_CONTENT"]
    stats = content_stats(delivery.content_item)
    assert stats["unlocked"] == 1 and stats["unlocked_rate"] == 100.0


def test_images_and_sharing(distributed):
    delivery, contact, _ = distributed
    image = content_unlock(
        payload=f"UNLOCK_IMAGES:{delivery.pk}", contact=contact, context_wamid=None
    )
    assert image.type == "image"
    assert image.content == {
        "link": "https://cdn.example.com/notes/chart.png",
        "caption": delivery.content_item.title,
    }
    share = content_unlock(
        payload=f"SHARE_WITH_CLIENTS:{delivery.pk}", contact=contact, context_wamid=None
    )
    body = share.content["body"]
    assert body.startswith(f"*{delivery.content_item.title}*")
    assert "Read more: http://127.0.0.1:8000/l/" in body and "research.example.com" not in body


def test_a_tap_without_our_payload_is_found_by_its_context(distributed):
    delivery, contact, _ = distributed
    message = content_unlock(
        payload="Get images", contact=contact, context_wamid=delivery.message.wamid
    )
    assert message is not None and message.type == "image"
    assert ContentUnlock.objects.get().kind == "UNLOCK_IMAGES"


def test_unlock_refuses_strangers_disabled_advisors_and_a_closed_window(distributed):
    delivery, contact, advisor = distributed
    stranger = ContactFactory(last_inbound_at=timezone.now())
    payload = f"UNLOCK_CONTENT:{delivery.pk}"
    assert content_unlock(payload=payload, contact=stranger, context_wamid=None) is None
    assert (
        content_unlock(payload="UNLOCK_CONTENT:999999", contact=contact, context_wamid=None) is None
    )
    window_open(contact, delivery.message.channel, at=timezone.now() - timedelta(hours=25))
    assert content_unlock(payload=payload, contact=contact, context_wamid=None) is None
    window_open(contact, delivery.message.channel)
    advisor.is_active = False
    advisor.save(update_fields=["is_active"])
    assert content_unlock(payload=payload, contact=contact, context_wamid=None) is None
    delivery.refresh_from_db()
    assert delivery.unlocked_at is None and not ContentUnlock.objects.exists()
    assert Message.objects.filter(contact=contact, type="text").count() == 0


def test_payload_parsing():
    assert content_payload_parse("UNLOCK_CONTENT:42") == ("UNLOCK_CONTENT", 42)
    assert content_payload_parse(" unlock_images | 7 ") == ("UNLOCK_IMAGES", 7)
    assert content_payload_parse("RETRIEVE_CONTENT") == ("RETRIEVE_CONTENT", None)
    assert content_payload_parse("STOP") == (None, None)
    assert content_payload_parse("NOPE:3") == (None, 3)


def test_named_templates_are_filled_by_meaning(channel, template):
    named = MessageTemplate.objects.create(
        channel=channel, name="advisor_named", language="en", category="UTILITY",
        status="APPROVED", parameter_format="named",
        parameters={"body": ["advisor_name", "title"]},
        components=[
            {"type": "BODY", "text": "Hi {{advisor_name}}: {{title}}"},
            {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Unlock"}]},
        ],
    )  # fmt: skip
    item = ContentItemFactory(template=named, title="Budget 2026")
    content = content_announcement(item, advisor_name="Meera Iyer", delivery_id=5)
    body = next(c for c in content["components"] if c["type"] == "body")
    assert {p["parameter_name"]: p["text"] for p in body["parameters"]} == {
        "advisor_name": "Meera",
        "title": "Budget 2026",
    }


# --- Feed --------------------------------------------------------------------------------------

JSON_FEED = [
    {"guid": "n-1", "title": "Rates on hold", "summary": "<p>The RBI kept rates &amp; "
     "stance.</p>", "link": "https://news.example.com/1", "image": "IMAGE", "category": "macro"},
    {"id": "n-2", "title": "Gold at a high", "body": "Gold rose 2%.", "link": ""},
    {"title": "", "body": "no title: skipped"},
]  # fmt: skip
RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>Desk</title>
<item><title>Budget notes</title><link>https://news.example.com/b</link>
<description>&lt;b&gt;Five&lt;/b&gt; things to know.</description><guid>rss-1</guid>
<category>tax</category><media:content url="IMAGE" medium="image"/></item>
<item><title>No guid</title><link>https://news.example.com/c</link></item>
</channel></rss>"""
ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Desk</title>
<entry><id>urn:uuid:a1</id><title>Atom entry</title>
<link href="https://news.example.com/a"/><summary>Short summary.</summary>
<category term="markets"/></entry></feed>"""
BOMB = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2
"&lol;&lol;&lol;">]><rss version="2.0"><channel><item><title>&lol2;</title></item>
</channel></rss>"""


@pytest.fixture
def feed_server():
    """A loopback HTTP server whose documents the test sets: {path: (content type, bytes)}."""
    documents: dict[str, tuple[str, bytes]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "/feed.json")
                self.end_headers()
                return
            kind, body = documents.get(self.path, ("text/plain", b""))
            self.send_response(200 if self.path in documents else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    yield base, documents
    server.shutdown()
    server.server_close()


def test_feed_import_creates_drafts_once(feed_server, settings):
    settings.MEDIA_URL_ALLOW_PRIVATE = True
    base, documents = feed_server
    image = f"{base}/img.png"
    documents["/feed.json"] = (
        "application/json", json.dumps(JSON_FEED).replace("IMAGE", image).encode()
    )  # fmt: skip
    documents["/rss.xml"] = ("application/rss+xml", RSS.replace(b"IMAGE", image.encode()))
    documents["/atom.xml"] = ("application/atom+xml", ATOM)
    result = content_feed_import(url=f"{base}/feed.json")
    assert (result.created, result.skipped, result.errors) == (2, 1, [])
    rates = ContentItem.objects.get(feed_guid="n-1")
    assert rates.state == "draft" and rates.source == "feed" and rates.category == "macro"
    assert rates.body == "The RBI kept rates & stance.\n\nhttps://news.example.com/1"
    assert rates.media_url == image
    assert rates.transitions.get().note == "imported from the feed"
    assert content_feed_import(url=f"{base}/feed.json").created == 0  # deduped by guid
    assert content_feed_import(url=f"{base}/redirect").created == 0

    settings.CONTENT_FEED_URL = f"{base}/rss.xml"
    call_command("import_content_feed")
    budget = ContentItem.objects.get(feed_guid="rss-1")
    assert budget.body.startswith("Five things to know.") and budget.media_url == image
    assert ContentItem.objects.filter(title="No guid", feed_guid__startswith="sha256:").exists()
    assert content_feed_import(url=f"{base}/atom.xml").created == 1
    assert ContentItem.objects.get(feed_guid="urn:uuid:a1").category == "markets"


def test_feed_refuses_entities_oversize_and_private_addresses(feed_server, settings):
    settings.MEDIA_URL_ALLOW_PRIVATE = True
    base, documents = feed_server
    documents["/bomb.xml"] = ("application/xml", BOMB)
    result = content_feed_import(url=f"{base}/bomb.xml")
    assert result.created == 0 and "DOCTYPE" in result.errors[0]
    settings.CONTENT_FEED_MAX_BYTES = 100
    documents["/big.json"] = ("application/json", json.dumps(JSON_FEED * 10).encode())
    assert "larger than" in content_feed_import(url=f"{base}/big.json").errors[0]
    assert "HTTP 404" in content_feed_import(url=f"{base}/missing").errors[0]
    settings.MEDIA_URL_ALLOW_PRIVATE = False
    assert "refused" in content_feed_import(url=f"{base}/feed.json").errors[0]
    assert not ContentItem.objects.exists()
    settings.CONTENT_FEED_URL = ""
    assert content_feed_import().as_dict() == {"created": 0, "skipped": 0, "errors": []}


@pytest.mark.parametrize(
    "link",
    ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.5/a.png", "http://localhost/a.png"],
)
def test_the_admin_refuses_a_private_media_link_too(settings, link):
    """The admin form shares the staff form's media field, and with it the SSRF guard."""
    from messaging.content.admin import ContentItemAdminForm
    from messaging.content.forms import ContentItemForm

    settings.MEDIA_URL_ALLOW_PRIVATE = False
    for form_class in (ContentItemAdminForm, ContentItemForm):
        form = form_class(data={"title": "x", "body": "y", "media_url": link})
        assert not form.is_valid()
        assert "non-public address" in form.errors["media_url"][0], form_class


def test_admin_edit_goes_through_the_workflow(client, make_user, template, author, reviewer):
    item = approved_item(template, author, reviewer)
    client.force_login(make_user("Admin", username="boss"))
    assert client.get("/admin/messaging/contentitem/add/").status_code == 200
    url = f"/admin/messaging/contentitem/{item.pk}/change/"
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "title": "Edited in the admin", "body": item.body, "media_url": "",
            "category": "markets", "send_on": item.send_on.isoformat(), "target": "all",
            "target_tier": "", "target_region": "", "target_segment": "",
            "template": template.pk, "unlock_buttons": json.dumps(item.unlock_buttons),
            "transitions-TOTAL_FORMS": "0", "transitions-INITIAL_FORMS": "0",
            "revisions-TOTAL_FORMS": "0", "revisions-INITIAL_FORMS": "0",
        },
    )  # fmt: skip
    assert response.status_code == 302, response.context["adminform"].form.errors
    item.refresh_from_db()
    assert (item.title, item.state) == ("Edited in the admin", "draft")
    distributed = approved_item(template, author, reviewer, send_on=content_today())
    advisors(1)  # an item that reaches nobody stays approved
    content_distribute()
    distributed.refresh_from_db()
    page = client.get(f"/admin/messaging/contentitem/{distributed.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content  # read-only now


# --- Edits and who may approve (regression: a reviewer rewrote a draft, then approved it) ------


def _rewritten_by_reviewer(template, author, reviewer):
    """The attack: the reviewer rewrites the author's draft; the author resubmits it."""
    item = ContentItemFactory(template=template, created_by=author, body="The author's words")
    item = content_update(item=item, actor=reviewer, body="The reviewer's words")
    return content_submit(item=item, actor=author)


def test_every_edit_is_recorded_with_who_when_and_before_after(template, author, reviewer):
    item = approved_item(template, author, reviewer, title="Old", body="Old body")
    other = MessageTemplate.objects.exclude(pk=template.pk).filter(channel=template.channel).first()
    content_update(item=item, actor=author, title="New", body="Old body", template=other)
    revision = item.revisions.get()
    assert revision.editor == author and revision.editor_name == author.username
    assert revision.state == "approved"  # edited while approved (now back to draft)
    assert revision.changes == {
        "title": {"before": "Old", "after": "New"},
        "template": {
            "before": {"id": template.pk, "name": str(template)},
            "after": {"id": other.pk, "name": str(other)},
        },
    }  # the unchanged body is not listed
    content_update(item=item, actor=author, title="New")  # nothing changed: no revision
    assert item.revisions.count() == 1


def test_whoever_edited_an_item_cannot_approve_it(template, author, reviewer, make_user):
    item = _rewritten_by_reviewer(template, author, reviewer)
    with pytest.raises(SelfApproval, match="You edited this item"):
        content_approve(item=item, reviewer=reviewer)
    item.refresh_from_db()
    assert item.state == "pending_review"
    # Another reviewer may.
    second = make_user("Content reviewer", username="second_reviewer")
    assert content_approve(item=item, reviewer=second).state == "approved"


def test_the_staff_page_refuses_an_editors_approval_and_shows_the_edits(
    client, template, author, reviewer
):
    item = _rewritten_by_reviewer(template, author, reviewer)
    client.force_login(reviewer)
    detail = client.get(f"/staff/content/{item.pk}/")
    assert b"You edited this item: another reviewer must approve it." in detail.content
    assert b'data-testid="revisions"' in detail.content
    assert b"The author&#x27;s words" in detail.content
    assert b"The reviewer&#x27;s words" in detail.content
    queue = client.get("/staff/content/review/")
    assert b"another reviewer must approve" in queue.content
    client.post(f"/staff/content/{item.pk}/approve/")
    item.refresh_from_db()
    assert item.state == "pending_review"


def test_the_admin_refuses_an_editors_approval(client, template, author, make_user):
    boss = make_user("Admin", username="boss")
    item = _rewritten_by_reviewer(template, author, boss)
    client.force_login(boss)
    url = "/admin/messaging/contentitem/"
    page = client.post(url, {"action": "approve", "_selected_action": [item.pk]}, follow=True)
    assert b"You edited this item" in page.content
    assert ContentItem.objects.get(pk=item.pk).state == "pending_review"
    change = client.get(f"{url}{item.pk}/change/")
    assert b"The reviewer" in change.content  # the edit is listed in the admin too
