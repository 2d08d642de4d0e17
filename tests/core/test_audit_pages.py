"""`/staff/audit/` and `GET /api/v1/audit-events/`: Admins only, filters, bad filters refused
cleanly, before/after shown, CSV export formula-safe and itself audited, no write method."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from core.audit import audit_record
from core.audit_context import audit_context_for
from core.models import AuditEvent
from core.roles import ROLE_NAMES
from core.services import api_token_create
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

BAD_FILTERS = [
    {"date_from": "0001-01-01"},
    {"date_to": "9999-12-31"},
    {"date_from": "2026-02-30"},
    {"date_from": "2026-03-02", "date_to": "2026-03-01"},
    {"action": "drop_tables"},
    {"object_type": "nope.nothing"},
    {"object_type": "crm"},
    {"actor": "a\x00b"},
    {"object_id": "9" * 80},
]


@pytest.fixture
def events(make_user):
    admin = make_user("Admin", username="boss")
    contact = ContactFactory(name='=HYPERLINK("http://evil")')
    with audit_context_for(user=admin, address="203.0.113.9"):
        contact.name = "Renamed"
        contact.save()
        audit_record("export", details={"what": "contacts"})
    audit_record("backup", details={"archive": "a.tar.gz"})
    return {"admin": admin, "contact": contact}


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_page_shows_events_with_their_changed_fields(events):
    response = admin_client(events["admin"]).get(reverse("staff:audit"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "boss" in html and "203.0.113.9" in html
    assert "Renamed" in html and "HYPERLINK" in html  # before and after
    assert html.count('data-testid="audit-event"') == AuditEvent.objects.count()


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"action": "backup"}, {"backup"}),
        ({"actor": "boss"}, {"update", "export", "sign_in"}),  # sign_in: force_login
        ({"object_type": "crm.contact"}, {"update"}),
        ({"date_from": "2000-01-01", "date_to": "2100-12-31"}, None),
        ({"date_to": "2001-01-01"}, set()),
    ],
)
def test_the_page_filters(events, query, expected):
    response = admin_client(events["admin"]).get(reverse("staff:audit"), query)
    if expected is None:
        expected = set(AuditEvent.objects.values_list("action_name", flat=True))
    assert {e.action_name for e in response.context["page"]} == expected


def test_the_page_filters_by_object_id(events):
    pk = str(events["contact"].pk)
    response = admin_client(events["admin"]).get(
        reverse("staff:audit"), {"object_type": "crm.contact", "object_id": pk}
    )
    assert [e.object_pk for e in response.context["page"]] == [pk]


@pytest.mark.parametrize("query", BAD_FILTERS)
def test_bad_filters_are_a_form_error_on_the_page_and_a_400_in_the_api(events, query):
    response = admin_client(events["admin"]).get(reverse("staff:audit"), query)
    if any("\x00" in value for value in query.values()):
        # A NUL anywhere in a query string is refused before any view (QueryStringNulMiddleware).
        assert response.status_code == 400
    else:
        assert response.status_code == 200 and response.context["form"].errors
        assert 'data-testid="audit-form-error"' in response.content.decode()
    assert (
        admin_client(events["admin"]).get(reverse("staff:audit_export"), query).status_code == 400
    )
    _, key = api_token_create(user=events["admin"], name="ops")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = api.get("/api/v1/audit-events/", query)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] in ("invalid", "invalid_parameter")  # NUL: middleware


def test_the_csv_export_is_formula_safe_filtered_and_audited(events):
    client = admin_client(events["admin"])
    response = client.get(reverse("staff:audit_export"), {"object_type": "crm.contact"})
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["action"] for r in rows] == ["update"]
    assert rows[0]["changes"].startswith("{")  # JSON, not a formula
    hostile = ContactFactory(name="=1+1")
    audit_record("erase", obj=hostile)
    response = client.get(reverse("staff:audit_export"), {"action": "erase"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0]["object"].startswith("'=1+1")
    exported = AuditEvent.objects.filter(action_name="export").order_by("-pk")[1]
    assert exported.actor == events["admin"]
    assert exported.additional_data == {
        "what": "audit log",
        "filters": {"object_type": "crm.contact"},
    }


@pytest.mark.parametrize("role", [r for r in ROLE_NAMES if r != "Admin"] + [None])
def test_only_admins_reach_the_page_the_export_and_the_api(events, make_user, role):
    user = make_user(role, username=f"user-{role or 'none'}".replace(" ", "-"))
    client = admin_client(user)
    assert client.get(reverse("staff:audit")).status_code == 403
    assert client.get(reverse("staff:audit_export")).status_code == 403
    _, key = api_token_create(user=user, name="x")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/audit-events/").status_code == 403
    # Not in their navigation either.
    home = client.get(reverse("staff:home"))
    assert reverse("staff:audit") not in home.content.decode()


def test_anonymous_is_sent_to_sign_in_and_the_api_answers_401(events):
    response = Client().get(reverse("staff:audit"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert APIClient().get("/api/v1/audit-events/").status_code == 401


def test_admins_see_it_in_the_navigation(events):
    home = admin_client(events["admin"]).get(reverse("staff:home"))
    assert reverse("staff:audit") in home.content.decode()


def test_the_api_lists_filters_paginates_and_has_no_write_method(events):
    _, key = api_token_create(user=events["admin"], name="siem")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    body = api.get("/api/v1/audit-events/", {"limit": 2}).json()
    assert body["count"] >= 3 and len(body["results"]) == 2 and body["next"]
    update = api.get("/api/v1/audit-events/", {"action": "update"}).json()["results"]
    assert len(update) == 1
    event = update[0]
    assert event["actor"] == "boss" and event["address"] == "203.0.113.9"
    assert event["object_type"] == "crm.contact" and event["changes"]["name"][1] == "Renamed"
    for method in ("post", "put", "patch", "delete"):
        assert getattr(api, method)("/api/v1/audit-events/").status_code == 405


def test_the_api_is_documented_in_the_schema(admin_user):
    client = admin_client(admin_user)
    schema = client.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/audit-events/"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"actor", "action", "object_type", "object_id", "date_from", "date_to"} <= names
