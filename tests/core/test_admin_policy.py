"""The admin policy (README "Admin policy"): every model of Parley's apps has an admin page,
append-only records are read-only there, and a role sees in the admin only what it may see in
the staff pages (the operations centre's tables are Admin-only)."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client, RequestFactory

from core.roles import ADMIN, ROLES
from tests.core.test_access_matrix import World, let_in
from tests.factories import UserFactory

APPS = ["core", "crm", "messaging", "analytics"]  # analytics/ops models carry the analytics label

# Models with no rows to show: StaffAccess only carries permissions (unmanaged, no table).
NO_TABLE = {"core.staffaccess"}

# Records the system appends and nobody edits by hand.
APPEND_ONLY = {
    "crm.consentevent",
    "crm.contactnumberchange",
    "crm.importrowerror",
    "messaging.messagestatusevent",
    "messaging.conversationevent",
    "messaging.campaigntransition",
    "messaging.campaigntestsend",
    "messaging.contenttransition",
    "messaging.contentdelivery",
    "messaging.contentunlock",
    "messaging.linkclick",
    "messaging.notificationpreferenceevent",
    "messaging.templateevent",
    "messaging.autoreplyrun",
    "messaging.automatedanswer",
    "messaging.webhookevent",
    "analytics.jobrun",
    "analytics.apperror",
    "analytics.healthsample",
    "analytics.buttonclick",
    "analytics.conversionevent",
    "core.idempotencykey",
}

OPERATIONS_MODELS = [
    "analytics.apperror",
    "analytics.jobrun",
    "analytics.healthsample",
    "messaging.webhookevent",
]

# Where the staff pages show each model's rows (any one of the pages suffices).
STAFF_PAGES: dict[str, list[str]] = {
    "analytics.buttonclick": ["/staff/analytics/buttons/"],
    "analytics.buttondaily": ["/staff/analytics/buttons/"],
    "analytics.campaignperformance": ["/staff/analytics/campaigns/"],
    "analytics.contentperformance": ["/staff/content/<pk>/"],
    "analytics.conversionevent": ["/staff/analytics/revenue/"],
    "analytics.customermetrics": ["/staff/analytics/customers/"],
    "analytics.dailysnapshot": ["/staff/analytics/"],
    "analytics.templatedaily": ["/staff/analytics/templates/"],
    "analytics.qualityrating": ["/staff/analytics/conversations/", "/staff/inbox/<pk>/"],
    "crm.advisor": ["/staff/advisors/"],
    "crm.attributedefinition": ["/staff/contacts/<pk>/"],
    "crm.consentevent": ["/staff/contacts/<pk>/"],
    "crm.contact": ["/staff/contacts/"],
    "crm.contactnumberchange": ["/staff/contacts/<pk>/"],
    "crm.importjob": ["/staff/imports/"],
    "crm.importrowerror": ["/staff/imports/<pk>/"],
    "crm.segment": ["/staff/segments/"],
    "crm.tag": ["/staff/contacts/"],
    "messaging.autoreplyrule": ["/staff/auto-replies/"],
    "messaging.autoreplyrun": ["/staff/auto-replies/"],
    "messaging.automatedanswer": ["/staff/inbox/<pk>/"],
    "messaging.campaign": ["/staff/campaigns/"],
    "messaging.campaigntransition": ["/staff/campaigns/<pk>/"],
    "messaging.channel": ["/staff/channels/", "/staff/campaigns/<pk>/"],
    "messaging.campaigntestsend": ["/staff/campaigns/<pk>/"],
    "messaging.contentdelivery": ["/staff/content/<pk>/"],
    "messaging.contentitem": ["/staff/content/"],
    "messaging.mediaasset": ["/staff/media/"],
    "messaging.mediaupload": ["/staff/media/"],
    "messaging.contentrevision": ["/staff/content/<pk>/"],
    "messaging.contenttransition": ["/staff/content/<pk>/"],
    "messaging.contentunlock": ["/staff/content/<pk>/"],
    "messaging.conversation": ["/staff/inbox/"],
    "messaging.conversationevent": ["/staff/inbox/<pk>/"],
    "messaging.faqentry": ["/staff/faq/"],
    "messaging.team": ["/staff/inbox/teams/"],
    "messaging.teammember": ["/staff/inbox/teams/"],
    "messaging.teamchannel": ["/staff/inbox/teams/"],
    "messaging.agentavailability": ["/staff/inbox/teams/"],
    "messaging.cannedreply": ["/staff/inbox/canned-replies/"],
    "messaging.satisfactionsurvey": ["/staff/reports/agents/", "/staff/inbox/<pk>/"],
    "messaging.linkclick": ["/staff/content/<pk>/", "/staff/analytics/campaigns/<pk>/"],
    "messaging.message": ["/staff/inbox/<pk>/"],
    "messaging.messagetemplate": [
        "/staff/templates/",
        "/staff/campaigns/<pk>/",
        "/staff/inbox/<pk>/",
        "/staff/content/<pk>/",
    ],
    "messaging.templateevent": ["/staff/templates/<pk>/"],
    "messaging.notification": ["/staff/notifications/"],
    "messaging.notificationpreference": ["/staff/contacts/<pk>/notification-preferences/"],
    "messaging.notificationpreferenceevent": ["/staff/contacts/<pk>/notification-preferences/"],
    "messaging.notificationtype": ["/staff/notifications/"],
    "messaging.pricecard": ["/staff/analytics/revenue/"],
    "messaging.pricerate": ["/staff/analytics/revenue/"],
    "messaging.trackedlink": ["/staff/content/<pk>/", "/staff/analytics/campaigns/<pk>/"],
}


def label(model) -> str:
    return f"{model._meta.app_label}.{model._meta.model_name}"


def parley_models():
    for app in APPS:
        for model in apps.get_app_config(app).get_models():
            if label(model) not in NO_TABLE:
                yield model


def changelist(model) -> str:
    return f"/admin/{model._meta.app_label}/{model._meta.model_name}/"


@pytest.fixture
def world(db, settings, tmp_path):
    return World(settings, tmp_path)


def test_every_model_has_an_admin_that_answers_a_superuser(db):
    client = Client()
    client.force_login(UserFactory(username="root", is_superuser=True))
    missing, broken = [], []
    for model in parley_models():
        if model not in admin.site._registry:
            missing.append(label(model))
            continue
        response = client.get(changelist(model))
        if response.status_code != 200:
            broken.append(f"{changelist(model)}: {response.status_code}")
    assert not missing, "models without an admin: " + ", ".join(missing)
    assert not broken, "\n".join(broken)
    assert {label(m) for m in apps.get_app_config("core").get_models()} >= NO_TABLE


def test_append_only_records_are_read_only_even_for_a_superuser(db):
    request = RequestFactory().get("/admin/")
    request.user = UserFactory(username="root", is_superuser=True)
    by_label = {label(m): m for m in parley_models()}
    assert set(by_label) >= APPEND_ONLY, APPEND_ONLY - set(by_label)
    writable = []
    for name in sorted(APPEND_ONLY):
        model_admin = admin.site._registry[by_label[name]]
        if (
            model_admin.has_add_permission(request)
            or model_admin.has_change_permission(request)
            or model_admin.has_delete_permission(request)
        ):
            writable.append(name)
        assert model_admin.has_view_permission(request), name
    assert not writable, "append-only records writable in the admin: " + ", ".join(writable)


@pytest.mark.parametrize("role", [r.name for r in ROLES if r.name != ADMIN])
def test_only_admins_read_the_operations_tables_in_the_admin(world, role):
    from analytics.models import AppError, JobRun

    error = AppError.objects.create(level="ERROR", logger="x", message="boom", traceback="tb")
    job = JobRun.objects.get(pk=world.ids["jobs"])
    client = Client()
    client.force_login(world.users[role])
    for name in OPERATIONS_MODELS:
        app_label, model_name = name.split(".")
        response = client.get(f"/admin/{app_label}/{model_name}/")
        assert response.status_code == 403, (role, name, response.status_code)
    for url in (
        f"/admin/analytics/apperror/{error.pk}/change/",
        f"/admin/analytics/jobrun/{job.pk}/change/",
        f"/admin/messaging/webhookevent/{world.ids['webhooks']}/change/",
    ):
        assert client.get(url).status_code in (302, 403), (role, url)
    index = client.get("/admin/").content.decode()
    for text in ("/admin/analytics/apperror/", "/admin/analytics/jobrun/"):
        assert text not in index, (role, text)
    admin_client = Client()
    admin_client.force_login(world.users[ADMIN])
    for name in OPERATIONS_MODELS:
        app_label, model_name = name.split(".")
        assert admin_client.get(f"/admin/{app_label}/{model_name}/").status_code == 200


def test_what_a_role_sees_in_the_admin_it_may_see_in_the_staff_pages(world):
    """For each role but Admin and each admin changelist: admin access implies that one of the
    staff pages showing the same rows lets the role in."""
    problems = []
    for role in ROLES:
        if role.name == ADMIN:
            continue
        client = Client()
        client.force_login(world.users[role.name])
        for model in admin.site._registry:
            if not let_in(client.get(changelist(model))):
                continue
            pages = STAFF_PAGES.get(label(model))
            if pages is None:
                problems.append(
                    f"{role.name} reads {label(model)} in the admin, which no staff page shows: "
                    "make it Admin-only (core/roles.py) or name its staff page here"
                )
                continue
            urls = [world.url(page) for page in pages]
            if not any(let_in(client.get(url)) for url in urls):
                problems.append(f"{role.name} reads {label(model)} in the admin but not at {urls}")
    assert not problems, "\n".join(problems)
