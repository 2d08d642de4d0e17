"""The error log (failed messages, webhooks, jobs, application errors) and the handler that
captures application errors into the database."""

import logging
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from analytics.models import AppError, JobState
from analytics.ops import logging as ops_logging
from messaging.models import Status, WebhookEvent
from messaging.providers.error_codes import error_code_info, error_code_meaning
from tests.factories import (
    AppErrorFactory,
    ChannelFactory,
    ContactFactory,
    JobRunFactory,
    MessageFactory,
    OpsWebhookEventFactory,
)

pytestmark = pytest.mark.django_db

log = logging.getLogger("parley.ops-test")


def failed(code, *, channel=None, days_ago=0, **kwargs):
    when = timezone.now() - timedelta(days=days_ago)
    extra = {"channel": channel} if channel else {}
    return MessageFactory(
        status=Status.FAILED,
        error_code=code,
        failed_at=when,
        created_at=when,
        error_title=f"error {code}",
        **extra,
        **kwargs,
    )


def rows(response):
    return list(response.context["page"].object_list)


# --- Failed messages ---------------------------------------------------------------------------


def test_failed_messages_filter_by_code_channel_date_and_search(ops_client):
    main = ChannelFactory()
    other = ChannelFactory(phone_number_id="777", name="Second")
    a = failed(131026, channel=main)
    b = failed(131000, channel=other)
    c = failed(131000, channel=main, days_ago=3)
    d = failed(131047, channel=main, contact=ContactFactory(phone="+919800000123"))
    MessageFactory(status=Status.DELIVERED)
    url = reverse("ops:errors")
    assert {m.pk for m in rows(ops_client.get(url))} == {a.pk, b.pk, c.pk, d.pk}
    assert {m.pk for m in rows(ops_client.get(url, {"code": 131000}))} == {b.pk, c.pk}
    assert {m.pk for m in rows(ops_client.get(url, {"channel": other.pk}))} == {b.pk}
    today = timezone.localdate().isoformat()
    got = rows(ops_client.get(url, {"date_from": today, "date_to": today}))
    assert {m.pk for m in got} == {a.pk, b.pk, d.pk}
    assert [m.pk for m in rows(ops_client.get(url, {"q": "800000123"}))] == [d.pk]


def test_failed_messages_show_what_the_code_means(ops_client):
    failed(131026)
    failed(131026)
    failed(999999)
    response = ops_client.get(reverse("ops:errors"))
    html = response.content.decode()
    assert "Message undeliverable" in html and "not on WhatsApp" in html
    codes = {row["error_code"]: row["n"] for row in response.context["codes"]}
    assert codes == {131026: 2, 999999: 1}
    assert "not in Meta's table" in html


def test_unknown_codes_still_say_what_happens(ops_client):
    failed(999999)
    failed(None)
    html = ops_client.get(reverse("ops:errors")).content.decode()
    assert html.count("not in Meta") == 2
    assert "unless it came with HTTP 429 or 5xx" in html
    assert "See the error title and detail." in html


def test_error_code_table_follows_whatsapp_md():
    for code in (131026, 131047, 131050, 130429, 131056, 132000, 368, 190):
        assert error_code_info(code) is not None, code
    assert error_code_info(250).title == "Permission missing"
    assert error_code_meaning(None) == "" and error_code_meaning(42) == ""
    assert "stopped marketing" in error_code_meaning(131050).lower()


def test_failed_message_list_queries_are_bounded(ops_client, django_assert_max_num_queries):
    for i in range(60):
        failed(131000, contact=ContactFactory(), channel=ChannelFactory(phone_number_id=f"c{i}"))
    with django_assert_max_num_queries(16):
        response = ops_client.get(reverse("ops:errors"))
    assert len(rows(response)) == 50


# --- Webhooks ----------------------------------------------------------------------------------


@pytest.fixture
def no_enqueue(monkeypatch):
    from messaging.webhooks import services as webhooks

    nudges = []
    monkeypatch.setattr(webhooks, "webhook_drain_nudge", lambda: nudges.append("drain"))
    return nudges


def test_failed_webhooks_are_listed_with_their_payload_and_can_be_replayed(
    ops_client, no_enqueue, django_capture_on_commit_callbacks
):
    event = OpsWebhookEventFactory(
        state="failed", error="unknown phone_number_id '999'", body='{"entry": [{"id": "999"}]}'
    )
    old = OpsWebhookEventFactory(
        state="failed", error="old", received_at=timezone.now() - timedelta(days=20)
    )
    OpsWebhookEventFactory(state="processed")
    response = ops_client.get(reverse("ops:errors"), {"kind": "webhooks"})
    assert [e.pk for e in rows(response)] == [event.pk]  # the last week by default
    html = response.content.decode()
    assert "unknown phone_number_id" in html and 'data-testid="replay"' in html
    assert old.pk in [
        e.pk
        for e in rows(
            ops_client.get(reverse("ops:errors"), {"kind": "webhooks", "date_from": "2000-01-01"})
        )
    ]
    assert [
        e.pk for e in rows(ops_client.get(reverse("ops:errors"), {"kind": "webhooks", "q": "999"}))
    ] == [event.pk]

    detail = ops_client.get(reverse("ops:webhook_event", args=[event.pk])).content.decode()
    assert "&quot;entry&quot;" in detail and 'data-testid="replay"' in detail

    back = reverse("ops:errors") + "?kind=webhooks"
    with django_capture_on_commit_callbacks(execute=True):
        response = ops_client.post(reverse("ops:webhook_replay", args=[event.pk]), {"next": back})
    assert response["Location"] == back
    assert WebhookEvent.objects.get(pk=event.pk).state == "pending"
    assert no_enqueue == ["drain"]


def test_replay_never_redirects_off_site(ops_client, no_enqueue):
    event = OpsWebhookEventFactory(state="failed")
    response = ops_client.post(
        reverse("ops:webhook_replay", args=[event.pk]), {"next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("ops:webhook_event", args=[event.pk])


def test_replay_needs_its_permission(client, make_user, no_enqueue):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    event = OpsWebhookEventFactory(state="failed")
    viewer = UserFactory(username="viewer")
    viewer.user_permissions.set(Permission.objects.filter(codename="view_operations"))
    client.force_login(viewer)
    html = client.get(reverse("ops:errors"), {"kind": "webhooks"}).content.decode()
    assert 'data-testid="replay"' not in html
    assert client.post(reverse("ops:webhook_replay", args=[event.pk])).status_code == 403
    assert WebhookEvent.objects.get(pk=event.pk).state == "failed"


# --- Jobs and application errors ---------------------------------------------------------------


def test_job_failures(ops_client):
    bad = JobRunFactory(name="backup", state=JobState.FAILED, error="OSError: disk full")
    JobRunFactory(name="purge_data", state=JobState.FAILED, error="other")
    JobRunFactory(name="backup", state=JobState.SUCCEEDED)
    response = ops_client.get(reverse("ops:errors"), {"kind": "jobs", "name": "backup"})
    assert [r.pk for r in rows(response)] == [bad.pk]
    assert "Back up the database #" in response.content.decode()
    response = ops_client.get(reverse("ops:errors"), {"kind": "jobs", "q": "disk"})
    assert [r.pk for r in rows(response)] == [bad.pk]


def test_application_errors_filter(ops_client):
    a = AppErrorFactory(logger="messaging.tasks", message="send crashed", traceback="Trace X")
    b = AppErrorFactory(
        logger="crm.imports", level="CRITICAL", message="import crashed", request_id="req123"
    )
    url = reverse("ops:errors")
    assert [e.pk for e in rows(ops_client.get(url, {"kind": "app", "logger": "messaging"}))] == [
        a.pk
    ]
    assert [e.pk for e in rows(ops_client.get(url, {"kind": "app", "level": "CRITICAL"}))] == [b.pk]
    assert [e.pk for e in rows(ops_client.get(url, {"kind": "app", "q": "req123"}))] == [b.pk]
    html = ops_client.get(url, {"kind": "app"}).content.decode()
    assert "Trace X" in html and "<details>" in html


def test_tabs_count_the_last_day(ops_client):
    failed(131000)
    failed(131000, days_ago=3)
    AppErrorFactory()
    summary = ops_client.get(reverse("ops:errors")).context["summary"]
    assert summary == {"messages": 1, "webhooks": 0, "jobs": 0, "app": 1}


# --- The handler -------------------------------------------------------------------------------


def test_the_handler_is_installed_on_the_root_logger():
    assert any(isinstance(h, ops_logging.AppErrorHandler) for h in logging.getLogger().handlers)


@pytest.mark.django_db(transaction=True)
def test_errors_are_stored_with_their_traceback():
    try:
        raise ValueError("bad value")
    except ValueError:
        log.exception("could not frobnicate %s", "x")
    log.warning("only a warning")
    error = AppError.objects.get()
    assert error.level == "ERROR" and error.logger == "parley.ops-test"
    assert error.message == "could not frobnicate x"
    assert "ValueError: bad value" in error.traceback
    assert ":" in error.process


@pytest.mark.django_db(transaction=True)
def test_a_failing_request_is_stored_with_its_path_and_request_id(make_user, monkeypatch):
    from analytics.ops import views

    def boom(**kwargs):
        raise RuntimeError("health exploded")

    monkeypatch.setattr(views, "health_collect", boom)
    client = Client(raise_request_exception=False)
    client.force_login(make_user("Admin"))
    response = client.get(reverse("ops:health"), HTTP_X_REQUEST_ID="req-abc-1")
    assert response.status_code == 500
    error = AppError.objects.get(logger="django.request")
    assert error.path == "/staff/operations/"
    assert error.request_id == "req-abc-1"
    assert "RuntimeError: health exploded" in error.traceback


def test_inside_a_transaction_the_record_waits_for_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        log.error("after commit")
        assert not AppError.objects.exists()
    assert AppError.objects.get().message == "after commit"


def test_a_rolled_back_transaction_takes_nothing_down_with_it():
    with transaction.atomic():
        log.error("inside")
    assert not AppError.objects.exists()  # SQLite: kept only if the transaction commits


@pytest.mark.django_db(transaction=True)
def test_the_handler_never_raises_never_recurses_and_respects_its_budget(monkeypatch, settings):
    calls = []

    def broken_insert(values, alias):
        calls.append(values)
        logging.getLogger("analytics.inner").error("while storing")  # would recurse
        raise RuntimeError("database is down")

    monkeypatch.setattr(ops_logging, "_insert_here", broken_insert)
    log.error("first")  # must not raise
    assert len(calls) == 1  # the inner error was not stored again
    monkeypatch.undo()

    settings.APP_ERROR_MAX_PER_MINUTE = 3
    monkeypatch.setitem(ops_logging._budget, "used", 0)
    for i in range(6):
        log.error("storm %s", i)
    assert AppError.objects.count() <= 3


@pytest.mark.django_db(transaction=True)
def test_a_database_that_is_down_breaks_nothing(monkeypatch):
    from django.db import OperationalError, connection

    def refuse(*args, **kwargs):
        raise OperationalError("could not connect to server")

    with monkeypatch.context() as patch:
        patch.setattr(connection, "cursor", refuse)
        log.error("no database")  # swallowed: nothing raises, nothing is stored
    assert not AppError.objects.exists()
