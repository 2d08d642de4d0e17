"""crm API: contacts, tags, attributes, segments, advisors, imports."""

import pytest

from core.services import api_token_create
from crm.importing.jobs import import_job_run
from crm.models import Advisor, ConsentEvent, Contact, ImportJob, Tag
from tests.crm.conftest import upload
from tests.factories import AdvisorFactory, ContactFactory, SegmentFactory, TagFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(make_user, api_client):
    _, key = api_token_create(user=make_user("Campaign manager"), name="crm")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api_client


def test_contact_crud_and_filters(api, definitions, django_assert_max_num_queries):
    created = api.post(
        "/api/v1/contacts/",
        {
            "phone": "09812345678",
            "name": "Asha Zorawar",
            "tags": ["VIP", "newsletter"],
            "attributes": {"city": "Pune", "lifetime_orders": "7"},
            "consent": "opted_in",
            "consent_note": "checkout box",
        },
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["phone"] == "+919812345678" and body["tags"] == ["newsletter", "vip"]
    assert body["attributes"] == {"city": "Pune", "lifetime_orders": 7}
    assert body["consent"] == "opted_in" and body["is_advisor"] is False
    event = ConsentEvent.objects.get()
    assert (event.source, event.note) == ("api", "checkout box")

    clash = api.post("/api/v1/contacts/", {"phone": "+919812345678"})
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "contact_exists"
    bad = api.post("/api/v1/contacts/", {"phone": "12"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_phone"
    bad_attr = api.post("/api/v1/contacts/", {"phone": "+919812345679", "attributes": {"x": 1}})
    assert bad_attr.status_code == 400
    assert bad_attr.json()["error"]["details"] == {"x": "unknown attribute"}

    for i in range(20):
        contact = ContactFactory(consent="opted_out" if i % 2 else "opted_in")
        contact.tags.add(TagFactory(name="bulk"))
        if i % 4 == 0:
            AdvisorFactory(contact=contact)
    with django_assert_max_num_queries(8):
        listing = api.get("/api/v1/contacts/", {"limit": 100})
    assert listing.json()["count"] == 21
    assert api.get("/api/v1/contacts/", {"tag": "bulk"}).json()["count"] == 20
    assert api.get("/api/v1/contacts/", {"consent": "opted_out"}).json()["count"] == 10
    assert api.get("/api/v1/contacts/", {"advisor": "true"}).json()["count"] == 5
    assert api.get("/api/v1/contacts/", {"blocked": "false"}).json()["count"] == 21
    assert api.get("/api/v1/contacts/", {"search": "zorawar"}).json()["count"] == 1

    pk = body["id"]
    patched = api.patch(f"/api/v1/contacts/{pk}/", {"name": "Asha P", "blocked": True,
                                                     "tags": ["vip"]})  # fmt: skip
    assert patched.status_code == 200, patched.json()
    assert (patched.json()["name"], patched.json()["blocked"]) == ("Asha P", True)
    assert patched.json()["tags"] == ["vip"]
    # It has consent history (opted in at creation): deleting it is refused, erase instead.
    refused = api.delete(f"/api/v1/contacts/{pk}/")
    assert refused.status_code == 409, refused.json()
    assert refused.json()["error"]["code"] == "consent_history"
    assert f"/api/v1/contacts/{pk}/erase/" in refused.json()["error"]["message"]
    assert Contact.objects.filter(pk=pk).exists()
    plain = ContactFactory()
    assert api.delete(f"/api/v1/contacts/{plain.pk}/").status_code == 204
    assert not Contact.objects.filter(pk=plain.pk).exists()


def test_tags_and_attributes(api):
    created = api.post("/api/v1/tags/", {"name": " Diwali-2026 ", "color": "#ff8800"})
    assert created.status_code == 201 and created.json()["name"] == "diwali-2026"
    ContactFactory().tags.add(Tag.objects.get(name="diwali-2026"))
    assert api.get("/api/v1/tags/").json()["results"][0]["contact_count"] == 1

    ok = api.post("/api/v1/attributes/", {"key": "plan", "label": "Plan", "type": "choice",
                                          "choices": ["free", "pro"]})  # fmt: skip
    assert ok.status_code == 201, ok.json()
    no_choices = api.post("/api/v1/attributes/", {"key": "tier2", "label": "T", "type": "choice"})
    assert no_choices.status_code == 400
    reserved = api.post("/api/v1/attributes/", {"key": "phone", "label": "P", "type": "text"})
    assert reserved.status_code == 400


def test_segments_with_counts(api, django_assert_max_num_queries):
    ContactFactory.create_batch(3, consent="opted_in")
    ContactFactory(consent="opted_out")
    created = api.post(
        "/api/v1/segments/",
        {"name": "Opted in", "filter": {"consent": ["opted_in"]}},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["count"] == 3
    bad = api.post("/api/v1/segments/", {"name": "Bad", "filter": {"consent": ["x"]}},
                   format="json")  # fmt: skip
    assert bad.status_code == 400 and "consent" in bad.json()["error"]["details"]
    for i in range(10):
        SegmentFactory(filter={"consent": ["opted_out"]} if i % 2 else {})
    with django_assert_max_num_queries(6):
        listing = api.get("/api/v1/segments/", {"limit": 50}).json()
    assert {r["count"] for r in listing["results"]} == {1, 3, 4}
    pk = created.json()["id"]
    contacts = api.get(f"/api/v1/segments/{pk}/contacts/").json()
    assert contacts["count"] == 3
    renamed = api.patch(f"/api/v1/segments/{pk}/", {"name": "In"}, format="json")
    assert renamed.json()["name"] == "In" and renamed.json()["filter"] == {"consent": ["opted_in"]}


def test_advisors(api, django_assert_max_num_queries):
    created = api.post(
        "/api/v1/advisors/",
        {
            "phone": "+919812345678",
            "name": "Neha",
            "firm": "Acme",
            "region": "West",
            "tier": "gold",
            "content_preferences": ["Markets", "tax"],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["contact"]["name"] == "Neha" and body["content_preferences"] == ["markets", "tax"]
    pk = body["id"]
    disabled = api.post(f"/api/v1/advisors/{pk}/disable/", {"reason": "left"})
    assert disabled.json()["is_active"] is False and disabled.json()["disabled_reason"] == "left"
    assert api.post(f"/api/v1/advisors/{pk}/disable/", {}).status_code == 400
    assert api.post(f"/api/v1/advisors/{pk}/enable/").json()["is_active"] is True
    assert api.patch(f"/api/v1/advisors/{pk}/", {"tier": "silver"}).json()["tier"] == "silver"
    AdvisorFactory.create_batch(15, region="North")
    with django_assert_max_num_queries(8):
        listing = api.get("/api/v1/advisors/", {"region": "North", "limit": 100}).json()
    assert listing["count"] == 15
    assert api.get("/api/v1/advisors/", {"is_active": "true"}).json()["count"] == 16
    assert Advisor.objects.count() == 16


def test_imports_upload_status_and_error_report(api, definitions, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    response = api.post(
        "/api/v1/imports/",
        {
            "file": upload("c.csv", "phone,attr:city\n+919812345678,Pune\n=cmd,x\n"),
            "dry_run": "false",
        },
        format="multipart",
    )
    assert response.status_code == 202, response.json()
    job_id = response.json()["id"]
    assert response.json()["status"] == "pending"
    import_job_run(job_id=job_id)
    status = api.get(f"/api/v1/imports/{job_id}/").json()
    assert (status["status"], status["created_count"], status["error_count"]) == (
        "completed", 1, 1,
    )  # fmt: skip
    report = api.get(f"/api/v1/imports/{job_id}/errors.csv")
    assert report.status_code == 200 and report["Content-Type"].startswith("text/csv")
    body = b"".join(report.streaming_content).decode("utf-8-sig").splitlines()
    assert body == ["line,column,value,reason", "3,phone,'=cmd,invalid phone"]

    refused = api.post("/api/v1/imports/", {"file": upload("c.csv", "name\nx\n")},
                       format="multipart")  # fmt: skip
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_file"
    assert ImportJob.objects.count() == 1
    not_resumable = api.post(f"/api/v1/imports/{job_id}/resume/")
    assert not_resumable.status_code == 400
