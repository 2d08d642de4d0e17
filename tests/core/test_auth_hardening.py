"""Sign-in hardening (RELIABILITY.md, access): brute force is slowed by django-axes, sessions
expire, and weak passwords are refused wherever a password is set."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def sign_in(client, username, password, ip="10.0.0.1"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_repeated_failures_lock_the_username_from_that_address_until_the_cool_off(
    make_user, settings
):
    make_user("Agent", username="target")
    make_user("Agent", username="bystander")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "target", "guess").status_code == 200  # the form again
    assert sign_in(client, "target", "guess").status_code == 429  # the last allowed failure
    # Locked: even the right password is refused, with a 429 and no session.
    locked = sign_in(client, "target", PASSWORD)
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    # Others are not locked out by someone guessing at "target".
    assert sign_in(Client(), "bystander", PASSWORD).status_code == 302
    # After the cool-off the right password works again.
    with time_machine.travel(timezone.now() + settings.AXES_COOLOFF_TIME + timedelta(minutes=1)):
        assert sign_in(Client(), "target", PASSWORD).status_code == 302


def test_a_successful_sign_in_resets_the_failure_count(make_user, settings):
    make_user("Agent", username="typo")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "typo", "guess")
    assert sign_in(client, "typo", PASSWORD).status_code == 302
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "typo", "guess")
    assert sign_in(client, "typo", PASSWORD).status_code == 302  # not locked: count was reset


def test_sessions_expire_after_their_age_and_with_the_browser(make_user, settings):
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    make_user("Agent", username="sessions")
    client = Client()
    assert sign_in(client, "sessions", PASSWORD).status_code == 302
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    assert not cookie["max-age"] and not cookie["expires"]  # gone when the browser closes
    assert cookie["httponly"]
    assert client.get("/staff/").status_code == 200
    later = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE + 60)
    with time_machine.travel(later):
        response = client.get("/staff/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    "password",
    ["short1!", "password1234", "12345678901234", "sessions-user"],
    ids=["too-short", "common", "numeric", "like-the-username"],
)
def test_weak_passwords_are_refused(make_user, password):
    user = make_user("Agent", username="sessions-user")
    with pytest.raises(ValidationError):
        validate_password(password, user=user)


def test_the_password_change_form_applies_the_validators(make_user):
    user = make_user("Admin", username="changer")
    client = Client()
    client.force_login(user)
    response = client.post(
        "/admin/password_change/",
        {"old_password": PASSWORD, "new_password1": "abc12345", "new_password2": "abc12345"},
    )
    assert response.status_code == 200  # the form again
    assert "This password is too short" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
