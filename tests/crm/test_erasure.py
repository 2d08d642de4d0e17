"""Erasure keeps the proof: the person's data goes, the consent history and the opt-out stay.

Covers crm.services.contact_erase / contact_delete, crm.identity (the one home of "is this
number known to have opted out") and every path that creates a contact asking it.
"""

import json
import os
import time

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.db_guards import append_only_maintenance
from core.errors import Conflict
from core.services import api_token_create
from crm.identity import erased_opt_out_find, identity_hash
from crm.importing.jobs import import_job_create, import_job_run
from crm.models import (
    Consent,
    ConsentEvent,
    ConsentEventImmutable,
    ConsentSource,
    Contact,
    ImportJob,
    ImportRowError,
)
from crm.selectors import contact_data_export, contact_resolve
from crm.services import (
    consent_set,
    contact_create,
    contact_delete,
    contact_erase,
    contact_merge,
    contact_update,
)
from messaging.links.models import LinkClick, TrackedLink
from messaging.models import ConversationEvent, Message, MessageStatusEvent
from tests.crm.conftest import upload
from tests.factories import (
    AdvisorFactory,
    ChannelFactory,
    ContactFactory,
    ConversationFactory,
    MessageFactory,
    OpsWebhookEventFactory,
    TagFactory,
)
from tests.messaging.webhooks.support import messages_payload, process, text_message

pytestmark = pytest.mark.django_db

PHONE = "+919812345678"


def _opted_out_contact(**kwargs) -> Contact:
    contact = ContactFactory(phone=PHONE, consent=Consent.UNKNOWN, **kwargs)
    consent_set(contact=contact, consent=Consent.OPTED_OUT, source=ConsentSource.KEYWORD,
                note="STOP")  # fmt: skip
    return contact


# --- Consent events are append-only, down to the database ---------------------------------------


def test_consent_event_update_and_delete_refused_in_python():
    contact = _opted_out_contact()
    events = ConsentEvent.objects.filter(contact=contact)
    with pytest.raises(ConsentEventImmutable):
        events.update(consent=Consent.OPTED_IN)
    with pytest.raises(ConsentEventImmutable):
        events.delete()
    with pytest.raises(ConsentEventImmutable):
        events.get().delete()
    assert events.get().consent == Consent.OPTED_OUT


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE crm_consentevent SET consent = 'opted_in'",
        "UPDATE crm_consentevent SET note = 'rewritten'",
        "UPDATE crm_consentevent SET created_at = created_at",  # unchanged: allowed below
        "DELETE FROM crm_consentevent",
    ],
)
def test_consent_event_raw_sql_refused_by_the_database(sql):
    contact = _opted_out_contact()
    before = list(ConsentEvent.objects.filter(contact=contact).values())
    if "created_at = created_at" in sql:  # a no-op UPDATE changes no fact: the trigger lets it be
        with connection.cursor() as cursor:
            cursor.execute(sql)
        return
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert list(ConsentEvent.objects.filter(contact=contact).values()) == before


def test_deleting_a_contact_with_consent_history_is_refused():
    contact = _opted_out_contact()
    with pytest.raises(Conflict) as refused:
        contact_delete(contact=contact)
    assert refused.value.code == "consent_history" and "erase" in refused.value.message
    with pytest.raises(Exception, match=r"protected|append-only"), transaction.atomic():
        Contact.objects.filter(pk=contact.pk).delete()  # bulk delete: PROTECT stops it
    assert ConsentEvent.objects.filter(contact=contact).count() == 1
    plain = ContactFactory()
    contact_delete(contact=plain)
    assert not Contact.objects.filter(pk=plain.pk).exists()


def test_merge_still_moves_consent_events_and_maintenance_may_empty_them():
    keep, dup = ContactFactory(consent=Consent.UNKNOWN), _opted_out_contact()
    contact_merge(keep=keep, duplicate=dup)
    assert ConsentEvent.objects.filter(contact=keep, source=ConsentSource.KEYWORD).count() == 1
    with append_only_maintenance(), connection.cursor() as cursor:  # flush and restore only
        cursor.execute("DELETE FROM crm_consentevent")
    assert not ConsentEvent.objects.exists()
    with pytest.raises(IntegrityError), transaction.atomic():  # the door closed again
        consent_set(contact=keep, consent=Consent.OPTED_IN, source=ConsentSource.STAFF)
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM crm_consentevent")


# --- Erasure ------------------------------------------------------------------------------------


@pytest.fixture
def person(settings, tmp_path):
    """A contact with everything Parley can hold about a person."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    settings.MEDIA_ROOT = tmp_path / "media"
    contact = _opted_out_contact(name="Asha Rao", profile_name="Asha", bsuid="IN.bsuid.1",
                                 attributes={}, language="hi")  # fmt: skip
    contact.tags.add(TagFactory(name="vip"))
    AdvisorFactory(contact=contact)
    channel = ChannelFactory()
    conversation = ConversationFactory(contact=contact, channel=channel)
    ConversationEvent.objects.create(conversation=conversation, kind="assigned", note="VIP, call")
    image = MessageFactory(contact=contact, channel=channel, conversation=conversation,
                           direction="in", type="image", content={"caption": "my passport"},
                           wamid="wamid.in.1", wa_id="919812345678")  # fmt: skip
    image.media_file.save("passport.jpg", ContentFile(b"jpeg"), save=True)
    MessageStatusEvent.objects.create(message=image, wamid="wamid.in.1", status="read",
                                      timestamp=timezone.now(),
                                      raw={"recipient_id": "919812345678"})  # fmt: skip
    link = TrackedLink.objects.create(token="t1", url="https://example.com/x", contact=contact)
    LinkClick.objects.create(link=link, user_agent="Mozilla/5.0 Asha's phone", ip_hash="abc")
    webhook = OpsWebhookEventFactory(body=json.dumps({"from": "919812345678"}),
                                     state="processed")  # fmt: skip
    return {"contact": contact, "image": image, "webhook": webhook, "file": image.media_file.name}


def test_erase_removes_the_person_and_keeps_the_consent_history(
    person, django_capture_on_commit_callbacks
):
    contact = person["contact"]
    assert default_storage.exists(person["file"])
    with django_capture_on_commit_callbacks(execute=True):  # files go once it commits
        removed = contact_erase(contact=contact)
    contact.refresh_from_db()
    assert contact.erased_at is not None and contact.blocked
    assert (contact.phone, contact.wa_id, contact.bsuid) == (None, None, None)
    assert (contact.name, contact.profile_name, contact.language) == ("", "", "")
    assert contact.attributes == {} and not contact.tags.exists()
    assert not hasattr(Contact.objects.get(pk=contact.pk), "advisor")
    assert contact.phone_hash == identity_hash("phone", PHONE)
    assert contact.bsuid_hash == identity_hash("bsuid", "IN.bsuid.1")
    assert contact.consent == Consent.OPTED_OUT
    assert ConsentEvent.objects.filter(contact=contact, note="STOP").count() == 1

    image = Message.objects.get(pk=person["image"].pk)
    assert image.content == {} and not image.media_file and image.wa_id == ""
    assert image.redacted_at is not None and image.wamid == "wamid.in.1"  # metadata stays
    assert MessageStatusEvent.objects.get(message=image).raw == {}
    assert not default_storage.exists(person["file"])
    assert ConversationEvent.objects.get(kind="assigned").note == ""
    assert LinkClick.objects.get().user_agent == ""
    assert not type(person["webhook"]).objects.filter(pk=person["webhook"].pk).exists()
    assert removed["messages"] == 1 and removed["media_files"] == 1
    assert removed["webhook_events"] == 1 and removed["tags"] == 1

    with pytest.raises(Conflict):
        contact_erase(contact=contact)


def test_export_holds_everything_and_then_nothing_personal(person):
    data = contact_data_export(person["contact"])
    json.dumps(data)  # JSON-ready
    assert data["contact"]["phone"] == PHONE and data["tags"] == ["vip"]
    assert data["consent_history"][0]["note"] == "STOP"
    assert data["messages"][0]["content"] == {"caption": "my passport"}
    assert data["conversations"][0]["events"][0]["note"] == "VIP, call"
    assert data["link_clicks"][0]["clicks"][0]["user_agent"].startswith("Mozilla")
    assert "conversions" in data and data["advisor"] is not None
    contact_erase(contact=person["contact"])
    after = json.dumps(contact_data_export(person["contact"]))
    for secret in ("Asha", PHONE, "919812345678", "passport", "VIP, call", "Mozilla"):
        assert secret not in after


# --- An opted-out number stays opted out -----------------------------------------------------


def _erased_opt_out() -> Contact:
    contact = _opted_out_contact()
    contact_erase(contact=contact)
    return contact


def _erased_event(contact: Contact) -> ConsentEvent:
    return ConsentEvent.objects.get(contact=contact, consent=Consent.OPTED_OUT)


def test_api_create_of_an_erased_number_starts_opted_out():
    erased = _erased_opt_out()
    contact = contact_create(phone="98123 45678", consent=Consent.OPTED_IN)
    assert contact.consent == Consent.OPTED_OUT
    event = _erased_event(contact)
    assert event.source == ConsentSource.ERASED and f"#{erased.pk}" in event.note
    assert erased_opt_out_find(phone=PHONE) == erased


def test_an_opted_in_erased_number_is_not_blocked():
    contact = ContactFactory(phone=PHONE, consent=Consent.OPTED_IN)
    contact_erase(contact=contact)
    assert contact_create(phone=PHONE).consent == Consent.UNKNOWN


def test_webhook_from_an_erased_number_starts_opted_out():
    erased = _erased_opt_out()
    ChannelFactory()
    process(messages_payload(text_message("wamid.back.1", "hello again", int(time.time()))))
    contact = Contact.objects.get(wa_id="919812345678")
    assert contact.pk != erased.pk and contact.consent == Consent.OPTED_OUT
    assert f"#{erased.pk}" in _erased_event(contact).note


def test_resolving_a_bsuid_of_an_erased_contact_starts_opted_out():
    contact = ContactFactory(phone=None, wa_id=None, bsuid="IN.abc", consent=Consent.UNKNOWN)
    consent_set(contact=contact, consent=Consent.OPTED_OUT, source=ConsentSource.META)
    contact_erase(contact=contact)
    again = contact_resolve(bsuid="IN.abc", create=True)
    assert again.pk != contact.pk and again.consent == Consent.OPTED_OUT


def test_changing_a_phone_to_an_erased_number_opts_out():
    _erased_opt_out()
    contact = ContactFactory(consent=Consent.OPTED_IN)
    contact_update(contact=contact, phone=PHONE)
    contact.refresh_from_db()
    assert contact.consent == Consent.OPTED_OUT


def test_csv_import_of_an_erased_number_starts_opted_out(media_root):
    erased = _erased_opt_out()
    csv = "phone,name,consent\n+919812345678,Asha,opted_in\n+919812345679,Ravi,opted_in\n"
    job = import_job_create(upload=upload("c.csv", csv))
    import_job_run(job_id=job.pk)
    back = Contact.objects.get(phone=PHONE)
    other = Contact.objects.get(phone="+919812345679")
    assert back.consent == Consent.OPTED_OUT and other.consent == Consent.OPTED_IN
    event = _erased_event(back)
    assert event.source == ConsentSource.IMPORT and f"erased contact #{erased.pk}" in event.note


def test_erasure_removes_finished_import_files_that_mention_the_number(
    media_root, django_capture_on_commit_callbacks
):
    csv = "phone,name,consent\n+919812345678,Asha,opted_out\n+919812345679,Ravi,bad\n"
    job = import_job_create(upload=upload("c.csv", csv))
    import_job_run(job_id=job.pk)
    job.refresh_from_db()
    path = job.file.path
    assert ImportRowError.objects.filter(job=job).count() == 1  # Ravi's line, not Asha's
    with django_capture_on_commit_callbacks(execute=True):
        contact_erase(contact=Contact.objects.get(phone=PHONE))
    job.refresh_from_db()
    assert job.file.name == "" and job.created_count == 1
    assert ImportRowError.objects.filter(job=job).count() == 1
    assert not os.path.exists(path)


def test_erased_contact_cannot_be_edited_or_merged():
    erased = _erased_opt_out()
    with pytest.raises(Exception, match="erased"):
        contact_update(contact=erased, name="Back")
    with pytest.raises(Exception, match="erased"):
        contact_merge(keep=ContactFactory(), duplicate=erased)
    assert ImportJob.objects.count() == 0


def test_hash_key_setting_changes_the_hash(settings):
    first = identity_hash("phone", PHONE)
    settings.ERASURE_HASH_KEY = "another-key"
    assert identity_hash("phone", PHONE) != first and len(first) == 64


# --- API and staff pages ---------------------------------------------------------------------


def _api(api_client, user):
    _, key = api_token_create(user=user, name="t")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api_client


@pytest.mark.parametrize("role", ["Campaign manager", "Content reviewer", "Agent", "Analyst"])
def test_only_admins_may_erase(api_client, client, make_user, role):
    contact = _opted_out_contact()
    user = make_user(role)
    assert _api(api_client, user).post(f"/api/v1/contacts/{contact.pk}/erase/").status_code == 403
    client.force_login(user)
    page = f"/staff/contacts/{contact.pk}/erase/"
    assert client.post(page, {"confirm": "ERASE"}).status_code == 403
    contact.refresh_from_db()
    assert contact.erased_at is None


@pytest.mark.parametrize("role", ["Content reviewer", "Agent"])
def test_roles_without_export_may_not_export_one_person(api_client, client, make_user, role):
    contact = ContactFactory()
    user = make_user(role)
    assert _api(api_client, user).get(f"/api/v1/contacts/{contact.pk}/export/").status_code == 403
    client.force_login(user)
    assert client.get(f"/staff/contacts/{contact.pk}/export.json").status_code == 403


def test_admin_erases_through_the_api_and_exports(api_client, admin_user):
    contact = _opted_out_contact()
    api = _api(api_client, admin_user)
    exported = api.get(f"/api/v1/contacts/{contact.pk}/export/")
    assert exported.status_code == 200 and exported.json()["contact"]["phone"] == PHONE
    erased = api.post(f"/api/v1/contacts/{contact.pk}/erase/")
    assert erased.status_code == 200, erased.json()
    assert erased.json()["contact"]["phone"] is None and erased.json()["contact"]["erased_at"]
    again = api.post(f"/api/v1/contacts/{contact.pk}/erase/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_erased"


def test_staff_erase_needs_the_typed_confirmation(client, admin_user):
    contact = _opted_out_contact()
    client.force_login(admin_user)
    page = f"/staff/contacts/{contact.pk}/erase/"
    assert b"Type ERASE" in client.get(page).content
    assert client.post(page, {"confirm": "erase"}).status_code == 200  # form error
    contact.refresh_from_db()
    assert contact.erased_at is None
    response = client.post(page, {"confirm": "ERASE"})
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.erased_at is not None
    detail = client.get(f"/staff/contacts/{contact.pk}/")
    assert b'data-testid="erased"' in detail.content and PHONE.encode() not in detail.content


def test_admin_delete_of_a_contact_with_consent_history_is_refused(client, admin_user):
    contact = _opted_out_contact()
    client.force_login(admin_user)
    response = client.post(f"/admin/crm/contact/{contact.pk}/delete/", {"post": "yes"})
    assert response.status_code == 200 and b"Cannot delete contact" in response.content
    assert b"erase the contact instead" in response.content
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_erasure_and_export_are_audited_and_past_events_forget_the_person(
    api_client, client, admin_user
):
    from core.models import AuditAction, AuditEvent

    contact = _opted_out_contact(name="Priya Raman")
    advisor = AdvisorFactory(contact=contact)
    client.force_login(admin_user)
    api = _api(api_client, admin_user)
    edited = api.patch(f"/api/v1/contacts/{contact.pk}/", {"name": "Priya R."}, format="json")
    assert edited.status_code == 200, edited.json()
    assert AuditEvent.objects.filter(action_name="update", object_pk=str(contact.pk)).exists()

    assert api.get(f"/api/v1/contacts/{contact.pk}/export/").status_code == 200
    assert client.get(f"/staff/contacts/{contact.pk}/export.json").status_code == 200
    assert api.post(f"/api/v1/contacts/{contact.pk}/erase/").status_code == 200

    about = AuditEvent.objects.filter(object_pk__in=[str(contact.pk), str(advisor.pk)])
    assert about.filter(action_name=AuditAction.EXPORT).count() == 2
    erase = about.get(action_name=AuditAction.ERASE)
    assert erase.actor == admin_user and erase.token_id is not None
    # The advisor profile went; the update and both exports about the contact were blanked.
    assert erase.additional_data["advisor_profile"] == 1
    assert erase.additional_data["audit_events_redacted"] == 3
    everything = json.dumps(
        [[e.object_repr, e.changes, e.additional_data] for e in AuditEvent.objects.all()]
    )
    assert "Priya" not in everything and PHONE not in everything
    assert PHONE.lstrip("+") not in everything
    update = about.filter(action_name="update").first()
    assert update.changes["name"] == ["[erased]", "[erased]"]
    assert update.object_repr == f"Erased contact #{contact.pk}"
