import logging

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_login(client):
    response = client.get("/staff/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_staff_without_a_role_is_refused(client, make_user):
    client.force_login(make_user())
    assert client.get("/staff/").status_code == 403


def test_each_role_sees_the_shell_with_its_navigation(client, role_user):
    client.force_login(role_user)
    response = client.get("/staff/")
    assert response.status_code == 200
    nav = response.context["staff_nav"]
    labels = {item["label"] for section in nav for item in section["items"]}
    assert "Home" in labels
    assert ("API tokens" in labels) is role_user.has_perm("core.view_apitoken")
    assert ("Users" in labels) is role_user.has_perm("auth.view_user")


def test_admin_sees_admin_links_and_agent_does_not(client, make_user):
    client.force_login(make_user("Admin"))
    assert b"API tokens" in client.get("/staff/").content
    client.force_login(make_user("Agent"))
    assert b"API tokens" not in client.get("/staff/").content


def test_login_and_logout_through_real_pages(client, make_user):
    make_user("Agent", username="agent1")
    page = client.get(reverse("login"))
    assert page.status_code == 200
    response = client.post(
        reverse("login"), {"username": "agent1", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert client.get("/staff/").status_code == 200
    assert client.post(reverse("logout")).status_code == 302
    assert client.get("/staff/").status_code == 302


def test_login_is_locked_after_repeated_failures(client, make_user):
    make_user("Agent", username="agent2")
    for _ in range(5):
        client.post(reverse("login"), {"username": "agent2", "password": "wrong"})
    response = client.post(
        reverse("login"), {"username": "agent2", "password": "correct-horse-battery"}
    )
    assert response.status_code == 429
    assert b"Too many failed sign-ins" in response.content


def test_login_form_needs_csrf(make_user):
    from django.test import Client

    make_user("Agent", username="agent3")
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        reverse("login"), {"username": "agent3", "password": "correct-horse-battery"}
    )
    assert response.status_code == 403


def test_security_headers(client, make_user):
    client.force_login(make_user("Agent"))
    response = client.get("/staff/")
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert len(response["X-Request-ID"]) == 16


def test_request_id_is_echoed_and_logged(client, make_user, caplog):
    client.force_login(make_user("Agent"))
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get("/staff/nope/", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    assert any(getattr(r, "request_id", None) == "abc-123" for r in caplog.records)


def test_unsafe_request_ids_are_replaced(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\n")
    assert response["X-Request-ID"] != "bad id\n"


def test_json_log_format_carries_the_request_id():
    import json

    from pythonjsonlogger.json import JsonFormatter

    from core.logging import RequestIdFilter, request_id_var

    record = logging.LogRecord("parley", logging.INFO, __file__, 1, "hello", None, None)
    token = request_id_var.set("rid-1")
    try:
        RequestIdFilter().filter(record)
    finally:
        request_id_var.reset(token)
    line = JsonFormatter("%(levelname)s %(name)s %(request_id)s %(message)s").format(record)
    assert json.loads(line) == {
        "levelname": "INFO",
        "name": "parley",
        "request_id": "rid-1",
        "message": "hello",
    }
