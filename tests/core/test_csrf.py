"""CSRF on every state-changing request a browser session can make (RELIABILITY.md, access).

Every non-GET method of every URL in README's access matrix is sent as a signed-in Admin
(who may do everything, so only CSRF can refuse it) without a token: 403, and nothing runs.
The same request with the token gets past the check, so the 403 was CSRF's doing. The
session-authenticated API is held to the same rule by DRF. The webhooks, the only
CSRF-exempt views (tests/messaging/webhooks/test_webhook_intake.py scans every view for
`csrf_exempt`), authenticate by signature instead (tests/core/test_access_matrix.py).
"""

from __future__ import annotations

import json

from django.test import Client

from tests.core.test_access_matrix import World, readme_matrix, request, routes

SKIP = {
    "/accounts/login/",  # signing in: tests/core/test_staff_shell.py (needs CSRF too)
    "/webhooks/whatsapp/",  # exempt: signed by Meta
    "/webhooks/myoperator/",  # exempt: token or signature
}


def unsafe_requests() -> list[tuple[str, str]]:
    found = []
    for row in readme_matrix():
        if row.url.startswith("/admin/") or row.url in SKIP:
            continue
        found += [(row.url, method) for method in row.methods if method != "GET"]
    return sorted(set(found))


def test_every_state_changing_request_needs_the_csrf_token(db, settings, tmp_path):
    world = World(settings, tmp_path)
    admin = world.users["Admin"]
    assert set(routes()) >= {url for url, _ in unsafe_requests()}
    refused, passed = [], []
    for route, method in unsafe_requests():
        url = world.fresh_url(route) if method == "DELETE" else world.url(route)

        strict = Client(enforce_csrf_checks=True)
        strict.force_login(admin)
        response = request(strict, method, url)
        if response.status_code != 403:
            refused.append(f"{method} {url}: {response.status_code} without a CSRF token")
            continue

        strict.get("/staff/")  # the page sets the CSRF cookie, as a browser would get it
        token = strict.cookies["csrftoken"].value
        data = json.dumps({}) if url.startswith("/api/") else ""
        kind = (
            "application/json" if url.startswith("/api/") else "application/x-www-form-urlencoded"
        )
        response = strict.generic(method, url, data, content_type=kind, HTTP_X_CSRFTOKEN=token)
        if response.status_code == 403:
            passed.append(f"{method} {url}: still 403 with the token")
    assert not refused, "\n".join(refused)
    assert not passed, "\n".join(passed)
    assert len(unsafe_requests()) > 60


def test_the_api_with_a_token_needs_no_csrf(db, settings, tmp_path):
    """Integrations authenticate each request; CSRF is a browser-session concern only."""
    from core.services import api_token_create

    world = World(settings, tmp_path)
    _, key = api_token_create(user=world.users["Admin"], name="csrf")
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/v1/tags/",
        json.dumps({"name": "from-an-integration"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert response.status_code == 201
