"""/staff/integrations/webhooks/: Admin only; a secret shown once; edit, delete, rotate,
the delivery log with filters and pages, replay buttons (POST with CSRF)."""

from __future__ import annotations

import pytest
from django.test import Client

from core.models import AuditEvent
from messaging.hooks_out.models import (
    DeliveryState,
    HookEvent,
    WebhookDelivery,
    WebhookSubscription,
)
from messaging.hooks_out.services import event_emit
from tests.factories import WebhookSubscriptionFactory

pytestmark = pytest.mark.django_db

BASE = "/staff/integrations/webhooks/"


@pytest.fixture
def admin(client, admin_user, settings):
    settings.WEBHOOK_OUT_ALLOW_PRIVATE = False
    client.force_login(admin_user)
    return client


def test_create_shows_the_secret_once(admin):
    form = admin.get(f"{BASE}new/")
    assert form.status_code == 200 and b'name="events"' in form.content
    response = admin.post(
        f"{BASE}new/",
        {"name": "Orders", "url": "https://8.8.8.8/hooks", "events": ["message.status",
                                                                       "contact.consent"]},
    )  # fmt: skip
    assert response.status_code == 200
    subscription = WebhookSubscription.objects.get()
    page = response.content.decode()
    assert subscription.secret in page and "not shown again" in page
    assert subscription.events == ["message.status", "contact.consent"]
    assert subscription.created_by is not None
    for url in (BASE, f"{BASE}{subscription.pk}/", f"{BASE}{subscription.pk}/edit/"):
        assert subscription.secret not in admin.get(url).content.decode()


def test_bad_input_is_shown_on_the_form(admin):
    response = admin.post(f"{BASE}new/", {"name": "x", "url": "http://127.0.0.1/h", "events": []})
    page = response.content.decode()
    assert response.status_code == 200
    assert "This field is required" in page  # events
    response = admin.post(
        f"{BASE}new/", {"name": "x", "url": "http://127.0.0.1/h", "events": ["message.status"]}
    )
    assert "non-public address" in response.content.decode()
    assert not WebhookSubscription.objects.exists()


def test_edit_turns_it_off_and_on(admin):
    subscription = WebhookSubscriptionFactory(url="https://8.8.8.8/a")
    response = admin.post(
        f"{BASE}{subscription.pk}/edit/",
        {"name": "Renamed", "url": "https://8.8.8.8/b", "events": ["campaign.state"]},
    )
    assert response.status_code == 302
    subscription.refresh_from_db()
    assert subscription.name == "Renamed" and not subscription.is_active
    assert subscription.events == ["campaign.state"]
    admin.post(
        f"{BASE}{subscription.pk}/edit/",
        {"name": "Renamed", "url": "https://8.8.8.8/b", "events": ["campaign.state"],
         "is_active": "on"},
    )  # fmt: skip
    subscription.refresh_from_db()
    assert subscription.is_active and subscription.disabled_at is None


def test_rotate_shows_the_new_secret_and_delete_asks_first(admin):
    subscription = WebhookSubscriptionFactory()
    detail = admin.get(f"{BASE}{subscription.pk}/").content.decode()
    assert 'data-confirm="Delete' in detail and 'data-confirm="Make a new secret' in detail
    assert subscription.secret not in detail and subscription.secret_masked in detail
    old = subscription.secret
    assert admin.get(f"{BASE}{subscription.pk}/rotate-secret/").status_code == 405
    rotated = admin.post(f"{BASE}{subscription.pk}/rotate-secret/").content.decode()
    subscription.refresh_from_db()
    assert subscription.secret != old and subscription.secret in rotated
    assert AuditEvent.objects.filter(action_name="webhook_secret_rotated").count() == 1
    assert admin.post(f"{BASE}{subscription.pk}/delete/").status_code == 302
    assert not WebhookSubscription.objects.exists()


def test_the_delivery_log_filters_pages_and_replays(admin, django_assert_max_num_queries):
    subscription = WebhookSubscriptionFactory(events=["message.status"])
    for n in range(60):
        event_emit(event_type=HookEvent.MESSAGE_STATUS, data={"n": n}, ordering_key=f"m{n}")
    delivered = WebhookDelivery.objects.order_by("id").first()
    WebhookDelivery.objects.filter(pk=delivered.pk).update(
        state=DeliveryState.DELIVERED, status_code=200, latency_ms=7, response_excerpt="ok"
    )
    with django_assert_max_num_queries(12):
        page = admin.get(f"{BASE}{subscription.pk}/").content.decode()
    assert page.count('data-testid="webhook-delivery"') == 50
    assert "Page 1 of 2" in page
    filtered = admin.get(f"{BASE}{subscription.pk}/", {"state": "delivered"}).content.decode()
    assert filtered.count('data-testid="webhook-delivery"') == 1 and "7 ms" in filtered
    assert f'name="delivery" value="{delivered.pk}"' in filtered
    second = admin.get(f"{BASE}{subscription.pk}/", {"page": 2}).content.decode()
    assert second.count('data-testid="webhook-delivery"') == 10

    replayed = admin.post(f"{BASE}{subscription.pk}/replay/", {"delivery": delivered.pk})
    assert replayed.status_code == 302
    assert WebhookDelivery.objects.filter(replay_of=delivered).count() == 1
    bad = admin.post(
        f"{BASE}{subscription.pk}/replay/",
        {"since": "2026-01-02T00:00", "until": "2026-01-01T00:00"},
        follow=True,
    )
    assert "Replay not queued" in bad.content.decode()
    ranged = admin.post(
        f"{BASE}{subscription.pk}/replay/",
        {"since": "2020-01-01T00:00", "until": "2099-01-01T00:00"},
        follow=True,
    )
    assert "60 event(s) queued again." in ranged.content.decode()


def test_forms_need_the_csrf_token(admin_user):
    subscription = WebhookSubscriptionFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post(f"{BASE}{subscription.pk}/rotate-secret/").status_code == 403
    assert client.post(f"{BASE}{subscription.pk}/replay/", {}).status_code == 403
    assert client.post(f"{BASE}{subscription.pk}/delete/").status_code == 403
    assert WebhookSubscription.objects.filter(pk=subscription.pk, secret=subscription.secret)


@pytest.mark.parametrize("role", ["Campaign manager", "Analyst", "Agent", "Content reviewer", None])
def test_other_roles_are_refused(client, make_user, role):
    subscription = WebhookSubscriptionFactory()
    client.force_login(make_user(role))
    for url in (BASE, f"{BASE}new/", f"{BASE}{subscription.pk}/", f"{BASE}{subscription.pk}/edit/"):
        assert client.get(url).status_code == 403, url
    for action in ("rotate-secret", "delete", "replay"):
        assert client.post(f"{BASE}{subscription.pk}/{action}/").status_code == 403, action
    assert WebhookSubscription.objects.filter(pk=subscription.pk, secret=subscription.secret)


def test_anonymous_visitors_are_sent_to_sign_in(client):
    subscription = WebhookSubscriptionFactory()
    for url in (BASE, f"{BASE}{subscription.pk}/"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_navigation_shows_it_to_admins_only(client, make_user):
    client.force_login(make_user("Admin"))
    assert BASE.encode() in client.get("/staff/").content
    client.force_login(make_user("Campaign manager"))
    assert BASE.encode() not in client.get("/staff/").content
