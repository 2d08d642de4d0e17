"""Processing stored events: failures, retries, the sweeper, purge, replay, admin, command."""

import json
from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from messaging.models import Message, MessageStatusEvent, Status, WebhookEvent, WebhookState
from messaging.webhooks.services import (
    webhook_drain_nudge_clear,
    webhook_event_process,
    webhook_events_drain,
    webhook_events_purge,
    webhook_events_replay,
    webhook_events_sweep,
)
from messaging.webhooks.tasks import webhook_drain, webhook_process, webhook_purge, webhook_sweep
from tests.factories import ChannelFactory, MessageFactory
from tests.messaging.webhooks.support import (
    fixture,
    process,
    status,
    statuses_payload,
    store,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def wa_channel(db):
    return ChannelFactory()


@pytest.fixture
def eager_retries(monkeypatch):
    """Eager retries run nested `apply()` calls that re-raise unless this is off."""
    from config.celery import app

    monkeypatch.setitem(app.conf, "task_eager_propagates", False)


@pytest.fixture
def enqueued():
    with mock.patch.object(webhook_drain, "apply_async") as apply_async:
        yield apply_async


def test_a_body_that_is_not_json_fails_with_the_reason(wa_channel):
    event = process("{not json")
    assert event.state == WebhookState.FAILED
    assert "not JSON" in event.error
    assert event.processed_at is not None


def test_an_event_of_an_unregistered_provider_fails_and_keeps_its_body(wa_channel):
    event = process(fixture("text_message.json"), provider="carrier_pigeon")
    assert event.state == WebhookState.FAILED
    assert "unknown provider 'carrier_pigeon'" in event.error
    assert json.loads(event.body) == fixture("text_message.json")


def test_unknown_fields_and_changes_are_not_errors(wa_channel):
    payload = fixture("text_message.json")
    payload["entry"][0]["changes"].append({"field": "account_alerts", "value": {"x": 1}})
    payload["entry"][0]["changes"][0]["value"]["brand_new_field"] = {"nested": True}
    event = process(payload)
    assert event.state == WebhookState.PROCESSED, event.error


def test_processing_twice_is_a_no_op(wa_channel):
    event = process(fixture("text_message.json"))
    assert webhook_event_process(event_id=event.pk) is None
    event.refresh_from_db()
    assert event.attempts == 1
    assert Message.objects.count() == 1


def test_a_database_error_rolls_back_and_propagates(wa_channel):
    event = store(fixture("text_message.json"))
    with (
        mock.patch(
            "messaging.webhooks.inbound._contact_touch", side_effect=OperationalError("locked")
        ),
        pytest.raises(OperationalError),
    ):
        webhook_event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.state == WebhookState.PENDING  # the task retries it
    assert not Message.objects.exists()


def test_the_task_retries_database_errors_then_marks_the_event_failed(wa_channel, eager_retries):
    event = store(fixture("text_message.json"))
    with (
        mock.patch(
            "messaging.webhooks.tasks.webhook_event_process",
            side_effect=OperationalError("database is down"),
        ) as run,
        mock.patch("messaging.webhooks.tasks.retry_countdown", return_value=0),
    ):
        result = webhook_process.apply(args=[event.pk])
    assert result.failed()
    assert run.call_count == webhook_process.max_retries + 1
    event.refresh_from_db()
    assert event.state == WebhookState.FAILED
    assert "database is down" in event.error


def test_the_task_processes_by_id(wa_channel):
    event = store(fixture("text_message.json"))
    webhook_process.apply(args=[event.pk]).get()
    event.refresh_from_db()
    assert event.state == WebhookState.PROCESSED


def test_the_sweeper_processes_events_a_lost_message_left_pending(wa_channel):
    old = store(fixture("text_message.json"))
    WebhookEvent.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(minutes=1))
    fresh = store(fixture("statuses_lifecycle.json"))
    assert webhook_events_sweep(older_than=5) == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.state == WebhookState.PROCESSED
    assert fresh.state == WebhookState.PENDING  # its worker may still be on it


def test_the_sweep_task_also_applies_parked_statuses(wa_channel, settings):
    settings.WEBHOOK_SWEEP_AFTER_SECONDS = 0
    process(statuses_payload(status("wamid.P", "sent", 1767225700)))
    message = MessageFactory(channel=wa_channel, wamid="wamid.P", status=Status.ACCEPTED)
    assert webhook_sweep.apply().get() == {"events": 0, "parked_statuses": 1}
    message.refresh_from_db()
    assert message.status == Status.SENT


def test_sweep_runs_never_overlap(wa_channel):
    from django.core.cache import cache

    cache.add("task-lock:messaging.webhook_sweep", "other", timeout=60)
    try:
        assert webhook_sweep.apply().get() == {"skipped": "already running"}
    finally:
        cache.delete("task-lock:messaging.webhook_sweep")


def test_purge_keeps_pending_and_recent_events(wa_channel, settings):
    settings.WEBHOOK_RETENTION_DAYS = 30
    old_done = process(fixture("text_message.json"))
    old_failed = process("{oops")
    old_pending = store(fixture("statuses_lifecycle.json"))
    recent = process(fixture("bsuid_only.json"))
    long_ago = timezone.now() - timedelta(days=31)
    WebhookEvent.objects.exclude(pk=recent.pk).update(received_at=long_ago)
    MessageStatusEvent.objects.create(wamid="wamid.never", status="sent", timestamp=long_ago,
                                      created_at=long_ago)  # fmt: skip
    MessageStatusEvent.objects.create(wamid="wamid.recent", status="sent", timestamp=long_ago)
    assert webhook_purge.apply().get() == {"events": 2, "parked_statuses": 1}
    remaining = set(WebhookEvent.objects.values_list("pk", flat=True))
    assert remaining == {old_pending.pk, recent.pk}
    assert not WebhookEvent.objects.filter(pk__in=[old_done.pk, old_failed.pk]).exists()
    assert list(MessageStatusEvent.objects.values_list("wamid", flat=True)) == ["wamid.recent"]
    # Messages stay: only the raw bodies go.
    assert Message.objects.count() == 2


def test_purge_with_an_explicit_age(wa_channel):
    process(fixture("text_message.json"))
    assert webhook_events_purge(older_than_days=0)["events"] == 1


def test_replay_resets_and_enqueues_after_commit(wa_channel, enqueued,
                                                 django_capture_on_commit_callbacks):  # fmt: skip
    failed = process("{oops")
    done = process(fixture("text_message.json"))
    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_events_replay(event_ids=[failed.pk, done.pk]) == 2
    failed.refresh_from_db()
    assert (failed.state, failed.error, failed.processed_at) == (WebhookState.PENDING, "", None)
    enqueued.assert_called_once_with(retry=False)  # one drain request for both


def test_the_replay_command(wa_channel, enqueued, django_capture_on_commit_callbacks):
    failed = process("{oops")
    done = process(fixture("text_message.json"))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("replay_webhooks", "--all-failed")
    assert enqueued.call_count == 1
    assert WebhookEvent.objects.get(pk=failed.pk).state == WebhookState.PENDING
    assert WebhookEvent.objects.get(pk=done.pk).state == WebhookState.PROCESSED
    webhook_drain_nudge_clear()  # as the drain task would
    with django_capture_on_commit_callbacks(execute=True):
        call_command("replay_webhooks", "--id", str(done.pk))
    assert enqueued.call_count == 2
    assert WebhookEvent.objects.get(pk=done.pk).state == WebhookState.PENDING


def test_the_replay_command_since_and_sync(wa_channel, capsys):
    old = process(fixture("text_message.json"))
    WebhookEvent.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=3))
    recent = process("{oops")
    call_command("replay_webhooks", "--since", "2h", "--sync")
    assert "processed 1 event(s), 1 failed" in capsys.readouterr().out
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.attempts == 1 and recent.attempts == 2


def test_the_replay_command_needs_a_selection():
    with pytest.raises(CommandError):
        call_command("replay_webhooks")
    with pytest.raises(CommandError):
        call_command("replay_webhooks", "--since", "yesterday-ish")


def test_the_beat_schedules_exist():
    sweep = PeriodicTask.objects.get(task="messaging.webhook_sweep")
    assert (sweep.interval.every, sweep.interval.period) == (10, "seconds")
    purge = PeriodicTask.objects.get(task="messaging.webhook_purge")
    assert purge.crontab is not None and purge.enabled


# --- Admin ------------------------------------------------------------------------------------


def test_admin_lists_events_and_shows_the_raw_body(client, admin_user, wa_channel):
    event = process(fixture("text_message.json"))
    client.force_login(admin_user)
    changelist = client.get("/admin/messaging/webhookevent/?state=processed")
    assert changelist.status_code == 200
    assert str(event.pk) in changelist.content.decode()
    assert client.get(f"/admin/messaging/webhookevent/{event.pk}/change/").status_code == 200
    raw = client.get(f"/admin/messaging/webhookevent/{event.pk}/raw/")
    assert raw.status_code == 200 and raw.content.decode() == event.body
    assert client.get("/admin/messaging/messagestatusevent/").status_code == 200


def test_admin_replay_action(client, admin_user, wa_channel, enqueued,
                             django_capture_on_commit_callbacks):  # fmt: skip
    failed = process("{oops")
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/messaging/webhookevent/",
            {"action": "replay", "_selected_action": [failed.pk]},
        )
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.state == WebhookState.PENDING
    enqueued.assert_called_once_with(retry=False)


def test_replay_needs_its_own_permission(client, make_user, wa_channel, enqueued):
    from django.contrib.auth.models import Permission

    viewer = make_user()  # may view webhook events (an Admin-only table in the roles), not replay
    viewer.user_permissions.add(Permission.objects.get(codename="view_webhookevent"))
    failed = process("{oops")
    client.force_login(viewer)
    assert client.get("/admin/messaging/webhookevent/").status_code == 200
    response = client.post(
        "/admin/messaging/webhookevent/", {"action": "replay", "_selected_action": [failed.pk]}
    )
    assert response.status_code == 200  # "no action selected": the action is not offered
    failed.refresh_from_db()
    assert failed.state == WebhookState.FAILED
    assert not enqueued.called


def test_the_raw_body_needs_view_permission(client, make_user, wa_channel):
    event = process(fixture("text_message.json"))
    client.force_login(make_user("Agent"))
    assert client.get(f"/admin/messaging/webhookevent/{event.pk}/raw/").status_code == 403
    client.logout()
    response = client.get(f"/admin/messaging/webhookevent/{event.pk}/raw/")
    assert response.status_code == 302  # to the login page


# --- MyOperator -------------------------------------------------------------------------------


def test_myoperator_events_become_the_same_statuses_and_messages(db):
    channel = ChannelFactory(provider="myoperator", phone_number_id="300000000000001")
    outbound = MessageFactory(channel=channel, wamid="6613a2a0c6f1", status=Status.ACCEPTED)
    payload = {
        "events": [
            {
                "event": "message.delivered",
                "data": {
                    "message_id": "6613a2a0c6f1",
                    "conversaton_id": "conv-77",
                    "phone_number_id": "300000000000001",
                    "customer_country_code": "91",
                    "customer_number": "9812345678",
                    "timestamp": 1767225705,
                },
            },
            {
                "event": "incoming_message",
                "data": {
                    "message_id": "myop-in-1",
                    "phone_number_id": "300000000000001",
                    "customer_country_code": "91",
                    "customer_number": "9812345679",
                    "customer_name": "Vikram",
                    "text": "Hello",
                    "timestamp": 1767225800,
                },
            },
        ]
    }
    event = process(payload, provider="myoperator")
    assert event.state == WebhookState.PROCESSED, event.error
    outbound.refresh_from_db()
    assert outbound.status == Status.DELIVERED
    assert outbound.conversation_info == {"id": "conv-77"}
    inbound = Message.objects.get(wamid="myop-in-1")
    assert inbound.channel == channel and inbound.direction == "in"
    assert inbound.content == {"body": "Hello"}
    assert inbound.contact.phone == "+919812345679"


# --- Batches ----------------------------------------------------------------------------------


def test_a_batch_applies_the_statuses_of_many_events_together(wa_channel):
    messages = [
        MessageFactory(channel=wa_channel, wamid=f"wamid.B{i}", status=Status.ACCEPTED)
        for i in range(3)
    ]
    # Each message's statuses arrive in separate webhooks, newest first.
    events = [
        store(statuses_payload(status(f"wamid.B{i}", name, 1767225700 + offset)))
        for offset, name in reversed(list(enumerate(["sent", "delivered", "read"])))
        for i in range(3)
    ]
    assert webhook_events_drain() == len(events)
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {WebhookState.PROCESSED}
    assert set(WebhookEvent.objects.values_list("attempts", flat=True)) == {1}
    for message in messages:
        message.refresh_from_db()
        assert message.status == Status.READ
        assert message.sent_at < message.delivered_at < message.read_at


def test_bad_data_fails_only_the_event_that_carries_it(wa_channel):
    MessageFactory(channel=wa_channel, wamid="wamid.G", status=Status.ACCEPTED)
    good = store(statuses_payload(status("wamid.G", "delivered", 1767225700)))
    bad = store(statuses_payload(status("x" * 300, "delivered", 1767225700)))
    unknown = store(statuses_payload(status("wamid.G", "read", 1767225701), phone_number_id="999"))
    assert webhook_events_drain() == 3
    states = {e.pk: e for e in WebhookEvent.objects.all()}
    assert states[good.pk].state == WebhookState.PROCESSED
    assert states[bad.pk].state == WebhookState.FAILED
    assert "usable id" in states[bad.pk].error
    assert states[unknown.pk].state == WebhookState.FAILED
    assert "unknown phone_number_id '999'" in states[unknown.pk].error
    assert Message.objects.get(wamid="wamid.G").status == Status.DELIVERED


def test_a_status_the_batch_cannot_apply_is_retried_event_by_event(wa_channel):
    from messaging.webhooks import services as webhook_services

    MessageFactory(channel=wa_channel, wamid="wamid.OK", status=Status.ACCEPTED)
    ok = store(statuses_payload(status("wamid.OK", "sent", 1767225700)))
    poison = store(statuses_payload(status("wamid.POISON", "sent", 1767225700)))
    real = webhook_services.statuses_apply

    def refuse_poison(*, updates):
        if any(u.wamid == "wamid.POISON" for u in updates):
            raise ValueError("cannot apply")
        return real(updates=updates)

    with mock.patch.object(webhook_services, "statuses_apply", side_effect=refuse_poison):
        assert webhook_events_drain() == 2
    ok.refresh_from_db()
    poison.refresh_from_db()
    assert ok.state == WebhookState.PROCESSED
    assert poison.state == WebhookState.FAILED and "cannot apply" in poison.error
    assert Message.objects.get(wamid="wamid.OK").status == Status.SENT


def test_a_database_error_in_one_event_does_not_hold_the_batch_back(wa_channel, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    fine = store(fixture("text_message.json"))
    poison = store(statuses_payload(status("wamid.DB", "sent", 1767225700)))
    with mock.patch(
        "messaging.webhooks.services.statuses_apply", side_effect=OperationalError("deadlock")
    ):
        with pytest.raises(OperationalError):
            webhook_events_drain()
        fine.refresh_from_db()
        poison.refresh_from_db()
        assert fine.state == WebhookState.PROCESSED  # processed on its own after the rollback
        assert (poison.state, poison.attempts) == (WebhookState.PENDING, 1)
        assert "deadlock" in poison.error
        with pytest.raises(OperationalError):
            webhook_events_drain()
    poison.refresh_from_db()
    assert (poison.state, poison.attempts) == (WebhookState.FAILED, 2)
    assert poison.error.startswith("gave up after 2 attempts")


def test_the_drain_claims_in_batches_and_asks_for_help_while_they_are_full(
    wa_channel, enqueued, django_capture_on_commit_callbacks
):
    for i in range(5):
        store(statuses_payload(status(f"wamid.N{i}", "sent", 1767225700)))
    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_events_drain(batch_size=2) == 5
    assert enqueued.call_count == 1  # one request while a batch was full; the flag held it
    assert not WebhookEvent.objects.filter(state=WebhookState.PENDING).exists()


def test_the_drain_task_clears_the_flag_and_drains(wa_channel, enqueued):
    from messaging.webhooks.services import webhook_drain_nudge

    webhook_drain_nudge()
    webhook_drain_nudge()
    assert enqueued.call_count == 1
    store(fixture("text_message.json"))
    assert webhook_drain.apply().get() == 1
    webhook_drain_nudge()
    assert enqueued.call_count == 2  # the flag was cleared as the drain started


def test_the_drain_task_retries_database_errors(wa_channel, eager_retries):
    store(fixture("text_message.json"))
    with (
        mock.patch(
            "messaging.webhooks.tasks.webhook_events_drain",
            side_effect=OperationalError("database is down"),
        ) as run,
        mock.patch("messaging.webhooks.tasks.retry_countdown", return_value=0),
    ):
        result = webhook_drain.apply()
    assert result.failed()
    assert run.call_count == webhook_drain.max_retries + 1
    assert WebhookEvent.objects.get().state == WebhookState.PENDING  # the sweeper's now


def test_a_process_that_saw_the_flag_skips_the_check_briefly(enqueued, settings):
    from django.core.cache import cache

    from messaging.webhooks import services as webhooks

    settings.WEBHOOK_DRAIN_LINGER_SECONDS = 0.2
    webhooks.webhook_drain_nudge()
    assert enqueued.call_count == 1
    cache.delete(webhooks.NUDGE_KEY)  # a drain started in another process
    webhooks.webhook_drain_nudge()
    assert enqueued.call_count == 1  # within half the linger: that drain will still claim
    webhooks._flag_seen_at -= 0.1
    webhooks.webhook_drain_nudge()
    assert enqueued.call_count == 2


def test_the_drain_task_claims_again_after_its_linger(wa_channel, enqueued, settings):
    """An event stored by a process that skipped the flag check while the drain ran."""
    settings.WEBHOOK_DRAIN_LINGER_SECONDS = 0.2
    late = []

    def store_meanwhile(seconds):
        assert 0 < seconds <= 0.2
        late.append(store(fixture("text_message.json")))

    with mock.patch("messaging.webhooks.tasks.time.sleep", side_effect=store_meanwhile):
        assert webhook_drain.apply().get() == 1
    late[0].refresh_from_db()
    assert late[0].state == WebhookState.PROCESSED


def test_a_status_delivered_twice_in_one_batch_is_recorded_once(wa_channel):
    message = MessageFactory(channel=wa_channel, wamid="wamid.TWICE", status=Status.ACCEPTED)
    payload = statuses_payload(status("wamid.TWICE", "delivered", 1767225700))
    store(payload)
    store(json.dumps(payload, indent=1))  # the same status, another body (a redelivery)
    assert webhook_events_drain() == 2
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {WebhookState.PROCESSED}
    assert MessageStatusEvent.objects.filter(wamid="wamid.TWICE").count() == 1
    message.refresh_from_db()
    assert message.status == Status.DELIVERED
