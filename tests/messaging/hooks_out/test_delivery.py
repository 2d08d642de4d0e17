"""Event webhooks: the outbox, signed delivery to a real loopback receiver, order per key,
backoff, giving up, disabling, the SSRF guard, slow receivers, replays."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from core.models import AuditEvent
from messaging.hooks_out.models import DeliveryState, HookEvent, WebhookDelivery
from messaging.hooks_out.services import (
    backoff_seconds,
    deliveries_claim,
    deliveries_drain,
    deliveries_purge,
    deliveries_release_stale,
    deliveries_replay,
    event_emit,
    events_emit,
    subscription_create,
    subscription_update,
)
from messaging.hooks_out.signing import signature_header, signature_verify
from tests.factories import UserFactory, WebhookSubscriptionFactory

pytestmark = pytest.mark.django_db

STATUS = HookEvent.MESSAGE_STATUS


@pytest.fixture(autouse=True)
def _loopback(settings):
    settings.WEBHOOK_OUT_ALLOW_PRIVATE = True
    settings.WEBHOOK_OUT_TIMEOUT_SECONDS = 2.0
    settings.WEBHOOK_OUT_CONCURRENCY = 4


def _status(n: int, status: str = "sent") -> dict:
    return {"message": {"id": f"m{n}", "status": status}}


# --- Signing --------------------------------------------------------------------------------


def test_the_signature_is_an_hmac_of_the_time_and_the_raw_body():
    header = signature_header(secret="whsec_x", body=b'{"a":1}', at=1700000000)
    t, v1 = header.split(",")
    assert t == "t=1700000000"
    import hashlib
    import hmac

    expected = hmac.new(b"whsec_x", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert v1 == f"v1={expected}"
    assert signature_verify(
        secret="whsec_x", body=b'{"a":1}', header=header, tolerance=300, now=1700000100
    )


def test_a_tampered_body_a_wrong_secret_or_an_old_signature_is_refused():
    header = signature_header(secret="whsec_x", body=b"{}", at=1700000000)
    verify = {"header": header, "tolerance": 300, "now": 1700000000}
    assert not signature_verify(secret="whsec_x", body=b"{ }", **verify)
    assert not signature_verify(secret="whsec_y", body=b"{}", **verify)
    assert not signature_verify(
        secret="whsec_x", body=b"{}", header=header, tolerance=300, now=1700000301
    )
    assert not signature_verify(secret="whsec_x", body=b"{}", header="garbage", tolerance=300)


# --- The outbox -----------------------------------------------------------------------------


def test_an_event_becomes_one_delivery_per_active_subscription_that_wants_it(
    django_capture_on_commit_callbacks,
):
    wants = WebhookSubscriptionFactory(events=[STATUS])
    WebhookSubscriptionFactory(events=[HookEvent.MESSAGE_INBOUND])
    WebhookSubscriptionFactory(events=[STATUS], is_active=False)
    with django_capture_on_commit_callbacks() as callbacks:
        assert event_emit(event_type=STATUS, data=_status(1), ordering_key="m1") == 1
    assert len(callbacks) == 1  # the drain nudge, after commit
    delivery = WebhookDelivery.objects.get()
    assert delivery.subscription == wants
    assert delivery.payload["type"] == STATUS
    assert delivery.payload["id"] == str(delivery.event_id)
    assert delivery.payload["data"] == _status(1)
    assert delivery.state == DeliveryState.PENDING


def test_a_rolled_back_change_emits_nothing():
    WebhookSubscriptionFactory(events=[STATUS])
    with pytest.raises(RuntimeError), transaction.atomic():
        event_emit(event_type=STATUS, data=_status(1))
        raise RuntimeError("the change failed")
    assert not WebhookDelivery.objects.exists()


def test_nobody_subscribed_costs_one_query(django_assert_num_queries):
    with django_assert_num_queries(1):
        assert events_emit(event_type=STATUS, items=[(_status(n), f"m{n}") for n in range(50)]) == 0


def test_an_unknown_event_type_is_a_bug():
    with pytest.raises(ValueError):
        event_emit(event_type="message.exploded", data={})


# --- Delivery -------------------------------------------------------------------------------


def test_a_delivery_is_a_signed_post_with_the_event_headers(receiver):
    subscription = WebhookSubscriptionFactory(url=receiver.url, events=[STATUS])
    event_emit(event_type=STATUS, data=_status(1, "delivered"), ordering_key="m1")
    totals = deliveries_drain(budget_seconds=5)
    assert totals == {"delivered": 1, "failed": 0, "dead": 0}
    [got] = receiver.received
    delivery = WebhookDelivery.objects.get()
    assert got.headers["X-Parley-Event"] == STATUS
    assert got.headers["X-Parley-Event-Id"] == str(delivery.event_id)
    assert got.headers["X-Parley-Delivery-Attempt"] == "1"
    assert got.headers["Content-Type"] == "application/json"
    assert receiver.verified(subscription.secret)
    assert got.json["data"]["message"]["status"] == "delivered"
    assert delivery.state == DeliveryState.DELIVERED
    assert delivery.status_code == 200
    assert delivery.response_excerpt == '{"ok":true}'
    assert delivery.latency_ms is not None and delivery.delivered_at is not None
    subscription.refresh_from_db()
    assert subscription.last_success_at is not None and subscription.failing_since is None


def test_only_the_first_bytes_of_the_answer_are_kept(receiver):
    WebhookSubscriptionFactory(url=receiver.url, events=[STATUS])
    receiver.answer = b"x" * 5000
    event_emit(event_type=STATUS, data=_status(1))
    deliveries_drain(budget_seconds=5)
    assert WebhookDelivery.objects.get().response_excerpt == "x" * 500


def test_events_of_one_message_are_claimed_one_at_a_time_in_order():
    WebhookSubscriptionFactory(events=[STATUS])
    for status in ("accepted", "sent", "delivered"):
        event_emit(event_type=STATUS, data=_status(1, status), ordering_key="m1")
    event_emit(event_type=STATUS, data=_status(2), ordering_key="m2")
    claimed = deliveries_claim(limit=10)
    assert [d.payload["data"]["message"]["status"] for d in claimed] == ["accepted", "sent"]
    assert {d.ordering_key for d in claimed} == {"m1", "m2"}
    # While the head is out (or waiting for a retry), the rest of its key waits too.
    assert deliveries_claim(limit=10) == []


def test_a_failing_head_holds_its_message_back_until_it_is_delivered(receiver):
    subscription = WebhookSubscriptionFactory(url=receiver.url, events=[STATUS])
    for status in ("sent", "delivered", "read"):
        event_emit(event_type=STATUS, data=_status(1, status), ordering_key="m1")
    receiver.status = 503
    deliveries_drain(budget_seconds=5)
    assert [e["data"]["message"]["status"] for e in receiver.events()] == ["sent"]
    head = WebhookDelivery.objects.order_by("id").first()
    assert head.state == DeliveryState.PENDING and head.attempts == 1
    assert head.status_code == 503 and "HTTP 503" in head.error
    assert head.next_attempt_at > timezone.now()
    subscription.refresh_from_db()
    assert subscription.failing_since is not None and subscription.retry_at is not None

    receiver.status = 200
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    subscription.__class__.objects.update(retry_at=None)
    deliveries_drain(budget_seconds=5)
    statuses = [e["data"]["message"]["status"] for e in receiver.events()]
    assert statuses == ["sent", "sent", "delivered", "read"]
    assert len({e["id"] for e in receiver.events()}) == 3  # the retry kept its event id
    assert receiver.received[1].headers["X-Parley-Delivery-Attempt"] == "2"
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {"delivered"}


def test_the_backoff_grows_exponentially_with_full_jitter_and_a_cap(settings):
    settings.WEBHOOK_OUT_BACKOFF_MAX_SECONDS = 600
    for attempts, bound in ((1, 5), (2, 10), (4, 40), (20, 600)):
        samples = [backoff_seconds(attempts) for _ in range(200)]
        assert all(1.0 <= s <= max(bound, 1.0) for s in samples), (attempts, max(samples))
        if bound > 20:
            assert max(samples) > bound / 2  # jitter spreads over the whole range
    assert settings.WEBHOOK_OUT_MAX_ATTEMPT_HOURS >= 24


def test_a_delivery_is_retried_until_it_is_too_old_then_given_up(settings, receiver):
    settings.WEBHOOK_OUT_MAX_ATTEMPT_HOURS = 24
    WebhookSubscriptionFactory(url=receiver.url, events=[STATUS])
    receiver.status = 500
    event_emit(event_type=STATUS, data=_status(1))
    event_emit(event_type=STATUS, data=_status(2))
    young, old = WebhookDelivery.objects.order_by("id")
    WebhookDelivery.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    deliveries_drain(budget_seconds=5)
    young.refresh_from_db()
    old.refresh_from_db()
    assert young.state == DeliveryState.PENDING
    assert old.state == DeliveryState.DEAD and old.attempts == 1


def test_a_subscription_failing_past_the_limit_is_disabled_and_shown_to_staff(settings, receiver):
    from analytics.ops.health import health_collect

    settings.WEBHOOK_OUT_DISABLE_AFTER_HOURS = 72
    subscription = WebhookSubscriptionFactory(
        url=receiver.url, events=[STATUS], failing_since=timezone.now() - timedelta(hours=73),
        consecutive_failures=40,
    )  # fmt: skip
    receiver.status = 502
    event_emit(event_type=STATUS, data=_status(1))
    deliveries_drain(budget_seconds=5)
    subscription.refresh_from_db()
    assert not subscription.is_active
    assert subscription.disabled_at is not None
    assert "72 hours" in subscription.disabled_reason
    assert WebhookDelivery.objects.get().state == DeliveryState.PENDING  # kept for later
    report = health_collect(use_cache=False)
    component = report["by_key"][f"hooks_out:{subscription.pk}"]
    assert component["state"] == "down" and report["status"] == "down"

    # Staff turn it back on: its failure run is forgotten and the waiting event goes.
    receiver.status = 200
    subscription_update(subscription=subscription, is_active=True)
    deliveries_drain(budget_seconds=5)
    assert WebhookDelivery.objects.get().state == DeliveryState.DELIVERED
    assert f"hooks_out:{subscription.pk}" not in health_collect(use_cache=False)["by_key"]


def test_a_slow_receiver_cannot_hold_the_worker(settings, receiver):
    settings.WEBHOOK_OUT_TIMEOUT_SECONDS = 0.3
    WebhookSubscriptionFactory(url=receiver.url, events=[STATUS])
    receiver.delay = 3
    event_emit(event_type=STATUS, data=_status(1))
    started = time.monotonic()
    deliveries_drain(budget_seconds=5)
    assert time.monotonic() - started < 1.5
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.PENDING
    assert "Timeout" in delivery.error or "timed out" in delivery.error


def test_a_receiver_that_is_down_is_a_retry_not_a_crash(receiver):
    WebhookSubscriptionFactory(url="http://127.0.0.1:9/hooks", events=[STATUS])
    event_emit(event_type=STATUS, data=_status(1))
    assert deliveries_drain(budget_seconds=5)["failed"] == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.status_code is None and delivery.error


def test_the_ssrf_guard_refuses_private_addresses_when_saved_and_when_sent(settings):
    settings.WEBHOOK_OUT_ALLOW_PRIVATE = False
    for url in ("http://127.0.0.1/hooks", "http://10.0.0.5/x", "http://169.254.169.254/latest",
                "ftp://example.com/x", "https://user:pw@example.com/x"):  # fmt: skip
        with pytest.raises(Exception) as caught:
            subscription_create(name="x", url=url, events=[STATUS])
        assert caught.value.details.get("url"), url
    # Saved while allowed (or its DNS changed since): refused at send time, nothing posted.
    WebhookSubscriptionFactory(url="http://127.0.0.1:9/hooks", events=[STATUS])
    event_emit(event_type=STATUS, data=_status(1))
    deliveries_drain(budget_seconds=5)
    delivery = WebhookDelivery.objects.get()
    assert delivery.error.startswith("refused by the SSRF guard")
    assert delivery.state == DeliveryState.PENDING


def test_a_claim_left_by_a_killed_worker_goes_back_to_pending():
    WebhookSubscriptionFactory(events=[STATUS])
    event_emit(event_type=STATUS, data=_status(1))
    [claimed] = deliveries_claim(limit=5)
    assert deliveries_release_stale(older_than_seconds=60) == 0
    WebhookDelivery.objects.update(claimed_at=timezone.now() - timedelta(minutes=5))
    assert deliveries_release_stale(older_than_seconds=60) == 1
    assert deliveries_claim(limit=5)[0].pk == claimed.pk


def test_old_delivered_deliveries_are_purged(settings):
    settings.WEBHOOK_OUT_RETENTION_DAYS = 30
    WebhookSubscriptionFactory(events=[STATUS])
    event_emit(event_type=STATUS, data=_status(1))
    event_emit(event_type=STATUS, data=_status(2))
    old, recent = WebhookDelivery.objects.order_by("id")
    WebhookDelivery.objects.update(state=DeliveryState.DELIVERED)
    WebhookDelivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    assert deliveries_purge() == 1
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [recent.pk]


# --- Replay ---------------------------------------------------------------------------------


def test_replaying_one_delivery_sends_the_same_event_again_and_is_audited(receiver):
    subscription = WebhookSubscriptionFactory(url=receiver.url, events=[STATUS])
    staff = UserFactory(username="replayer")
    event_emit(event_type=STATUS, data=_status(1))
    deliveries_drain(budget_seconds=5)
    original = WebhookDelivery.objects.get()
    assert deliveries_replay(subscription=subscription, delivery=original, actor=staff) == 1
    deliveries_drain(budget_seconds=5)
    first, again = receiver.events()
    assert first == again  # same id, same body: the receiver deduplicates
    copy = WebhookDelivery.objects.exclude(pk=original.pk).get()
    assert copy.replay_of == original and copy.replayed_by == staff
    assert copy.state == DeliveryState.DELIVERED
    event = AuditEvent.objects.get(action_name="webhook_replay")
    assert event.actor == staff and event.additional_data["count"] == 1


def test_replaying_a_time_range_queues_every_event_of_it_once():
    subscription = WebhookSubscriptionFactory(events=[STATUS])
    for n in range(3):
        event_emit(event_type=STATUS, data=_status(n))
    WebhookDelivery.objects.update(state=DeliveryState.DELIVERED)
    early = WebhookDelivery.objects.order_by("id").first()
    WebhookDelivery.objects.filter(pk=early.pk).update(
        created_at=timezone.now() - timedelta(days=2)
    )
    now = timezone.now()
    queued = deliveries_replay(
        subscription=subscription, since=now - timedelta(hours=1), until=now + timedelta(minutes=1)
    )
    assert queued == 2
    replays = WebhookDelivery.objects.filter(replay_of__isnull=False)
    assert {r.event_id for r in replays} == {
        d.event_id
        for d in WebhookDelivery.objects.filter(replay_of__isnull=True).exclude(pk=early.pk)
    }
    # A second replay of the range copies the originals, not the replays.
    assert (
        deliveries_replay(
            subscription=subscription,
            since=now - timedelta(hours=1),
            until=now + timedelta(minutes=1),
        )
        == 2
    )


def test_a_replay_needs_a_range_in_the_right_order():
    subscription = WebhookSubscriptionFactory(events=[STATUS])
    now = timezone.now()
    with pytest.raises(Exception, match="since"):
        deliveries_replay(subscription=subscription, since=now, until=now - timedelta(hours=1))


def test_event_ids_are_uuids_shared_by_every_subscription_of_one_event():
    WebhookSubscriptionFactory(events=[STATUS])
    WebhookSubscriptionFactory(events=[STATUS])
    event_emit(event_type=STATUS, data=_status(1))
    ids = set(WebhookDelivery.objects.values_list("event_id", flat=True))
    assert len(ids) == 1 and isinstance(ids.pop(), uuid.UUID)


def test_pointing_a_failing_subscription_at_a_new_url_sends_its_waiting_events_at_once(
    receiver,
):
    subscription = WebhookSubscriptionFactory(url="http://127.0.0.1:9/hooks", events=[STATUS])
    event_emit(event_type=STATUS, data=_status(1))
    deliveries_drain(budget_seconds=5)
    subscription.refresh_from_db()
    assert subscription.retry_at is not None
    subscription_update(subscription=subscription, url=receiver.url)
    deliveries_drain(budget_seconds=5)
    assert WebhookDelivery.objects.get().state == DeliveryState.DELIVERED
    assert len(receiver.received) == 1


def test_the_connection_itself_goes_only_to_an_address_the_guard_passed(receiver, settings):
    """Past the URL check, the socket is opened to the address the guard's own lookup
    returned: a name that resolves to loopback is refused at connect time too (DNS
    rebinding), while the unguarded manager of the demo reaches the same receiver."""
    import urllib3

    from messaging.hooks_out import sender

    url = receiver.url.replace("127.0.0.1", "localhost")
    with pytest.raises(urllib3.exceptions.NewConnectionError, match="SSRF guard"):
        sender._guarded_manager().request("POST", url, body=b"{}", retries=False)
    assert receiver.received == []
    response = sender._manager().request("POST", url, body=b"{}", retries=False)
    assert response.status == 200 and len(receiver.received) == 1
