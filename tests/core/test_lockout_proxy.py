"""The lock-out hole behind a load balancer (issue 17; RELIABILITY.md, access).

Every client reached Parley from the balancer's address, so five bad passwords locked a user
out for everyone and each further failure restarted the lock-out. The client address now
comes from the header the operator trusts (TRUSTED_PROXY_COUNT), locks are per address and
username, and the cool-off counts from the lock-out.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from core.addresses import client_address

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
BALANCER = "10.0.0.2"


def sign_in(client, username, password, *, client_ip, balancer=BALANCER):
    return client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=balancer,
        HTTP_X_FORWARDED_FOR=f"198.51.100.77, {client_ip}",  # first entry forged by the client
    )


def lock(username, client_ip, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, username, "guess", client_ip=client_ip)
    assert sign_in(client, username, PASSWORD, client_ip=client_ip).status_code == 429


def test_the_client_is_the_nth_address_from_the_right_of_the_trusted_header(settings):
    factory = RequestFactory()
    request = factory.get("/", REMOTE_ADDR=BALANCER, HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.5")
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(request) == BALANCER  # no proxy trusted: the header is ignored
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(request) == "203.0.113.5"  # never the forgeable leftmost entry
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_address(request) == "6.6.6.6"
    settings.TRUSTED_PROXY_COUNT = 3  # fewer hops than trusted proxies: trust nothing
    assert client_address(request) == BALANCER
    settings.TRUSTED_PROXY_COUNT = 1
    bad = factory.get("/", REMOTE_ADDR=BALANCER, HTTP_X_FORWARDED_FOR="not-an-ip")
    assert client_address(bad) == BALANCER
    ported = factory.get("/", REMOTE_ADDR=BALANCER, HTTP_X_FORWARDED_FOR="[2001:db8::7]:443")
    assert client_address(ported) == "2001:db8::7"


def test_behind_a_balancer_a_lock_on_one_address_does_not_lock_the_user_elsewhere(
    make_user, settings
):
    settings.TRUSTED_PROXY_COUNT = 1
    make_user("Admin", username="boss")
    lock("boss", "203.0.113.5", settings)
    # The same balancer address, another client: the admin still signs in.
    assert sign_in(Client(), "boss", PASSWORD, client_ip="192.0.2.44").status_code == 302


def test_without_a_trusted_proxy_setting_the_balancer_address_is_what_locks(make_user, settings):
    """The hole as it was (documents why TRUSTED_PROXY_COUNT must be set behind a balancer)."""
    settings.TRUSTED_PROXY_COUNT = 0
    make_user("Admin", username="boss")
    lock("boss", "203.0.113.5", settings)
    assert sign_in(Client(), "boss", PASSWORD, client_ip="192.0.2.44").status_code == 429


def test_a_lock_is_per_address_and_username(make_user, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    make_user("Agent", username="target")
    make_user("Agent", username="bystander")
    lock("target", "203.0.113.5", settings)
    # Another user from the locked address is not locked.
    assert sign_in(Client(), "bystander", PASSWORD, client_ip="203.0.113.5").status_code == 302


def test_failures_during_the_lock_out_do_not_extend_it(make_user, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    make_user("Agent", username="target")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        lock("target", "203.0.113.5", settings)
    # Keep guessing until just before the cool-off ends: each guess is refused...
    cool_off = settings.AXES_COOLOFF_TIME
    with time_machine.travel(start + cool_off - timedelta(seconds=30), tick=False):
        response = sign_in(Client(), "target", "guess", client_ip="203.0.113.5")
        assert response.status_code == 429
    # ...and the cool-off still ends when it was due: the right password gets in.
    with time_machine.travel(start + cool_off + timedelta(seconds=5), tick=False):
        response = sign_in(Client(), "target", PASSWORD, client_ip="203.0.113.5")
        assert response.status_code == 302


def test_a_correct_password_after_the_cool_off_gets_in(make_user, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    make_user("Agent", username="target")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        lock("target", "203.0.113.5", settings)
    with time_machine.travel(start + settings.AXES_COOLOFF_TIME - timedelta(seconds=5)):
        assert sign_in(Client(), "target", PASSWORD, client_ip="203.0.113.5").status_code == 429
    with time_machine.travel(start + settings.AXES_COOLOFF_TIME + timedelta(seconds=5)):
        assert sign_in(Client(), "target", PASSWORD, client_ip="203.0.113.5").status_code == 302
