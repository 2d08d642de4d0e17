"""Staff pages: what they show, what their forms do, and bounded queries on list pages."""

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.importing.jobs import import_job_run
from crm.models import Advisor, Contact, ImportJob, Segment
from tests.crm.conftest import upload
from tests.factories import (
    AdvisorFactory,
    ContactFactory,
    MessageFactory,
    SegmentFactory,
    TagFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(client, make_user):
    client.force_login(make_user("Campaign manager"))
    return client


def many_contacts(n=25):
    vip, news = TagFactory(name="vip"), TagFactory(name="newsletter")
    contacts = ContactFactory.create_batch(n)
    for i, contact in enumerate(contacts):
        contact.tags.add(vip if i % 2 else news)
        if i % 5 == 0:
            AdvisorFactory(contact=contact)
    return contacts


def test_contact_list_filters_search_and_paginates(manager, django_assert_max_num_queries):
    contacts = many_contacts(60)
    url = reverse("crm:contact_list")
    with django_assert_max_num_queries(12):
        page = manager.get(url)
    assert page.status_code == 200
    assert len(page.context["page"].object_list) == 50 and page.context["page"].has_next()
    assert manager.get(url, {"page": 2}).context["page"].object_list.__len__() == 10
    with django_assert_max_num_queries(12):
        vip = manager.get(url, {"tag": "vip"})
    assert len(vip.context["page"].object_list) == 30
    found = manager.get(url, {"q": contacts[3].phone})
    assert list(found.context["page"].object_list) == [contacts[3]]
    advisors = manager.get(url, {"advisor": "yes"})
    assert advisors.context["page"].paginator.count == 12
    assert b'data-testid="export"' in page.content


def test_contact_detail_shows_messages_history_and_actions(manager):
    contact = ContactFactory(attributes={"city": "Pune"})
    MessageFactory(contact=contact, content={"body": "Your order shipped"})
    MessageFactory(contact=contact, direction="in", type="button",
                   content={"text": "Yes please", "payload": "YES"}, status=1)  # fmt: skip
    page = manager.get(reverse("crm:contact_detail", args=[contact.pk]))
    assert page.status_code == 200
    for text in (b"Your order shipped", b"Yes please", b"Pune", b"Change consent", b"Block"):
        assert text in page.content


def test_block_and_unblock(manager):
    contact = ContactFactory()
    url = reverse("crm:contact_block", args=[contact.pk])
    manager.post(url, {"blocked": "1"})
    contact.refresh_from_db()
    assert contact.blocked
    manager.post(url, {"blocked": "0"})
    contact.refresh_from_db()
    assert not contact.blocked


def test_create_and_edit_a_contact(manager, definitions):
    response = manager.post(
        reverse("crm:contact_new"),
        {
            "phone": "98123 45678",
            "name": "Asha",
            "language": "en",
            "tags": "vip; news",
            "attr_city": "Pune",
            "attr_lifetime_orders": "4",
            "attr_vip": "true",
        },
    )
    assert response.status_code == 302
    contact = Contact.objects.get(phone="+919812345678")
    assert contact.attributes == {"city": "Pune", "lifetime_orders": 4, "vip": True}
    assert sorted(contact.tags.values_list("name", flat=True)) == ["news", "vip"]
    duplicate = manager.post(reverse("crm:contact_new"), {"phone": "+919812345678"})
    assert duplicate.status_code == 200 and b"already exists" in duplicate.content
    edit = reverse("crm:contact_edit", args=[contact.pk])
    assert manager.get(edit).status_code == 200
    manager.post(edit, {"phone": contact.phone, "name": "Asha P", "tags": "vip",
                        "attr_plan": "pro"})  # fmt: skip
    contact.refresh_from_db()
    assert contact.name == "Asha P" and contact.attributes == {"plan": "pro"}
    assert list(contact.tags.values_list("name", flat=True)) == ["vip"]


def test_segment_pages_with_live_counts(manager, django_assert_max_num_queries):
    many_contacts(20)
    for i in range(8):
        SegmentFactory(filter={"tags": {"any": ["vip"]}} if i % 2 else {"consent": ["opted_in"]})
    with django_assert_max_num_queries(10):
        page = manager.get(reverse("crm:segment_list"))
    counts = [count for _, count, _ in page.context["rows"]]
    assert sorted(set(counts)) == [10, 20]

    new = manager.post(
        reverse("crm:segment_new"),
        {
            "name": "VIP opted in",
            "tags_any": ["vip"],
            "consent": ["opted_in"],
            "attr_0_key": "",
            "attr_0_op": "eq",
        },
    )
    assert new.status_code == 302
    segment = Segment.objects.get(name="VIP opted in")
    assert segment.filter == {"tags": {"any": ["vip"]}, "consent": ["opted_in"]}
    detail = manager.get(reverse("crm:segment_detail", args=[segment.pk]))
    assert detail.context["page"].paginator.count == 10

    preview = manager.post(reverse("crm:segment_preview"), {"tags_any": ["newsletter"]})
    assert b'data-testid="preview-count">10<' in preview.content
    bad = manager.post(reverse("crm:segment_preview"), {"active_within_days": "0"})
    assert b"contacts match" not in bad.content

    edit = reverse("crm:segment_edit", args=[segment.pk])
    assert manager.get(edit).status_code == 200
    manager.post(edit, {"name": "VIP", "tags_none": ["vip"]})
    segment.refresh_from_db()
    assert segment.name == "VIP" and segment.filter == {"tags": {"none": ["vip"]}}


def test_segment_form_attribute_rows(manager, definitions):
    ContactFactory(attributes={"lifetime_orders": 9})
    ContactFactory(attributes={"lifetime_orders": 1})
    response = manager.post(
        reverse("crm:segment_new"),
        {
            "name": "Loyal",
            "attr_0_key": "lifetime_orders",
            "attr_0_op": "gt",
            "attr_0_value": "5",
        },
    )
    assert response.status_code == 302
    segment = Segment.objects.get(name="Loyal")
    assert segment.filter["attributes"] == [{"key": "lifetime_orders", "op": "gt", "value": 5}]
    wrong = manager.post(
        reverse("crm:segment_new"),
        {
            "name": "Bad",
            "attr_0_key": "lifetime_orders",
            "attr_0_op": "contains",
            "attr_0_value": "x",
        },
    )
    assert wrong.status_code == 200 and b"number takes" in wrong.content


def test_advisor_pages(manager, django_assert_max_num_queries):
    for i in range(30):
        AdvisorFactory(region="West" if i % 2 else "North", tier="gold" if i % 3 else "bronze")
    url = reverse("crm:advisor_list")
    with django_assert_max_num_queries(10):
        page = manager.get(url)
    assert page.context["page"].paginator.count == 30
    west_gold = manager.get(url, {"region": "West", "tier": "gold"})
    assert west_gold.context["page"].paginator.count == 10

    response = manager.post(
        reverse("crm:advisor_new"),
        {
            "phone": "+919812345600",
            "name": "Neha",
            "firm": "Acme",
            "region": "South",
            "tier": "gold",
            "content_preferences": "markets; tax",
        },
    )
    assert response.status_code == 302
    advisor = Advisor.objects.get(contact__phone="+919812345600")
    assert advisor.content_preferences == ["markets", "tax"] and advisor.contact.name == "Neha"
    again = manager.post(reverse("crm:advisor_new"), {"phone": "+919812345600", "tier": "gold"})
    assert b"already an advisor" in again.content

    manager.post(reverse("crm:advisor_disable", args=[advisor.pk]), {"reason": ""})
    advisor.refresh_from_db()
    assert advisor.is_active  # a reason is required
    manager.post(reverse("crm:advisor_disable", args=[advisor.pk]), {"reason": "left the firm"})
    advisor.refresh_from_db()
    assert not advisor.is_active and advisor.disabled_reason == "left the firm"
    assert manager.get(url, {"active": "no"}).context["page"].paginator.count == 1
    manager.post(reverse("crm:advisor_enable", args=[advisor.pk]))
    advisor.refresh_from_db()
    assert advisor.is_active and advisor.disabled_reason == ""

    edit = reverse("crm:advisor_edit", args=[advisor.pk])
    manager.post(edit, {"firm": "Beta", "region": "East", "tier": "silver"})
    advisor.refresh_from_db()
    assert (advisor.firm, advisor.region, advisor.tier) == ("Beta", "East", "silver")


def test_advisor_page_shows_what_they_received_and_clicked(manager):
    advisor = AdvisorFactory()
    contact = advisor.contact
    MessageFactory(contact=contact, type="template",
                   content={"name": "daily_market_note", "language": {"code": "en"}})  # fmt: skip
    MessageFactory(contact=contact, direction="in", type="button", status=1,
                   content={"text": "Unlock", "payload": "unlock:42"})  # fmt: skip
    MessageFactory(contact=contact, direction="in", type="interactive_reply", status=1,
                   content={"id": "more", "title": "Tell me more"})  # fmt: skip
    MessageFactory(contact=contact, direction="in", type="text", status=1,
                   content={"body": "hello"})  # fmt: skip
    page = manager.get(reverse("crm:advisor_detail", args=[advisor.pk]))
    assert [m.type for m in page.context["received"]] == ["template"]
    assert {m.type for m in page.context["clicked"]} == {"button", "interactive_reply"}
    assert page.context["counts"] == {"received": 1, "clicked": 2}
    for text in (b"Template daily_market_note", b"Unlock", b"Tell me more"):
        assert text in page.content
    assert b"hello" not in page.content


def test_import_pages(manager, definitions, django_assert_max_num_queries, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    response = manager.post(
        reverse("crm:import_new"),
        {
            "file": upload("people.csv", "phone,name\n+919812345678,Asha\nbad,Bad\n"),
            "dry_run": "on",
        },
    )
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert response["Location"] == reverse("crm:import_detail", args=[job.pk])
    assert job.dry_run and job.created_by is not None
    progress = manager.get(reverse("crm:import_progress", args=[job.pk]))
    assert b'hx-trigger="every 1s"' in progress.content

    import_job_run(job_id=job.pk)
    done = manager.get(reverse("crm:import_progress", args=[job.pk]))
    assert b"hx-trigger" not in done.content  # polling stops
    assert b"100%" in done.content and b"Download the error report" in done.content
    assert b"run-for-real" in done.content
    report = manager.get(reverse("crm:import_errors", args=[job.pk]))
    body = b"".join(report.streaming_content).decode("utf-8-sig")
    assert body.splitlines() == ["line,column,value,reason", "3,phone,bad,invalid phone"]

    real = manager.post(reverse("crm:import_run", args=[job.pk]))
    real_job = ImportJob.objects.exclude(pk=job.pk).get()
    assert real["Location"] == reverse("crm:import_detail", args=[real_job.pk])

    for _ in range(10):
        ImportJob.objects.create(original_name="x.csv", format="csv", file="imports/x.csv",
                                 finished_at=timezone.now())  # fmt: skip
    with django_assert_max_num_queries(10):
        listing = manager.get(reverse("crm:import_list"))
    assert listing.context["page"].paginator.count == 12


def test_import_upload_errors_show_on_the_form(manager, settings):
    response = manager.post(reverse("crm:import_new"), {"file": upload("x.csv", "name\nA\n")})
    assert response.status_code == 200 and b"needs a &#x27;phone&#x27; column" in response.content
    settings.IMPORT_MAX_BYTES = 10
    response = manager.post(
        reverse("crm:import_new"), {"file": upload("x.csv", "phone\n" + "9" * 100_000)}
    )
    assert response.status_code == 413
    assert not ImportJob.objects.exists()


def test_resume_button_for_failed_jobs(manager, django_capture_on_commit_callbacks, tmp_path,
                                       settings):  # fmt: skip
    settings.MEDIA_ROOT = tmp_path
    job = ImportJob.objects.create(original_name="x.csv", format="csv", status="failed",
                                   file="imports/x.csv", message="boom")  # fmt: skip
    with django_capture_on_commit_callbacks() as callbacks:
        manager.post(reverse("crm:import_resume", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == "pending" and job.message == "" and len(callbacks) == 1
