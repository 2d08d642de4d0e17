"""Consent audit: every path that changes consent leaves a ConsentEvent, and none edits it
directly; events are append-only."""

import pytest
from django.urls import reverse

from core.services import api_token_create
from crm.admin import ContactAdminForm
from crm.importing.jobs import import_job_create, import_job_run
from crm.models import ConsentEvent, Contact
from crm.services import consent_set, contact_create, contact_merge, contact_update
from tests.crm.conftest import upload
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def events(contact):
    return list(
        ConsentEvent.objects.filter(contact=contact)
        .order_by("created_at", "id")
        .values_list("previous", "consent", "source")
    )


def test_consent_set_records_the_change_and_skips_no_ops(make_user):
    contact = ContactFactory(consent="unknown")
    user = make_user("Agent")
    event = consent_set(contact=contact, consent="opted_in", source="staff", actor=user,
                        note="asked")  # fmt: skip
    assert (event.previous, event.consent, event.actor, event.note) == (
        "unknown", "opted_in", user, "asked",
    )  # fmt: skip
    assert consent_set(contact=contact, consent="opted_in", source="staff") is None
    contact.refresh_from_db()
    assert contact.consent == "opted_in" and contact.consent_updated_at == event.created_at


def test_creating_with_consent_records_it():
    contact = contact_create(phone="+919812345678", consent="opted_in", consent_source="api")
    assert events(contact) == [("unknown", "opted_in", "api")]
    quiet = contact_create(phone="+919812345679")
    assert events(quiet) == [] and quiet.consent == "unknown"


def test_contact_update_cannot_change_consent():
    contact = ContactFactory(consent="opted_in")
    with pytest.raises(Exception, match="Cannot change consent"):
        contact_update(contact=contact, consent="opted_out")


def test_the_staff_page_changes_consent_through_the_service(client, make_user):
    contact = ContactFactory(consent="unknown")
    client.force_login(make_user("Agent"))
    url = reverse("crm:contact_consent", args=[contact.pk])
    response = client.post(url, {"consent": "opted_out", "note": "called us"})
    assert response.status_code == 302
    assert events(contact) == [("unknown", "opted_out", "staff")]
    assert ConsentEvent.objects.get().note == "called us"
    # A reason is required.
    client.post(url, {"consent": "opted_in", "note": ""})
    assert len(events(contact)) == 1


def test_the_api_changes_consent_through_the_service(api_client, make_user):
    contact = ContactFactory(consent="unknown")
    _, key = api_token_create(user=make_user("Agent"), name="crm")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = api_client.post(
        f"/api/v1/contacts/{contact.pk}/consent/", {"consent": "opted_in", "reason": "form"}
    )
    assert response.status_code == 200, response.json()
    assert response.json()["consent"] == "opted_in"
    assert events(contact) == [("unknown", "opted_in", "api")]
    # Updating details cannot touch consent.
    response = api_client.patch(f"/api/v1/contacts/{contact.pk}/", {"consent": "opted_out"})
    assert response.status_code == 400
    assert "consent" in response.json()["error"]["details"]
    history = api_client.get(f"/api/v1/contacts/{contact.pk}/consent-history/").json()
    assert [e["consent"] for e in history] == ["opted_in"]


def test_admin_actions_change_consent_through_the_service(client, make_user):
    contacts = [ContactFactory(consent="unknown"), ContactFactory(consent="opted_in")]
    client.force_login(make_user("Admin", is_superuser=True))
    response = client.post(
        reverse("admin:crm_contact_changelist"),
        {"action": "opt_out", "_selected_action": [c.pk for c in contacts]},
    )
    assert response.status_code == 302
    for contact in contacts:
        assert events(contact)[-1][1:] == ("opted_out", "staff")


def test_the_admin_form_has_no_consent_field():
    assert "consent" not in ContactAdminForm.base_fields
    assert "consent_updated_at" not in ContactAdminForm.base_fields


def test_an_import_records_consent_in_bulk(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    existing = ContactFactory(phone="+919812345678", consent="opted_in")
    job = import_job_create(
        upload=upload("c.csv", "phone,consent\n+919812345678,out\n+919812345679,yes\n")
    )
    import_job_run(job_id=job.pk)
    new = Contact.objects.get(phone="+919812345679")
    assert events(existing) == [("opted_in", "opted_out", "import")]
    assert events(new) == [("unknown", "opted_in", "import")]


def test_merge_keeps_history_and_records_a_newer_decision():
    keep = ContactFactory(consent="unknown")
    dup = ContactFactory(consent="unknown")
    consent_set(contact=dup, consent="opted_out", source="keyword")
    contact_merge(keep=keep, duplicate=dup)
    assert events(keep) == [("unknown", "opted_out", "keyword"), ("unknown", "opted_out", "merge")]
    keep.refresh_from_db()
    assert keep.consent == "opted_out"


def test_consent_events_are_append_only(client, make_user):
    contact = ContactFactory(consent="unknown")
    event = consent_set(contact=contact, consent="opted_in", source="staff")
    event.note = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    client.force_login(make_user("Admin", is_superuser=True))
    change = client.get(reverse("admin:crm_consentevent_change", args=[event.pk]))
    assert change.status_code == 200 and b'name="note"' not in change.content
    delete = client.post(reverse("admin:crm_consentevent_delete", args=[event.pk]), {"post": "yes"})
    assert delete.status_code == 403
    assert ConsentEvent.objects.filter(pk=event.pk).exists()
    assert client.get(reverse("admin:crm_consentevent_add")).status_code == 403


def test_the_contact_page_shows_the_history(client, make_user):
    contact = ContactFactory(consent="unknown")
    consent_set(contact=contact, consent="opted_in", source="api", note="signup form")
    client.force_login(make_user("Agent"))
    page = client.get(reverse("crm:contact_detail", args=[contact.pk]))
    assert b"signup form" in page.content and b"API" in page.content
