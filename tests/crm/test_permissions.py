"""Every crm page and endpoint checks its permission: anonymous users are sent to sign in (or
get 401 from the API), signed-in users without the permission get 403, and a user with
exactly the listed permissions gets through."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from core.navigation import nav_for_user
from core.services import api_token_create
from crm.models import ImportJob
from tests.factories import AdvisorFactory, ContactFactory, SegmentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def objects(db, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    contact = ContactFactory()
    job = ImportJob.objects.create(original_name="x.csv", format="csv", status="failed",
                                   file="imports/x.csv")  # fmt: skip
    return {
        "contact": contact.pk,
        "segment": SegmentFactory().pk,
        "advisor": AdvisorFactory().pk,
        "job": job.pk,
    }


PAGES = [  # (method, url name, object, the exact permissions needed)
    ("get", "crm:contact_list", None, ["crm.view_contact"]),
    ("get", "crm:contact_export", None, ["crm.view_contact", "crm.export_contact"]),
    ("get", "crm:contact_new", None, ["crm.add_contact"]),
    ("get", "crm:contact_detail", "contact", ["crm.view_contact"]),
    ("get", "crm:contact_edit", "contact", ["crm.change_contact"]),
    ("post", "crm:contact_consent", "contact", ["crm.change_consent"]),
    ("post", "crm:contact_block", "contact", ["crm.change_contact"]),
    ("get", "crm:contact_merge", "contact", ["crm.view_contact", "crm.merge_contact"]),
    ("get", "crm:contact_erase", "contact", ["crm.view_contact", "crm.erase_contact"]),
    ("post", "crm:contact_erase", "contact", ["crm.view_contact", "crm.erase_contact"]),
    ("get", "crm:contact_data_export", "contact", ["crm.view_contact", "crm.export_contact"]),
    ("get", "crm:segment_list", None, ["crm.view_segment"]),
    ("get", "crm:segment_new", None, ["crm.add_segment"]),
    ("post", "crm:segment_preview", None, ["crm.view_segment"]),
    ("get", "crm:segment_detail", "segment", ["crm.view_segment", "crm.view_contact"]),
    ("get", "crm:segment_edit", "segment", ["crm.change_segment"]),
    ("get", "crm:segment_export", "segment", ["crm.view_segment", "crm.export_contact"]),
    ("get", "crm:advisor_list", None, ["crm.view_advisor"]),
    ("get", "crm:advisor_new", None, ["crm.add_advisor"]),
    ("get", "crm:advisor_detail", "advisor", ["crm.view_advisor"]),
    ("get", "crm:advisor_edit", "advisor", ["crm.change_advisor"]),
    ("post", "crm:advisor_disable", "advisor", ["crm.change_advisor"]),
    ("post", "crm:advisor_enable", "advisor", ["crm.change_advisor"]),
    ("get", "crm:import_list", None, ["crm.view_importjob"]),
    ("get", "crm:import_new", None, ["crm.add_importjob"]),
    ("get", "crm:import_detail", "job", ["crm.view_importjob"]),
    ("get", "crm:import_progress", "job", ["crm.view_importjob"]),
    ("get", "crm:import_errors", "job", ["crm.view_importjob"]),
    ("post", "crm:import_resume", "job", ["crm.add_importjob"]),
    ("post", "crm:import_run", "job", ["crm.add_importjob"]),
]


def user_with(perms):
    user = UserFactory(username="exact")
    for code in perms:
        app, codename = code.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app, codename=codename)
        )
    return type(user).objects.get(pk=user.pk)  # fresh permission cache


def page_url(name, key, objects):
    return reverse(name, args=[objects[key]] if key else [])


@pytest.mark.parametrize(("method", "name", "key", "perms"), PAGES, ids=[p[1] for p in PAGES])
def test_staff_pages(client, make_user, objects, method, name, key, perms):
    url = page_url(name, key, objects)
    response = getattr(client, method)(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))

    client.force_login(make_user())
    assert getattr(client, method)(url).status_code == 403

    others = list(perms[:-1])  # all but one permission is still not enough
    if others:
        client.force_login(user_with(others))
        assert getattr(client, method)(url).status_code == 403

    client.force_login(user_with(perms))
    assert getattr(client, method)(url).status_code in (200, 302)


API = [
    ("get", "/api/v1/contacts/", None, ["crm.view_contact"]),
    ("post", "/api/v1/contacts/", None, ["crm.add_contact"]),
    ("get", "/api/v1/contacts/{contact}/", "contact", ["crm.view_contact"]),
    ("patch", "/api/v1/contacts/{contact}/", "contact", ["crm.change_contact"]),
    ("delete", "/api/v1/contacts/{contact}/", "contact", ["crm.delete_contact"]),
    ("post", "/api/v1/contacts/{contact}/consent/", "contact", ["crm.change_consent"]),
    ("get", "/api/v1/contacts/{contact}/consent-history/", "contact", ["crm.view_consentevent"]),
    ("post", "/api/v1/contacts/{contact}/erase/", "contact",
     ["crm.view_contact", "crm.erase_contact"]),
    ("get", "/api/v1/contacts/{contact}/export/", "contact",
     ["crm.view_contact", "crm.export_contact"]),
    ("get", "/api/v1/tags/", None, ["crm.view_tag"]),
    ("post", "/api/v1/tags/", None, ["crm.add_tag"]),
    ("get", "/api/v1/attributes/", None, ["crm.view_attributedefinition"]),
    ("post", "/api/v1/attributes/", None, ["crm.add_attributedefinition"]),
    ("get", "/api/v1/segments/", None, ["crm.view_segment"]),
    ("post", "/api/v1/segments/", None, ["crm.add_segment"]),
    ("get", "/api/v1/segments/{segment}/contacts/", "segment",
     ["crm.view_segment", "crm.view_contact"]),
    ("get", "/api/v1/advisors/", None, ["crm.view_advisor"]),
    ("post", "/api/v1/advisors/", None, ["crm.add_advisor"]),
    ("post", "/api/v1/advisors/{advisor}/disable/", "advisor", ["crm.change_advisor"]),
    ("post", "/api/v1/advisors/{advisor}/enable/", "advisor", ["crm.change_advisor"]),
    ("get", "/api/v1/imports/", None, ["crm.view_importjob"]),
    ("post", "/api/v1/imports/", None, ["crm.add_importjob"]),
    ("get", "/api/v1/imports/{job}/", "job", ["crm.view_importjob"]),
    ("get", "/api/v1/imports/{job}/errors.csv", "job", ["crm.view_importjob"]),
    ("post", "/api/v1/imports/{job}/resume/", "job", ["crm.add_importjob"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "key", "perms"), API, ids=[f"{a[0]} {a[1]}" for a in API]
)
def test_api_endpoints(api_client, make_user, objects, method, path, key, perms):
    url = path.format(**objects)
    assert getattr(api_client, method)(url).status_code == 401

    _, key_none = api_token_create(user=make_user(), name="none")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key_none}")
    response = getattr(api_client, method)(url)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"

    _, key_ok = api_token_create(user=user_with(perms), name="ok")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key_ok}")
    assert getattr(api_client, method)(url).status_code not in (401, 403)


def test_forms_need_csrf(make_user, objects):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("Admin"))
    url = reverse("crm:contact_consent", args=[objects["contact"]])
    assert client.post(url, {"consent": "opted_out", "note": "x"}).status_code == 403
    page = client.get(reverse("crm:contact_detail", args=[objects["contact"]]))
    assert b"csrfmiddlewaretoken" in page.content


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("Admin", {"Contacts", "Segments", "Advisors", "Imports"}),
        ("Campaign manager", {"Contacts", "Segments", "Advisors", "Imports"}),
        ("Content reviewer", {"Contacts", "Advisors"}),
        ("Agent", {"Contacts", "Advisors"}),
        ("Analyst", {"Contacts", "Segments", "Advisors"}),
    ],
)
def test_navigation_by_role(make_user, role, expected):
    labels = {i["label"] for s in nav_for_user(make_user(role)) for i in s["items"]}
    assert labels & {"Contacts", "Segments", "Advisors", "Imports"} == expected


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("Analyst", {"crm:contact_list": 200, "crm:contact_export": 200, "crm:contact_new": 403}),
        ("Agent", {"crm:contact_list": 200, "crm:contact_export": 403, "crm:segment_list": 403}),
        ("Content reviewer", {"crm:advisor_list": 200, "crm:import_new": 403}),
        ("Campaign manager", {"crm:import_new": 200, "crm:segment_new": 200}),
    ],
)
def test_roles_get_what_the_matrix_says(client, make_user, role, allowed):
    client.force_login(make_user(role))
    for name, status in allowed.items():
        assert client.get(reverse(name)).status_code == status, name
