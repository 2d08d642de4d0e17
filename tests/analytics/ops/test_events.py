"""The live event feed: merged sources, cursor polling, kind filters, bounded queries."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.models import JobState
from analytics.ops.events import Cursor, events_after, events_initial
from messaging.models import MessageStatusEvent, Status
from tests.factories import ContactFactory, JobRunFactory, MessageFactory, TemplateFactory

pytestmark = pytest.mark.django_db


def status_event(message, status="delivered", **kwargs):
    return MessageStatusEvent.objects.create(
        message=message,
        wamid=message.wamid or f"wamid.{message.pk}",
        status=status,
        timestamp=timezone.now(),
        applied=True,
        **kwargs,
    )


def inbound(contact, type_="text", content=None, **kwargs):
    return MessageFactory(
        contact=contact,
        direction="in",
        status=Status.RECEIVED,
        type=type_,
        content=content or {"body": "hello there"},
        **kwargs,
    )


@pytest.fixture
def history():
    contact = ContactFactory(name="Asha")
    sent = MessageFactory(contact=contact, status=Status.DELIVERED, wamid="wamid.A")
    failed = MessageFactory(
        contact=contact,
        status=Status.FAILED,
        error_code=131026,
        error_title="Message undeliverable",
        failed_at=timezone.now(),
    )
    return {
        "status": status_event(sent),
        "inbound": inbound(contact),
        "button": inbound(contact, "button", {"text": "Unlock", "payload": "unlock-1"}),
        "failed": failed,
        "job": JobRunFactory(
            name="purge_data",
            state=JobState.SUCCEEDED,
            started_at=timezone.now(),
            finished_at=timezone.now(),
        ),
        "contact": contact,
    }


def test_initial_feed_merges_every_kind_newest_first(history):
    events, cursor = events_initial()
    kinds = {e.kind for e in events}
    assert kinds == {"status", "inbound", "button", "failed", "job"}
    assert [e.at for e in events] == sorted((e.at for e in events), reverse=True)
    failed = next(e for e in events if e.kind == "failed")
    assert "131026" in failed.title and "undeliverable" in failed.detail.lower()
    button = next(e for e in events if e.kind == "button")
    assert "Unlock" in button.title
    jobs = [e.title for e in events if e.kind == "job"]
    assert any(t.endswith("succeeded") for t in jobs) and any(t.endswith("queued") for t in jobs)
    assert cursor.status_id == history["status"].pk


def test_status_changes_read_as_what_happened_not_as_ids(history):
    contact = ContactFactory(name="Kavya Verma")
    template = TemplateFactory(name="order_confirmation")
    sent = MessageFactory(
        contact=contact, template=template, type="template", wamid="wamid.HBgMOTE5ODc2NTQzMjEw"
    )
    status_event(sent, status="read")
    status_event(sent, status="failed", errors=[{"code": 131026}])
    MessageStatusEvent.objects.create(
        wamid="wamid.PARKED0001", status="delivered", timestamp=timezone.now()
    )
    events, _ = events_initial(kinds=("status",))
    by_title = {e.title: e for e in events}
    assert "Read by Kavya Verma" in by_title
    assert by_title["Read by Kavya Verma"].detail == "template order_confirmation · Main number"
    assert "Could not reach Kavya Verma" in by_title
    assert "131026" in by_title["Could not reach Kavya Verma"].detail
    assert "Delivered to Asha" in by_title
    assert "Delivered: a message not recorded yet" in by_title
    for event in events:
        assert "wamid" not in event.title + event.detail
        assert "HBgM" not in event.title + event.detail


def test_polling_returns_only_what_is_new(history):
    _, cursor = events_initial()
    assert events_after(cursor=cursor)[0] == []
    contact = history["contact"]
    fresh = inbound(contact, created_at=timezone.now() + timedelta(seconds=1))
    new_status = status_event(
        history["failed"], status="failed", errors=[{"code": 131026, "title": "undeliverable"}]
    )
    events, next_cursor = events_after(cursor=cursor)
    assert {e.key for e in events} == {f"m{fresh.pk}", f"s{new_status.pk}"}
    assert next_cursor.status_id == new_status.pk and next_cursor.at == fresh.created_at
    assert events_after(cursor=next_cursor)[0] == []


def test_a_burst_is_paged_without_losing_events(history):
    _, cursor = events_initial()
    contact = history["contact"]
    base = timezone.now() + timedelta(seconds=1)
    made = [inbound(contact, created_at=base + timedelta(milliseconds=i)) for i in range(7)]
    seen = []
    for _ in range(4):
        events, cursor = events_after(cursor=cursor, limit=3)
        seen += [e.key for e in events]
    assert sorted(seen) == sorted(f"m{m.pk}" for m in made)


def test_kind_filter(history):
    events, _ = events_initial(kinds=("failed",))
    assert {e.kind for e in events} == {"failed"}


def test_a_failure_of_an_older_message_shows_at_its_failure_time(history):
    _, cursor = events_initial(kinds=("failed",))
    old = MessageFactory(
        contact=history["contact"],
        status=Status.QUEUED,
        created_at=timezone.now() - timedelta(hours=5),
    )
    old.status, old.failed_at, old.error_code = Status.FAILED, timezone.now(), 131000
    old.save(update_fields=["status", "failed_at", "error_code"])
    events, _ = events_after(cursor=cursor, kinds=("failed",))
    assert [e.key for e in events] == [f"f{old.pk}"]


def test_cursor_round_trip_and_garbage():
    cursor = Cursor(at=timezone.now(), status_id=42)
    decoded = Cursor.decode(cursor.encode())
    assert decoded.status_id == 42
    assert abs((decoded.at - cursor.at).total_seconds()) < 0.001
    assert Cursor.decode("nonsense") is None
    assert Cursor.decode(None) is None


def test_page_and_feed(ops_client, history):
    page = ops_client.get(reverse("ops:events"))
    html = page.content.decode()
    assert html.count('data-testid="event"') == 7  # the job: queued, running, succeeded
    cursor = re.search(r'data-cursor="([^"]+)"', html).group(1)
    assert 'hx-trigger="every 2s"' in html
    inbound(history["contact"], created_at=timezone.now() + timedelta(seconds=1))
    feed = ops_client.get(reverse("ops:events_feed"), {"after": cursor}).content.decode()
    assert 'hx-swap-oob="afterbegin:#event-list"' in feed
    assert feed.count('data-testid="event"') == 1
    new_cursor = re.search(r'data-cursor="([^"]+)"', feed).group(1)
    assert new_cursor != cursor
    again = ops_client.get(reverse("ops:events_feed"), {"after": new_cursor}).content.decode()
    assert 'data-testid="event"' not in again and "hx-swap-oob" not in again


def test_feed_keeps_the_kind_filter_in_the_poller(ops_client, history):
    html = ops_client.get(reverse("ops:events"), {"kind": ["button", "failed"]}).content.decode()
    assert "kind=button&amp;kind=failed" in html
    assert html.count('data-testid="event"') == 2


def test_feed_queries_are_bounded(ops_client, history, django_assert_max_num_queries):
    contact = history["contact"]
    for i in range(40):
        message = MessageFactory(contact=contact, status=Status.DELIVERED, wamid=f"wamid.{i}")
        status_event(message)
        inbound(contact)
    # Session, user, permissions (2), roles for the shell, and one query per source.
    with django_assert_max_num_queries(10):
        response = ops_client.get(reverse("ops:events"))
    assert response.content.decode().count('data-testid="event"') == 50
    cursor = Cursor(at=timezone.now() - timedelta(hours=1), status_id=0).encode()
    with django_assert_max_num_queries(10):
        response = ops_client.get(reverse("ops:events_feed"), {"after": cursor})
    assert response.content.decode().count('data-testid="event"') == 41 + 41 + 1 + 1 + 3
