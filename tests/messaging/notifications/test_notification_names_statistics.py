"""Seed 004's names for two notification types, and the statistics endpoint."""

from datetime import UTC, datetime, timedelta

import pytest

from messaging.models import Notification, NotificationType, Status
from messaging.notifications.names import SEED_NAMES, notification_type_code
from messaging.notifications.selectors import notification_statistics
from tests.factories import ContactFactory, MessageFactory, NotificationFactory

pytestmark = pytest.mark.django_db

STATS = "/api/v1/notifications/statistics/"
PAUSED = {"plan": "Monthly", "resume_on": "1 May"}


@pytest.fixture
def integrator(make_user, api_client):
    api_client.force_authenticate(make_user("Campaign manager"))
    return api_client


def test_the_seed_names_are_aliases_of_two_seeded_types():
    assert SEED_NAMES == {"pause_confirmation": "subscription_paused", "churn_risk": "we_miss_you"}
    codes = set(NotificationType.objects.values_list("code", flat=True))
    assert len(codes) == 10 and set(SEED_NAMES.values()) <= codes
    assert not set(SEED_NAMES) & codes  # the stored codes stay as they were
    assert notification_type_code(" churn_risk ") == "we_miss_you"
    assert notification_type_code("order_confirmation") == "order_confirmation"


def test_sending_by_either_name_is_one_notification_answered_in_the_callers_name(
    integrator, channel
):
    contact = ContactFactory()
    body = {"phone": contact.phone, "variables": PAUSED, "reference_id": "SUB-9"}
    first = integrator.post(
        "/api/v1/notifications/", {**body, "event_type": "pause_confirmation"}, format="json"
    )
    assert first.status_code == 202, first.json()
    assert first.json()["event_type"] == "pause_confirmation"
    again = integrator.post(
        "/api/v1/notifications/", {**body, "event_type": "subscription_paused"}, format="json"
    )
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["event_type"] == "subscription_paused"
    stored = Notification.objects.get()
    assert stored.event_type.code == "subscription_paused"

    listed = integrator.get("/api/v1/notifications/", {"event_type": "pause_confirmation"}).json()
    assert [r["event_type"] for r in listed["results"]] == ["pause_confirmation"]
    canonical = integrator.get("/api/v1/notifications/").json()
    assert [r["event_type"] for r in canonical["results"]] == ["subscription_paused"]
    detail = integrator.get(f"/api/v1/notifications/{stored.pk}/").json()
    assert detail["event_type"] == "subscription_paused"


def test_types_list_their_aliases_and_preferences_take_either_name(integrator):
    types = {t["code"]: t for t in integrator.get("/api/v1/notification-types/").json()}
    assert types["we_miss_you"]["aliases"] == ["churn_risk"]
    assert types["subscription_paused"]["aliases"] == ["pause_confirmation"]
    assert types["order_confirmation"]["aliases"] == []
    contact = ContactFactory()
    response = integrator.put(
        f"/api/v1/contacts/{contact.pk}/notification-preferences/",
        {"preferences": [{"event_type": "churn_risk", "opted_out": True}]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    out = [p["event_type"] for p in response.json()["preferences"] if p["opted_out"]]
    assert out == ["we_miss_you"]


def test_an_unknown_name_is_still_unknown(integrator, channel):
    contact = ContactFactory()
    response = integrator.post(
        "/api/v1/notifications/",
        {"event_type": "churn", "phone": contact.phone, "reference_id": "X-1"},
        format="json",
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "notification_type_unknown"


# --- Statistics ------------------------------------------------------------------------------

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _world():
    """A hand-built period: every bucket, a resend, a provider retry, and rows outside it."""
    contact = ContactFactory()

    def note(code, *, status=None, at=T0, attempt=1, attempts=1, ref=None):
        message = None
        if status is not None:
            message = MessageFactory(contact=contact, status=status, attempts=attempts)
        return NotificationFactory(
            event_type=NotificationType.objects.get(code=code), contact=contact,
            message=message, refusal_code="" if message else "notification_opted_out",
            created_at=at, attempt=attempt, reference_id=ref or f"R-{Notification.objects.count()}",
        )  # fmt: skip

    note("order_confirmation", status=Status.QUEUED)
    note("order_confirmation", status=Status.SENDING)
    note("order_confirmation", status=Status.ACCEPTED)
    note("order_confirmation", status=Status.SENT, attempts=3)  # retried by the send path
    note("order_confirmation", status=Status.DELIVERED)
    note("order_confirmation", status=Status.DELIVERED)
    note("order_confirmation", status=Status.READ)
    note("order_confirmation", status=Status.FAILED, ref="F-1")
    note("order_confirmation", status=Status.DELIVERED, ref="F-1", attempt=2)  # a resend
    note("order_confirmation")  # refused
    note("we_miss_you", status=Status.READ)
    note("we_miss_you", status=Status.UNKNOWN)
    note("order_confirmation", status=Status.READ, at=T0 - timedelta(days=2))  # before
    note("order_confirmation", status=Status.READ, at=T0 + timedelta(days=2))  # after
    return contact


def test_statistics_count_a_hand_built_world_exactly(integrator):
    _world()
    response = integrator.get(STATS, {"from": "2026-03-10", "to": "2026-03-10"})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert len(body["types"]) == 10
    assert body["types"]["order_confirmation"] == {
        "queued": 2, "sent": 2, "delivered": 3, "read": 1, "failed": 1, "unknown": 0,
        "cancelled": 0, "refused": 1, "retried": 2, "total": 10,
    }  # fmt: skip
    assert body["types"]["we_miss_you"] == {
        "queued": 0, "sent": 0, "delivered": 0, "read": 1, "failed": 0, "unknown": 1,
        "cancelled": 0, "refused": 0, "retried": 0, "total": 2,
    }  # fmt: skip
    assert body["types"]["delivery_delayed"]["total"] == 0
    assert body["total"]["total"] == 12 and body["total"]["read"] == 2
    assert body["from"].startswith("2026-03-10T00:00") and body["to"].startswith("2026-03-11")


def test_statistics_by_one_type_answer_in_the_name_asked(integrator):
    _world()
    body = integrator.get(
        STATS, {"from": "2026-03-01T00:00:00Z", "to": "2026-04-01T00:00:00Z", "type": "churn_risk"}
    ).json()
    assert list(body["types"]) == ["churn_risk"]
    assert body["types"]["churn_risk"]["total"] == 2
    everything = integrator.get(STATS, {"from": "2026-03-01", "to": "2026-03-31"}).json()
    assert everything["types"]["order_confirmation"]["total"] == 12


def test_statistics_default_to_the_last_seven_days():
    contact = ContactFactory()
    NotificationFactory(contact=contact)  # now: refused
    counts = notification_statistics(
        start=datetime.now(UTC) - timedelta(days=7), end=datetime.now(UTC) + timedelta(seconds=1)
    )
    assert counts["order_confirmation"]["refused"] == 1


def test_statistics_default_period_through_the_api(integrator):
    NotificationFactory(contact=ContactFactory())
    body = integrator.get(STATS).json()
    assert body["total"]["refused"] == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2026-03-10", "to": "2026-03-01"}, "to"),
        ({"from": "2020-01-01", "to": "2026-01-01"}, "to"),
        ({"from": "2026-03-10T00:00:00"}, "from"),  # no time zone
        ({"type": "nope"}, "type"),
    ],
)
def test_statistics_refuse_bad_input_naming_the_parameter(integrator, params, field):
    response = integrator.get(STATS, params)
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]


@pytest.mark.parametrize("role", [None, "Agent", "Content reviewer"])
def test_statistics_need_permission(make_user, api_client, role):
    assert api_client.get(STATS).status_code in (401, 403)  # anonymous
    api_client.force_authenticate(make_user(role))
    assert api_client.get(STATS).status_code == 403


@pytest.mark.parametrize("role", ["Admin", "Campaign manager", "Analyst"])
def test_statistics_are_open_to_who_reads_notifications(make_user, api_client, role):
    api_client.force_authenticate(make_user(role))
    assert api_client.get(STATS).status_code == 200


def test_statistics_query_count_does_not_grow(integrator, django_assert_max_num_queries):
    _world()
    with django_assert_max_num_queries(8):
        assert integrator.get(STATS, {"from": "2026-03-01", "to": "2026-03-31"}).status_code == 200
