"""Conversions API and reporting API: idempotency, validation, permissions, shapes."""

from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache

from analytics.models import ConversionEvent
from analytics.services.rollups import analytics_rollup
from tests.analytics.analytics_support import NOW, D, at, build_world
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

CONVERSIONS = "/api/v1/conversions/"
REPORTS = [
    "/api/v1/reporting/messages/status",
    "/api/v1/reporting/inbound",
    "/api/v1/reporting/dashboard",
]


@pytest.fixture(autouse=True)
def _clock(settings):
    settings.ANALYTICS_TIME_ZONE = "UTC"
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def admin_api(api_client, make_user):
    api_client.force_authenticate(make_user("Admin"))
    return api_client


def _order(**extra):
    return {
        "reference_id": "ORD-77",
        "type": "order",
        "phone": "+919800000000",
        "value": "1499.00",
        "currency": "INR",
        "occurred_at": at(11).isoformat(),
        **extra,
    }


def test_a_conversion_is_recorded_and_attributed(admin_api):
    world = build_world()
    response = admin_api.post(
        CONVERSIONS, _order(source="web", phone=world.contacts["c1"].phone), format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["reference_id"] == "ORD-77" and body["contact"] == world.contacts["c1"].pk
    assert body["value"] == "1499.00" and body["value_base"] == "1499.00"
    assert body["attribution"]["source"] == "campaign"
    assert body["attribution"]["campaign"] == world.campaign.pk
    assert body["attribution"]["message"] == str(world.messages["m1"].uuid)
    assert body["source"] == "web"


def test_a_repeat_returns_the_first(admin_api):
    phone = build_world().contacts["c1"].phone
    first = admin_api.post(CONVERSIONS, _order(phone=phone), format="json")
    again = admin_api.post(
        CONVERSIONS, _order(phone=phone, value="1.00", type="payment"), format="json"
    )
    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert ConversionEvent.objects.filter(reference_id="ORD-77").count() == 1


def test_by_contact_id_and_page_views(admin_api):
    contact = ContactFactory()
    response = admin_api.post(
        CONVERSIONS,
        {"reference_id": "pv-1", "type": "page_view", "contact": contact.pk,
         "page_name": "pricing", "session_id": "s-9"},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["page_name"], body["session_id"], body["value"]) == ("pricing", "s-9", "0.00")
    assert body["attribution"]["source"] == "organic"
    assert body["occurred_at"].startswith(NOW.date().isoformat())


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        ({"type": "refund"}, "invalid", "type"),
        ({"value": "-5"}, "invalid", "value"),
        ({"phone": None, "contact": None}, "invalid", "phone"),
        ({"reference_id": ""}, "invalid", "reference_id"),
        ({"type": "page_view"}, "invalid_conversion", "page_name"),
        (
            {"occurred_at": (NOW + timedelta(days=2)).isoformat()},
            "invalid_conversion",
            "occurred_at",
        ),
        ({"currency": "XYZ"}, "unsupported_currency", "currency"),
    ],
)
def test_invalid_conversions_get_400(admin_api, payload, code, field):
    ContactFactory(phone="+919800000000")  # _order's phone
    body = {k: v for k, v in {**_order(), **payload}.items() if v is not None}
    response = admin_api.post(CONVERSIONS, body, format="json")
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == code
    assert field in error["details"]
    assert not ConversionEvent.objects.exists()


def test_unknown_and_invalid_phones(admin_api):
    response = admin_api.post(CONVERSIONS, _order(phone="+919811111111"), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "contact_unknown"
    response = admin_api.post(CONVERSIONS, _order(phone="12"), format="json")
    assert response.json()["error"]["code"] == "invalid_phone"


@pytest.mark.parametrize("role", ["Analyst", "Agent", "Content reviewer", None])
def test_recording_needs_the_add_permission(api_client, make_user, role):
    ContactFactory(phone="+919800000000")  # _order's phone
    api_client.force_authenticate(make_user(role))
    assert api_client.post(CONVERSIONS, _order(), format="json").status_code == 403
    assert not ConversionEvent.objects.exists()


def test_anonymous_callers_are_refused(api_client):
    assert api_client.post(CONVERSIONS, _order(), format="json").status_code in (401, 403)
    for url in REPORTS:
        assert api_client.get(url).status_code in (401, 403)


def test_listing_conversions(api_client, make_user):
    build_world()
    api_client.force_authenticate(make_user("Analyst"))
    response = api_client.get(CONVERSIONS, {"attribution_source": "organic"})
    assert response.status_code == 200
    refs = {row["reference_id"] for row in response.json()["results"]}
    assert refs == {"cv3", "cv4"}
    detail = api_client.get(f"{CONVERSIONS}{ConversionEvent.objects.get(reference_id='cv1').pk}/")
    assert detail.json()["attribution"]["source"] == "campaign"


# --- Reporting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["Agent", None])
def test_reporting_needs_the_dashboard_permission(api_client, make_user, role):
    world = build_world()
    api_client.force_authenticate(make_user(role))
    for url in [*REPORTS, f"/api/v1/reporting/campaigns/{world.campaign.pk}/summary"]:
        assert api_client.get(url).status_code == 403, url


def test_message_status_report_with_filters(api_client, make_user):
    world = build_world()
    api_client.force_authenticate(make_user("Analyst"))
    url = "/api/v1/reporting/messages/status"
    everything = api_client.get(url).json()["results"]
    assert {r["wamid"] for r in everything} == {f"wamid.m{i}" for i in range(1, 7)}
    failed = api_client.get(url, {"status": "failed", "campaign": world.campaign.pk}).json()
    assert [r["wamid"] for r in failed["results"]] == ["wamid.m3"]
    assert failed["results"][0]["error_code"] == 131026
    assert failed["results"][0]["error_meaning"].startswith("Undeliverable")
    by_phone = api_client.get(url, {"phone": world.contacts["c4"].phone}).json()["results"]
    assert {r["wamid"] for r in by_phone} == {"wamid.m4", "wamid.m5"}
    day = api_client.get(url, {"date_from": D.isoformat(), "date_to": D.isoformat()}).json()
    assert {r["wamid"] for r in day["results"]} == {f"wamid.m{i}" for i in range(1, 6)}
    page = api_client.get(url, {"limit": 2}).json()
    assert len(page["results"]) == 2 and page["next"] and "count" not in page
    assert api_client.get(url, {"status": "nope"}).status_code == 400
    assert api_client.get(url, {"date_from": "2026-03-10T10:00"}).status_code == 400


def test_inbound_report(api_client, make_user):
    world = build_world()
    api_client.force_authenticate(make_user("Analyst"))
    rows = api_client.get("/api/v1/reporting/inbound").json()["results"]
    assert [r["wamid"] for r in rows][:1] == [world.messages["i2"].wamid]
    buttons = api_client.get("/api/v1/reporting/inbound", {"type": "button"}).json()["results"]
    assert [(r["type"], r["text"]) for r in buttons] == [("button", "Buy now")]


def test_campaign_summary_report(api_client, make_user):
    world = build_world()
    analytics_rollup(days=[D, D + timedelta(days=1)])
    api_client.force_authenticate(make_user("Campaign manager"))
    body = api_client.get(f"/api/v1/reporting/campaigns/{world.campaign.pk}/summary").json()
    assert body["campaign"]["name"] == "Spring sale"
    assert body["total"]["sent"] == 2 and body["total"]["roi"] == 999.0
    assert body["errors"][0]["code"] == "131026"
    assert [d["day"] for d in body["days"]] == [D.isoformat(), (D + timedelta(days=1)).isoformat()]
    assert body["hourly_sent"][9] == 2
    assert api_client.get("/api/v1/reporting/campaigns/999/summary").status_code == 404


def test_dashboard_report(api_client, make_user):
    build_world()
    analytics_rollup(days=[D])
    api_client.force_authenticate(make_user("Analyst"))
    body = api_client.get("/api/v1/reporting/dashboard", {"range": "7"}).json()
    assert body["first"] == (NOW.date() - timedelta(days=6)).isoformat()
    assert len(body["days"]) == 7
    assert body["totals"]["sent"] == 4 and body["totals"]["revenue"] == "1200.00"
    assert body["today"]["day"] == NOW.date().isoformat()


def test_reporting_is_throttled_in_its_own_scope(api_client, make_user, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    from analytics.api.views import DashboardReportView, ReportingView

    # The test settings switch throttling off; put the production classes back for this view.
    monkeypatch.setattr(ReportingView, "throttle_classes", [ScopedRateThrottle])
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"reporting": "2/min"})
    assert DashboardReportView.throttle_scope == "reporting"
    cache.clear()
    api_client.force_authenticate(make_user("Analyst"))
    codes = [api_client.get("/api/v1/reporting/dashboard").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    cache.clear()


def test_the_schema_documents_the_endpoints(api_client, make_user):
    api_client.force_authenticate(make_user("Analyst"))
    response = api_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in [
        "/api/v1/conversions/",
        "/api/v1/reporting/messages/status",
        "/api/v1/reporting/campaigns/{id}/summary",
        "/api/v1/reporting/inbound",
        "/api/v1/reporting/dashboard",
    ]:
        assert path in paths, path
