"""/api/v1/webhook-subscriptions/: Admin only; the secret in a create's and a rotation's
answer only; the delivery log; replays; clear errors for bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import AuditEvent
from messaging.hooks_out.models import DeliveryState, HookEvent, WebhookDelivery
from messaging.hooks_out.services import event_emit
from tests.factories import WebhookSubscriptionFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/webhook-subscriptions/"


@pytest.fixture
def admin_api(api_client, admin_user, settings):
    settings.WEBHOOK_OUT_ALLOW_PRIVATE = False
    api_client.force_authenticate(admin_user)
    return api_client


def _create(client, **body):
    payload = {
        "name": "Orders", "url": "https://8.8.8.8/parley", "events": ["message.status"], **body,
    }  # fmt: skip
    return client.post(BASE, payload, format="json")


def test_create_answers_the_secret_once_and_list_masks_it(admin_api):
    created = _create(admin_api)
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["secret"].startswith("whsec_") and len(body["secret"]) == 70
    assert body["events"] == ["message.status"] and body["is_active"] is True
    listed = admin_api.get(BASE).json()
    assert listed["count"] == 1
    [row] = listed["results"]
    assert "secret" not in row and row["secret_hint"].startswith("whsec_")
    assert body["secret"] not in str(listed)
    detail = admin_api.get(f"{BASE}{body['id']}/").json()
    assert "secret" not in detail and body["secret"] not in str(detail)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://127.0.0.1/x"}, "url"),
        ({"url": "http://10.1.2.3/x"}, "url"),
        ({"url": "file:///etc/passwd"}, "url"),
        ({"events": ["message.exploded"]}, "events"),
        ({"events": []}, "events"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_input_names_the_field(admin_api, body, field):
    response = _create(admin_api, **body)
    assert response.status_code == 400, response.json()
    assert field in str(response.json())


def test_update_delete_and_rotate(admin_api):
    subscription = WebhookSubscriptionFactory(url="https://8.8.8.8/a")
    old_secret = subscription.secret
    changed = admin_api.patch(
        f"{BASE}{subscription.pk}/", {"events": ["contact.consent"], "is_active": False},
        format="json",
    )  # fmt: skip
    assert changed.status_code == 200, changed.json()
    assert changed.json()["events"] == ["contact.consent"] and changed.json()["is_active"] is False
    rotated = admin_api.post(f"{BASE}{subscription.pk}/rotate-secret/")
    assert rotated.status_code == 200
    subscription.refresh_from_db()
    assert rotated.json()["secret"] == subscription.secret != old_secret
    event = AuditEvent.objects.get(action_name="webhook_secret_rotated")
    assert old_secret not in str(event.__dict__) and subscription.secret not in str(event.__dict__)
    assert admin_api.delete(f"{BASE}{subscription.pk}/").status_code == 204
    assert admin_api.get(f"{BASE}{subscription.pk}/").status_code == 404


def test_the_audit_log_never_holds_a_secret(admin_api):
    body = _create(admin_api).json()
    admin_api.patch(f"{BASE}{body['id']}/", {"name": "Orders 2"}, format="json")
    recorded = AuditEvent.objects.filter(object_pk=str(body["id"]))
    assert {e.action_name for e in recorded} >= {"create", "update"}
    for event in AuditEvent.objects.all():
        assert body["secret"] not in str(event.changes) + str(event.additional_data)


def test_the_delivery_log_and_its_filters(admin_api, django_assert_max_num_queries):
    subscription = WebhookSubscriptionFactory(events=["message.status"])
    for n in range(3):
        event_emit(event_type=HookEvent.MESSAGE_STATUS, data={"n": n}, ordering_key=f"m{n}")
    WebhookDelivery.objects.filter(payload__data__n=0).update(
        state=DeliveryState.DELIVERED, status_code=200, latency_ms=12
    )
    with django_assert_max_num_queries(8):
        log = admin_api.get(f"{BASE}{subscription.pk}/deliveries/").json()
    assert log["count"] == 3
    assert set(log["results"][0]) >= {
        "event_id", "event_type", "state", "attempts", "status_code", "latency_ms",
        "response_excerpt", "error",
    }  # fmt: skip
    delivered = admin_api.get(f"{BASE}{subscription.pk}/deliveries/", {"state": "delivered"})
    assert [d["latency_ms"] for d in delivered.json()["results"]] == [12]
    assert admin_api.get(f"{BASE}{subscription.pk}/deliveries/", {"state": "x"}).status_code == 400
    assert admin_api.get(f"{BASE}999999/deliveries/").status_code == 404


def test_replay_one_delivery_or_a_range(admin_api):
    subscription = WebhookSubscriptionFactory(events=["message.status"])
    event_emit(event_type=HookEvent.MESSAGE_STATUS, data={"n": 1})
    delivery = WebhookDelivery.objects.get()
    one = admin_api.post(
        f"{BASE}{subscription.pk}/replay/", {"delivery": delivery.pk}, format="json"
    )
    assert one.status_code == 202 and one.json() == {"queued": 1}
    now = timezone.now()
    ranged = admin_api.post(
        f"{BASE}{subscription.pk}/replay/",
        {"since": (now - timedelta(hours=1)).isoformat(), "until": now.isoformat()},
        format="json",
    )
    assert ranged.status_code == 202 and ranged.json() == {"queued": 1}  # replays not replayed
    assert WebhookDelivery.objects.filter(event_id=delivery.event_id).count() == 3
    assert admin_api.post(f"{BASE}{subscription.pk}/replay/", {}, format="json").status_code == 400
    other = WebhookSubscriptionFactory()
    foreign = admin_api.post(f"{BASE}{other.pk}/replay/", {"delivery": delivery.pk}, format="json")
    assert foreign.status_code == 400 and "delivery" in str(foreign.json())


@pytest.mark.parametrize("role", ["Campaign manager", "Analyst", "Agent", "Content reviewer"])
def test_only_admins_may_use_it(api_client, make_user, role):
    subscription = WebhookSubscriptionFactory()
    api_client.force_authenticate(make_user(role))
    assert api_client.get(BASE).status_code == 403
    assert api_client.post(BASE, {}, format="json").status_code == 403
    assert api_client.get(f"{BASE}{subscription.pk}/").status_code == 403
    assert api_client.delete(f"{BASE}{subscription.pk}/").status_code == 403
    assert api_client.post(f"{BASE}{subscription.pk}/rotate-secret/").status_code == 403
    assert api_client.get(f"{BASE}{subscription.pk}/deliveries/").status_code == 403
    assert api_client.post(f"{BASE}{subscription.pk}/replay/", {}, format="json").status_code == 403


def test_anonymous_callers_are_refused(api_client):
    subscription = WebhookSubscriptionFactory()
    assert api_client.get(BASE).status_code == 401
    assert api_client.post(f"{BASE}{subscription.pk}/rotate-secret/").status_code == 401


def test_the_endpoints_are_in_the_openapi_schema(admin_api):
    schema = admin_api.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    for path in ("/api/v1/webhook-subscriptions/", "/rotate-secret/", "/deliveries/", "/replay/"):
        assert path in schema
