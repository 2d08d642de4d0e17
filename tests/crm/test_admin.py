"""The crm admin: every page renders, uploads go through the import service, advisors are
disabled with a reason."""

import pytest
from django.urls import reverse

from crm.models import Advisor, ImportJob
from crm.services import consent_set
from tests.crm.conftest import upload
from tests.factories import (
    AdvisorFactory,
    AttributeDefinitionFactory,
    ContactFactory,
    SegmentFactory,
    TagFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, make_user):
    client.force_login(make_user("Admin", is_superuser=True))
    return client


def test_every_crm_admin_page_renders(admin_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    contact = ContactFactory(consent="unknown")
    consent_set(contact=contact, consent="opted_in", source="staff")
    contact.tags.add(TagFactory())
    objects = {
        "contact": contact,
        "tag": contact.tags.get(),
        "consentevent": contact.consent_events.get(),
        "attributedefinition": AttributeDefinitionFactory(),
        "segment": SegmentFactory(filter={"consent": ["opted_in"]}),
        "advisor": AdvisorFactory(),
        "importjob": ImportJob.objects.create(
            original_name="x.csv", format="csv", file="imports/x.csv"
        ),
    }
    for name, obj in objects.items():
        changelist = admin_client.get(reverse(f"admin:crm_{name}_changelist"))
        assert changelist.status_code == 200, name
        change = admin_client.get(reverse(f"admin:crm_{name}_change", args=[obj.pk]))
        assert change.status_code == 200, name
    for name in ("contact", "tag", "attributedefinition", "segment", "advisor"):
        assert admin_client.get(reverse(f"admin:crm_{name}_add")).status_code == 200, name


def test_admin_contact_form_validates_phone_and_attributes(admin_client):
    AttributeDefinitionFactory(key="city")
    url = reverse("admin:crm_contact_add")
    bad = admin_client.post(url, {"phone": "12", "attributes": '{"shoe": 1}'})
    assert bad.status_code == 200
    errors = bad.context["adminform"].form.errors
    assert "phone" in errors and "attributes" in errors
    ok = admin_client.post(url, {"phone": "09812345678", "attributes": '{"city": "Pune"}',
                                 "consent_events-TOTAL_FORMS": "0",
                                 "consent_events-INITIAL_FORMS": "0"})  # fmt: skip
    assert ok.status_code == 302
    contact = ContactFactory._meta.model.objects.get(phone="+919812345678")
    assert contact.attributes == {"city": "Pune"} and contact.consent == "unknown"


def test_admin_segment_filter_is_validated(admin_client):
    url = reverse("admin:crm_segment_add")
    bad = admin_client.post(url, {"name": "X", "filter": '{"consent": ["maybe"]}'})
    assert bad.status_code == 200 and "filter" in bad.context["adminform"].form.errors


def test_admin_upload_creates_a_job(admin_client, settings, tmp_path,
                                    django_capture_on_commit_callbacks):  # fmt: skip
    settings.MEDIA_ROOT = tmp_path
    assert admin_client.get(reverse("admin:crm_importjob_add")).status_code == 302
    page = reverse("admin:crm_import_upload")
    assert admin_client.get(page).status_code == 200
    refused = admin_client.post(page, {"file": upload("x.csv", "name\nx\n")})
    assert refused.status_code == 200 and b"phone" in refused.content
    with django_capture_on_commit_callbacks() as callbacks:
        done = admin_client.post(page, {"file": upload("x.csv", "phone\n+919812345678\n")})
    assert done.status_code == 302 and len(callbacks) == 1
    assert ImportJob.objects.get().original_name == "x.csv"


def test_admin_disable_action_asks_for_a_reason(admin_client):
    advisors = AdvisorFactory.create_batch(2)
    url = reverse("admin:crm_advisor_changelist")
    ids = [a.pk for a in advisors]
    ask = admin_client.post(url, {"action": "disable", "_selected_action": ids})
    assert ask.status_code == 200 and b"reason" in ask.content
    done = admin_client.post(
        url, {"action": "disable", "_selected_action": ids, "reason": "left the firm"}
    )
    assert done.status_code == 302
    assert set(Advisor.objects.values_list("is_active", "disabled_reason")) == {
        (False, "left the firm")
    }
    admin_client.post(url, {"action": "enable", "_selected_action": ids})
    assert not Advisor.objects.filter(is_active=False).exists()
