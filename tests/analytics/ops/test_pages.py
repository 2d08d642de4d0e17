"""Permissions of every operations page, CSRF on its forms, and bounded queries."""

import pytest
from django.test import Client
from django.urls import reverse

from core.roles import ROLE_NAMES
from tests.factories import JobRunFactory, OpsWebhookEventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def objects(settings):
    run = JobRunFactory()
    event = OpsWebhookEventFactory(state="failed", error="unknown phone_number_id")
    settings.BACKUP_DIR.mkdir(parents=True)
    (settings.BACKUP_DIR / "parley-backup-20260101T000000Z.tar.gz").write_bytes(b"archive")
    return {"run": run, "event": event}


def page_urls(objects) -> list[str]:
    run, event = objects["run"], objects["event"]
    return [
        reverse("ops:health"),
        reverse("ops:health_partial"),
        reverse("ops:board"),
        reverse("ops:jobs"),
        reverse("ops:job_start", args=["purge_data"]),
        reverse("ops:job_detail", args=[run.pk]),
        reverse("ops:job_progress", args=[run.pk]),
        reverse("ops:backups"),
        reverse("ops:backup_download", args=["parley-backup-20260101T000000Z.tar.gz"]),
        reverse("ops:events"),
        reverse("ops:events_feed") + "?after=0-0",
        reverse("ops:errors"),
        reverse("ops:errors") + "?kind=webhooks",
        reverse("ops:errors") + "?kind=jobs",
        reverse("ops:errors") + "?kind=app",
        reverse("ops:webhook_event", args=[event.pk]),
    ]


def test_anonymous_users_are_sent_to_sign_in(client, objects):
    for url in page_urls(objects):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


@pytest.mark.parametrize("role", [r for r in ROLE_NAMES if r != "Admin"])
def test_every_other_role_is_refused(client, make_user, objects, role):
    client.force_login(make_user(role))
    for url in page_urls(objects):
        assert client.get(url).status_code == 403, (role, url)


def test_admin_opens_every_page(ops_client, objects):
    for url in page_urls(objects):
        assert ops_client.get(url).status_code == 200, url


def test_posts_are_refused_without_permission(client, make_user, objects):
    posts = [
        reverse("ops:job_start", args=["purge_data"]),
        reverse("ops:job_cancel", args=[objects["run"].pk]),
        reverse("ops:webhook_replay", args=[objects["event"].pk]),
    ]
    for url in posts:
        assert client.post(url).status_code == 302  # anonymous: sign in first
    for role in ("Agent", "Analyst"):
        client.force_login(make_user(role))
        for url in posts:
            assert client.post(url).status_code == 403, (role, url)


def test_forms_need_csrf(make_user, objects):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("Admin"))
    assert client.post(reverse("ops:job_start", args=["purge_data"])).status_code == 403
    assert client.post(reverse("ops:webhook_replay", args=[objects["event"].pk])).status_code == 403


def test_navigation_shows_the_operations_section_to_admins_only(client, make_user):
    client.force_login(make_user("Admin"))
    nav = client.get("/staff/").context["staff_nav"]
    section = next(s for s in nav if s["name"] == "Operations")
    assert [i["label"] for i in section["items"]] == [
        "Operations",
        "Jobs",
        "Live events",
        "Error log",
    ]
    client.force_login(make_user("Analyst"))
    nav = client.get("/staff/").context["staff_nav"]
    assert "Operations" not in [s["name"] for s in nav]


def test_pages_carry_no_inline_script_or_style(ops_client, objects):
    for url in [*page_urls(objects)[:4], reverse("ops:events"), reverse("ops:errors")]:
        html = ops_client.get(url).content.decode()
        assert "<script>" not in html and "style=" not in html, url
        assert "<style" not in html, url
