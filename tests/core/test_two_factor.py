"""Two-factor sign-in (README "Two-factor sign-in"): who must use it, what an unverified session
may reach (nothing staff), enrolment, verification, recovery codes, throttling, turning it off
and an operator's reset."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.mfa.services import mfa_confirm, mfa_pending_device
from core.navigation import _REGISTRY
from core.services import api_token_create
from tests.core.test_access_matrix import World, let_in, routes
from tests.factories import UserFactory

PASSWORD = "correct-horse-battery"
START = timezone.now().replace(microsecond=0)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=True) as traveller:
        yield traveller


@pytest.fixture
def required_admin(settings):
    settings.STAFF_2FA_REQUIRED_ROLES = ["Admin"]


def code_for(device: TOTPDevice) -> str:
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def sign_in(user, next_url: str = "/staff/") -> tuple[Client, object]:
    client = Client()
    response = client.post(
        f"/accounts/login/?next={next_url}",
        {"username": user.username, "password": PASSWORD, "next": next_url},
    )
    assert response.status_code == 302, response.status_code
    return client, response


def enrol(user) -> tuple[TOTPDevice, list[str]]:
    device = mfa_pending_device(user=user)
    codes = mfa_confirm(user=user, device=device, code=code_for(device))
    assert codes is not None
    return TOTPDevice.objects.get(pk=device.pk), codes


def staff_get_urls(world: World) -> list[str]:
    """Every staff page (GET) and every navigation entry, the admin's included."""
    urls = {world.url(route) for route in routes() if route.startswith("/staff/")}
    urls |= {item.url() for item in _REGISTRY if item.url()}
    urls |= {"/admin/", "/admin/crm/contact/", "/admin/auth/user/", "/api/docs/"}
    return sorted(urls)


def sent_to(response, page: str) -> bool:
    return response.status_code == 302 and response["Location"].startswith(page)


def kept_out(client, url: str, page: str) -> bool:
    """Pages send the session to `page`; the API (docs included) answers 403."""
    response = client.get(url)
    if url.startswith("/api/"):
        return response.status_code == 403
    return sent_to(response, page)


@pytest.mark.django_db
def test_a_required_role_reaches_nothing_staff_until_enrolled_and_verified(
    settings, tmp_path, required_admin, clock
):
    world = World(settings, tmp_path)
    user = world.users["Admin"]
    user.set_password(PASSWORD)
    user.save()
    client, response = sign_in(user)
    assert sent_to(response, "/accounts/2fa/setup/")

    urls = staff_get_urls(world)
    assert len(urls) > 40
    leaks = [url for url in urls if not kept_out(client, url, "/accounts/2fa/setup/")]
    assert not leaks, f"reachable without two-factor sign-in: {leaks}"
    api = client.get("/api/v1/me/")
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "two_factor_required"
    for url in ("/accounts/2fa/", "/accounts/2fa/verify/"):
        assert sent_to(client.get(url), "/accounts/2fa/setup/"), url

    page = client.get("/accounts/2fa/setup/?next=/staff/contacts/")
    assert page.status_code == 200
    assert b'src="data:image/svg+xml' in page.content and b"totp-secret" in page.content
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    wrong = client.post("/accounts/2fa/setup/", {"code": "000000"})
    assert wrong.status_code == 200 and b"code-error" in wrong.content
    assert not TOTPDevice.objects.filter(user=user, confirmed=True).exists()

    clock.shift(timedelta(seconds=5))  # past the throttle the wrong code started
    done = client.post(
        "/accounts/2fa/setup/", {"code": code_for(device), "next": "/staff/contacts/"}
    )
    assert done.status_code == 200
    codes = re.findall(rb"<li><code>([a-z2-7]+)</code></li>", done.content)
    assert len(codes) == 10
    assert StaticToken.objects.filter(device__user=user).count() == 10

    # Reached the view: let in, or a POST-only page answering GET with 405.
    blocked = [
        url
        for url in urls
        if (response := client.get(url)).status_code != 405
        and (not let_in(response) or sent_to(response, "/accounts/2fa/"))
    ]
    assert not blocked, f"still refused after verifying: {blocked}"
    assert client.get("/api/v1/me/").status_code == 200


@pytest.mark.django_db
def test_an_api_token_is_unaffected_and_an_unverified_session_cannot_ride_along(required_admin):
    user = UserFactory(username="integrator", roles=["Admin"])
    _, key = api_token_create(user=user, name="shop", created_by=user)
    assert Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    client = Client()
    client.force_login(user)
    assert client.get("/api/v1/me/").status_code == 403
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    # A scheme the token authentication ignores would fall back to the session: refused.
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION="Basic eDp5").status_code == 403


@pytest.mark.django_db
def test_an_enrolled_user_of_any_role_verifies_every_session(clock):
    user = UserFactory(username="agent", roles=["Agent"])
    device, _ = enrol(user)
    clock.shift(timedelta(seconds=31))

    client, response = sign_in(user, "/staff/inbox/")
    assert sent_to(response, "/accounts/2fa/verify/")
    assert sent_to(client.get("/staff/contacts/"), "/accounts/2fa/verify/")
    assert sent_to(client.get("/admin/"), "/accounts/2fa/verify/")
    assert client.get("/accounts/2fa/verify/").status_code == 200

    refused = client.post("/accounts/2fa/verify/", {"code": "123456", "next": "/staff/inbox/"})
    assert refused.status_code == 200 and b"code-error" in refused.content
    clock.shift(timedelta(seconds=2))
    verified = client.post(
        "/accounts/2fa/verify/", {"code": code_for(device), "next": "/staff/inbox/"}
    )
    assert sent_to(verified, "/staff/inbox/")
    assert client.get("/staff/contacts/").status_code == 200

    # The next session asks again; an open redirect in `next` is ignored.
    clock.shift(timedelta(seconds=31))
    other, _ = sign_in(user)
    answer = other.post(
        "/accounts/2fa/verify/", {"code": code_for(device), "next": "https://evil.example/"}
    )
    assert sent_to(answer, "/staff/")


@pytest.mark.django_db
def test_a_recovery_code_works_once(clock):
    user = UserFactory(username="reviewer", roles=["Content reviewer"])
    _, codes = enrol(user)
    client, _ = sign_in(user)
    used = client.post("/accounts/2fa/verify/", {"code": codes[0].upper(), "next": "/staff/"})
    assert sent_to(used, "/staff/")
    assert client.get("/staff/content/").status_code == 200
    assert StaticToken.objects.filter(device__user=user).count() == 9

    again, _ = sign_in(user)
    refused = again.post("/accounts/2fa/verify/", {"code": codes[0], "next": "/staff/"})
    assert refused.status_code == 200 and b"code-error" in refused.content
    assert sent_to(again.get("/staff/"), "/accounts/2fa/verify/")


@pytest.mark.django_db
def test_wrong_codes_are_refused_and_throttled(clock):
    user = UserFactory(username="analyst", roles=["Analyst"])
    device, codes = enrol(user)
    clock.shift(timedelta(seconds=31))
    client, _ = sign_in(user)
    for _ in range(4):
        client.post("/accounts/2fa/verify/", {"code": "999999"})
        clock.shift(timedelta(seconds=0.2))
    device.refresh_from_db()
    assert device.throttling_failure_count >= 1
    # While throttled even the right code is refused, with the wait stated.
    locked = client.post("/accounts/2fa/verify/", {"code": code_for(device)})
    assert b"Too many wrong codes" in locked.content
    assert sent_to(client.get("/staff/"), "/accounts/2fa/verify/")
    # Recovery codes are throttled on their own device: guesses slow those down too.
    for _ in range(3):
        client.post("/accounts/2fa/verify/", {"code": "aaaaaaaa"})
    static = StaticDevice.objects.get(user=user)
    assert static.throttling_failure_count >= 1
    assert (
        b"Too many wrong codes" in client.post("/accounts/2fa/verify/", {"code": codes[1]}).content
    )

    clock.shift(timedelta(minutes=5))
    assert sent_to(client.post("/accounts/2fa/verify/", {"code": code_for(device)}), "/staff/")


@pytest.mark.django_db
def test_recovery_codes_regenerate_and_turning_off_needs_a_code(clock):
    user = UserFactory(username="manager", roles=["Campaign manager"])
    device, old_codes = enrol(user)
    clock.shift(timedelta(seconds=31))
    client, _ = sign_in(user)
    client.post("/accounts/2fa/verify/", {"code": code_for(device)})
    overview = client.get("/accounts/2fa/")
    assert overview.status_code == 200 and b"codes-left" in overview.content

    fresh = client.post("/accounts/2fa/recovery-codes/")
    new_codes = re.findall(rb"<li><code>([a-z2-7]+)</code></li>", fresh.content)
    assert len(new_codes) == 10
    assert not StaticToken.objects.filter(token__in=old_codes).exists()

    client.post("/accounts/2fa/turn-off/", {"code": "000000"})
    assert TOTPDevice.objects.filter(user=user).exists()
    clock.shift(timedelta(seconds=31))
    client.post("/accounts/2fa/turn-off/", {"code": new_codes[0].decode()})
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not StaticDevice.objects.filter(user=user).exists()
    assert client.get("/staff/").status_code == 200  # not required for the role
    assert sign_in(user)[1]["Location"] == "/staff/"


@pytest.mark.django_db
def test_turning_off_a_required_role_sends_back_to_enrolment(required_admin, clock):
    user = UserFactory(username="boss", roles=["Admin"])
    device, codes = enrol(user)
    clock.shift(timedelta(seconds=31))
    client, _ = sign_in(user)
    client.post("/accounts/2fa/verify/", {"code": code_for(device)})
    client.post("/accounts/2fa/turn-off/", {"code": codes[0]})
    assert sent_to(client.get("/staff/"), "/accounts/2fa/setup/")


@pytest.mark.django_db
def test_an_operator_resets_a_lost_device(required_admin, clock, capsys):
    user = UserFactory(username="lost", roles=["Admin"])
    enrol(user)
    call_command("reset_2fa", "lost")
    assert "2 device(s) removed" in capsys.readouterr().out
    assert not TOTPDevice.objects.filter(user=user).exists()
    _, response = sign_in(user)
    assert sent_to(response, "/accounts/2fa/setup/")  # required: set it up again

    other = UserFactory(username="lost2", roles=["Agent"])
    enrol(other)
    root = UserFactory(username="root", is_superuser=True)
    enrol(root)
    clock.shift(timedelta(seconds=31))
    admin_client = Client()
    admin_client.force_login(root)
    admin_client.post(
        "/accounts/2fa/verify/", {"code": code_for(TOTPDevice.objects.get(user=root))}
    )
    admin_client.post(
        "/admin/auth/user/", {"action": "reset_two_factor", "_selected_action": [other.pk]}
    )
    assert not TOTPDevice.objects.filter(user=other).exists()


@pytest.mark.django_db
def test_a_superuser_counts_as_admin_and_sessions_without_a_role_are_untouched(required_admin):
    root = UserFactory(username="root", is_superuser=True)
    client = Client()
    client.force_login(root)
    assert sent_to(client.get("/admin/"), "/accounts/2fa/setup/")
    agent = UserFactory(username="agent", roles=["Agent"])
    client = Client()
    client.force_login(agent)
    assert client.get("/staff/").status_code == 200


def test_unknown_required_roles_fail_the_system_check(settings):
    from core.apps import _check_2fa_roles

    settings.STAFF_2FA_REQUIRED_ROLES = ["Admin"]
    assert _check_2fa_roles(None) == []
    settings.STAFF_2FA_REQUIRED_ROLES = ["Admins"]
    (error,) = _check_2fa_roles(None)
    assert error.id == "core.E001" and "Admins" in error.msg


def test_anonymous_requests_pass_through_untouched(client):
    assert isinstance(AnonymousUser(), AnonymousUser)
    response = client.get("/accounts/2fa/verify/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_every_second_factor_step_leaves_an_audit_event(clock):
    from core.models import AuditAction, AuditEvent

    user = UserFactory(username="agent", roles=["Agent"])
    device, _ = enrol(user)
    clock.shift(timedelta(seconds=31))
    client, _ = sign_in(user)
    client.post("/accounts/2fa/verify/", {"code": "000000"}, REMOTE_ADDR="198.51.100.7")
    clock.shift(timedelta(seconds=2))
    client.post("/accounts/2fa/verify/", {"code": code_for(device)})
    client.post("/accounts/2fa/recovery-codes/")
    clock.shift(timedelta(seconds=31))
    client.post("/accounts/2fa/turn-off/", {"code": code_for(device)})

    events = list(AuditEvent.objects.filter(object_pk=str(user.pk)).order_by("pk"))
    steps = [e.action_name for e in events if e.action_name.startswith("mfa_")]
    assert steps == [
        AuditAction.MFA_ENROLLED,
        AuditAction.MFA_FAILED,
        AuditAction.MFA_VERIFIED,
        AuditAction.MFA_RECOVERY_CODES,
        AuditAction.MFA_DISABLED,
    ]
    failed = next(e for e in events if e.action_name == AuditAction.MFA_FAILED)
    assert failed.actor == user and failed.remote_addr == "198.51.100.7"
    assert failed.additional_data == {"with": "app"}
    # Neither the code typed nor any secret is kept.
    dumped = str([(e.changes, e.additional_data) for e in events])
    assert "000000" not in dumped and device.key not in dumped
