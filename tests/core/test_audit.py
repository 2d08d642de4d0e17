"""The audit log (README "Audit log"; RELIABILITY.md, access): every listed action leaves an
event with the right actor (user or token), address and object; secrets never appear."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.audit import audit_record
from core.audit_context import audit_context_for
from core.models import ApiToken, AppendOnly, AuditEvent
from core.services import api_token_create, api_token_revoke
from crm.models import ImportJob
from tests.factories import ContactFactory, HealthSampleFactory, SegmentFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
ADDRESS = "203.0.113.9"


def last(action: str, **filters) -> AuditEvent:
    event = AuditEvent.objects.filter(action_name=action, **filters).order_by("-pk").first()
    assert event is not None, f"no {action} event; have {list(AuditEvent.objects.values())}"
    return event


def all_events_text() -> str:
    return json.dumps(list(AuditEvent.objects.values()), default=str)


@pytest.fixture
def staff(make_user):
    def sign_in(role="Admin", **kwargs):
        client = Client(REMOTE_ADDR=ADDRESS)
        user = make_user(role, **kwargs)
        client.force_login(user)
        client.user = user
        return client

    return sign_in


@pytest.fixture
def token_client(make_user):
    def make(role="Campaign manager", name="shop"):
        from rest_framework.test import APIClient

        token, key = api_token_create(user=make_user(role), name=name)
        client = APIClient(REMOTE_ADDR=ADDRESS)
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        client.token, client.key = token, key
        return client

    return make


# --- Model writes -------------------------------------------------------------------------


def test_a_token_write_through_the_api_records_the_token(token_client):
    api = token_client()
    response = api.post("/api/v1/contacts/", {"phone": "+919812345601", "name": "Asha"})
    assert response.status_code == 201, response.json()
    event = last("create", object_pk=str(response.json()["id"]))
    assert event.token_id == api.token.pk and event.actor_id == api.token.user_id
    assert event.actor_label.startswith("token shop (") and event.remote_addr == ADDRESS
    assert event.content_type.model == "contact"
    assert event.changes["name"] == [None, "Asha"]


def test_a_staff_edit_records_the_changed_fields_before_and_after(staff):
    client = staff("Campaign manager")
    contact = ContactFactory(name="Old name", phone="+919812345602")
    response = client.post(
        reverse("crm:contact_edit", args=[contact.pk]),
        {"phone": contact.phone, "name": "New name", "language": "en", "tags": ""},
    )
    assert response.status_code == 302
    event = last("update", object_pk=str(contact.pk))
    assert event.actor == client.user and event.token is None and event.remote_addr == ADDRESS
    assert event.changes["name"] == ["Old name", "New name"]


def test_the_systems_own_writes_are_not_recorded():
    contact = ContactFactory()
    contact.unread_count = 3
    contact.name = "by a worker"
    with CaptureQueriesContext(connection) as queries:
        contact.save()
    assert not AuditEvent.objects.filter(object_pk=str(contact.pk)).exists()
    # Nor is the stored row read back to diff it: the save is the save's one query.
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["UPDATE"]


# --- Named actions ------------------------------------------------------------------------


def test_contact_and_segment_exports_are_recorded(staff):
    client = staff("Analyst")
    ContactFactory.create_batch(2)
    assert client.get(reverse("crm:contact_export"), {"consent": "opted_in"}).status_code == 200
    event = last("export")
    assert event.actor == client.user and event.remote_addr == ADDRESS
    assert event.additional_data["what"] == "contacts"
    assert event.additional_data["filters"] == {"consent": "opted_in"}
    segment = SegmentFactory()
    assert client.get(reverse("crm:segment_export", args=[segment.pk])).status_code == 200
    event = last("export", object_pk=str(segment.pk))
    assert event.content_type.model == "segment" and event.actor == client.user


def test_analytics_and_admin_exports_are_recorded(staff):
    analyst = staff("Analyst")
    assert analyst.get(reverse("analytics:export", args=["segments"])).status_code == 200
    event = last("export")
    assert event.additional_data["what"] == "analytics segments" and event.actor == analyst.user
    admin = staff("Admin", username="boss")
    samples = HealthSampleFactory.create_batch(2)
    response = admin.post(
        reverse("admin:analytics_healthsample_changelist"),
        {"action": "export_csv", "_selected_action": [s.pk for s in samples]},
    )
    assert response.status_code == 200
    event = last("export", actor=admin.user)
    assert event.additional_data == {"what": "analytics.healthsample", "via": "admin", "rows": 2}
    assert event.remote_addr == ADDRESS


def test_an_import_started_by_a_token_is_recorded_and_so_is_its_error_export(
    token_client, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    api = token_client()
    upload = SimpleUploadedFile("people.csv", b"phone,name\n+919812345603,Ravi\nbad,Bad\n")
    response = api.post("/api/v1/imports/", {"file": upload}, format="multipart")
    assert response.status_code == 202, response.json()
    job = ImportJob.objects.get()
    event = last("import", object_pk=str(job.pk))
    assert event.token == api.token and event.remote_addr == ADDRESS
    assert event.additional_data["file"] == "people.csv"
    assert api.get(f"/api/v1/imports/{job.pk}/errors.csv").status_code == 200
    assert last("export", object_pk=str(job.pk)).token == api.token


def test_campaign_launch_pause_resume_and_cancel_are_recorded_with_the_token(token_client, channel):
    from crm.models import Tag
    from messaging.models import MessageTemplate

    api = token_client()
    vip = Tag.objects.create(name="vip")
    for contact in ContactFactory.create_batch(2):
        contact.tags.add(vip)
    template = MessageTemplate.objects.get(
        channel=channel, name="order_confirmation", language="en"
    )
    mapping = {
        "header": [{"source": "constant", "value": "#1"}],
        "body": [{"source": "field", "value": "name"}]
        + [{"source": "constant", "value": v} for v in ("#1", "₹1", "today")],
        "buttons": {"0": {"source": "constant", "value": "1"}},
    }
    created = api.post(
        "/api/v1/campaigns/",
        {
            "name": "Offer",
            "channel": channel.phone_number_id,
            "template": template.pk,
            "parameter_mapping": mapping,
            "tags": ["vip"],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    url = f"/api/v1/campaigns/{created.json()['id']}/"
    pk = str(created.json()["id"])
    assert last("create", object_pk=pk, content_type__model="campaign").token == api.token
    for step, action in (("launch", "launch"), ("pause", "pause"), ("resume", "resume"),
                         ("cancel", "cancel")):  # fmt: skip
        assert api.post(url + f"{step}/", format="json").status_code == 200
        event = last(action, object_pk=pk)
        assert event.token == api.token and event.remote_addr == ADDRESS
        assert event.content_type.model == "campaign"
    assert last("launch", object_pk=pk).additional_data["messages"] == 2
    assert last("cancel", object_pk=pk).additional_data["messages_cancelled"] == 2


def test_role_changes_are_recorded_from_either_side(make_user):
    admin = make_user("Admin", username="boss")
    user = make_user(username="newbie")
    analysts, managers = (
        Group.objects.get(name="Analyst"),
        Group.objects.get(name="Campaign manager"),
    )
    with audit_context_for(user=admin, address=ADDRESS):
        user.groups.add(analysts)
        managers.user_set.add(user)
        user.groups.remove(analysts)
    events = list(
        AuditEvent.objects.filter(action_name="role_change", object_pk=str(user.pk)).order_by("pk")
    )
    assert [e.additional_data for e in events] == [
        {"added": ["Analyst"], "removed": []},
        {"added": ["Campaign manager"], "removed": []},
        {"added": [], "removed": ["Analyst"]},
    ]
    assert all(e.actor == admin and e.remote_addr == ADDRESS for e in events)


def test_a_role_change_in_the_admin_is_recorded(staff, make_user):
    admin = staff("Admin", username="boss")
    user = make_user(username="newbie")
    analysts = Group.objects.get(name="Analyst")
    response = admin.post(
        reverse("admin:auth_user_change", args=[user.pk]),
        {
            "username": "newbie",
            "is_active": "on",
            "groups": [analysts.pk],
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    event = last("role_change", object_pk=str(user.pk))
    assert event.actor == admin.user and event.additional_data["added"] == ["Analyst"]


def test_token_creation_and_revocation_in_the_admin_are_recorded(staff, make_user):
    admin = staff("Admin", username="boss")
    owner = make_user("Analyst", username="reporting")
    response = admin.post(reverse("admin:core_apitoken_add"), {"user": owner.pk, "name": "bi"})
    assert response.status_code == 302
    token = ApiToken.objects.get(name="bi")
    created = last("token_created", object_pk=str(token.pk))
    assert created.actor == admin.user and created.remote_addr == ADDRESS
    assert created.additional_data["user"] == "reporting"
    response = admin.post(
        reverse("admin:core_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert response.status_code == 302
    revoked = last("token_revoked", object_pk=str(token.pk))
    assert revoked.actor == admin.user and revoked.remote_addr == ADDRESS


def test_sign_in_failed_sign_in_and_lock_out_are_recorded_without_the_password(make_user, settings):
    user = make_user("Agent", username="agent")
    client = Client(REMOTE_ADDR=ADDRESS)
    login = reverse("login")
    assert client.post(login, {"username": "agent", "password": PASSWORD}).status_code == 302
    signed_in = last("sign_in")
    assert signed_in.actor == user and signed_in.remote_addr == ADDRESS
    client = Client(REMOTE_ADDR=ADDRESS)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(login, {"username": "agent", "password": "hunter2-typo"})
    failed = last("sign_in_failed")
    assert failed.additional_data["username"] == "agent" and failed.remote_addr == ADDRESS
    assert failed.object_pk == str(user.pk) and failed.actor is None
    assert AuditEvent.objects.filter(action_name="sign_in_failed").count() == 5
    lockout = last("lockout")
    assert lockout.remote_addr == ADDRESS and lockout.additional_data["username"] == "agent"
    # Attempts refused during the lock-out are failed sign-ins, not new lock-outs.
    client.post(login, {"username": "agent", "password": "again"})
    assert AuditEvent.objects.filter(action_name="lockout").count() == 1
    assert last("sign_in_failed").additional_data["locked_out"] is True
    client.post(login, {"username": "nobody", "password": "x"})
    assert last("sign_in_failed").additional_data["username"] == "nobody"
    assert "hunter2" not in all_events_text() and PASSWORD not in all_events_text()


def test_backup_and_restore_commands_are_recorded(tmp_path, settings):
    settings.BACKUP_DIR = tmp_path
    ContactFactory()
    call_command("backup", "--output", str(tmp_path), stdout=io.StringIO())
    backup = last("backup")
    archive = backup.additional_data["archive"]
    assert backup.actor_label == "system" and (tmp_path / archive).exists()
    # Portable: the PostgreSQL schema swap runs in a session of its own, outside this test's
    # transaction (tests/integration/test_backup_atomic.py covers it, and its audit event).
    call_command(
        "restore", str(tmp_path / archive), "--force", "--method", "portable",
        stdout=io.StringIO(),
    )  # fmt: skip
    restore = last("restore")
    assert restore.additional_data["ok"] is True and restore.additional_data["archive"] == archive


def test_the_backup_job_and_download_are_recorded(staff, settings, tmp_path):
    settings.BACKUP_DIR = tmp_path
    call_command("backup", stdout=io.StringIO())
    archive = last("backup").additional_data["archive"]
    admin = staff("Admin", username="boss")
    response = admin.get(reverse("ops:backup_download", args=[archive]))
    assert response.status_code == 200
    event = last("export")
    assert event.additional_data == {"what": "backup", "archive": archive}
    assert event.actor == admin.user


# --- Secrets and append-only --------------------------------------------------------------


def test_secrets_never_appear_in_any_event(staff, make_user):
    admin = staff("Admin", username="boss")
    user = make_user("Agent", username="agent")
    with audit_context_for(user=admin.user, address=ADDRESS):
        token, key = api_token_create(user=user, name="hidden")
        api_token_revoke(token=token)
        user.set_password("a-new-secret-pass-99")
        user.save()
    audit_record("export", details={"password": "typed", "nested": {"api_key": "abc123xyz"}})
    text = all_events_text()
    for secret in (key, token.key_hash, user.password, "a-new-secret-pass-99", "abc123xyz"):
        assert secret not in text
    change = last("update", object_pk=str(user.pk), content_type__model="user")
    assert change.changes["password"] == ["[masked]", "[masked]"]


def test_events_cannot_be_changed_or_deleted(staff):
    event = audit_record("export", details={"what": "x"})
    event.object_repr = "tampered"
    with pytest.raises(AppendOnly):
        event.save()
    with pytest.raises(AppendOnly):
        event.delete()
    with pytest.raises(AppendOnly):
        AuditEvent.objects.filter(pk=event.pk).update(object_repr="tampered")
    with pytest.raises(AppendOnly):
        AuditEvent.objects.all().delete()
    admin = staff("Admin", username="boss")
    page = admin.get(reverse("admin:core_auditevent_change", args=[event.pk]))
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert admin.get(reverse("admin:core_auditevent_add")).status_code == 403
    assert admin.post(reverse("admin:core_auditevent_delete", args=[event.pk])).status_code == 403


# --- Retention ----------------------------------------------------------------------------


def test_the_nightly_purge_removes_events_past_retention_in_batches(settings, monkeypatch):
    from analytics.ops import retention

    settings.AUDIT_RETENTION_DAYS = 30
    monkeypatch.setattr(retention, "BATCH", 2)
    old = [audit_record("export", details={"n": i}) for i in range(5)]
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {AuditEvent._meta.db_table} SET timestamp = %s WHERE id IN "
            f"({', '.join(str(e.pk) for e in old)})",
            [timezone.now() - timedelta(days=31)],
        )
    recent = audit_record("export", details={"n": "recent"})
    counts = retention.data_purge()
    assert counts["audit_events"] == 5
    assert list(AuditEvent.objects.values_list("pk", flat=True)) == [recent.pk]
