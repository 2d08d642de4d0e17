"""Two-factor sign-in in a real browser, on a phone-sized and a laptop-sized screen: an Admin
(whose role requires it) is sent from the password to set-up, scans nothing but types the key
into "the app" (TOTP computed here), keeps the recovery codes, and next time signs in with
one of them."""

from base64 import b32decode

import pytest
from django_otp.oath import TOTP

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def totp_code(secret: str) -> str:
    key = b32decode(secret.replace(" ", "").upper() + "=" * (-len(secret.replace(" ", "")) % 8))
    return f"{TOTP(key, step=30, t0=0, digits=6, drift=0).token():06d}"


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("width", [390, 1366])
def test_an_admin_enrols_then_signs_in_with_a_recovery_code(
    width, settings, make_user, page, live_server, screenshot
):
    settings.STAFF_2FA_REQUIRED_ROLES = ["Admin"]
    page.set_viewport_size({"width": width, "height": 900})
    user = make_user("Admin")

    page.goto(f"{live_server.url}/staff/contacts/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url("**/accounts/2fa/setup/**")
    assert page.get_by_test_id("setup-required").is_visible()
    assert page.get_by_test_id("totp-qr").is_visible()
    assert fits(page)
    screenshot(f"two-factor-setup-{width}")

    page.goto(f"{live_server.url}/staff/")  # nothing staff until it is set up
    page.wait_for_url("**/accounts/2fa/setup/**")

    page.fill("#id_code", "000000")
    page.get_by_role("button", name="Turn on").click()
    assert page.get_by_test_id("code-error").is_visible()
    page.wait_for_timeout(1100)  # the throttle the wrong code started

    secret = page.get_by_test_id("totp-secret").inner_text()
    page.fill("#id_code", totp_code(secret))
    page.get_by_role("button", name="Turn on").click()
    codes = page.get_by_test_id("recovery-codes").locator("code").all_inner_texts()
    assert len(codes) == 10
    assert fits(page)
    screenshot(f"two-factor-codes-{width}")
    page.get_by_test_id("continue").click()
    page.wait_for_url("**/staff/**")

    if width < 700:
        page.get_by_role("button", name="Menu").click()
    page.get_by_test_id("staff-nav").get_by_role("link", name="Two-factor sign-in").click()
    assert "On:" in page.get_by_test_id("mfa-status").inner_text()
    page.goto(f"{live_server.url}/staff/")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/")

    page.fill("#id_username", user.username)
    page.fill("#id_password", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url("**/accounts/2fa/verify/**")
    assert fits(page)
    screenshot(f"two-factor-verify-{width}")
    page.fill("#id_code", codes[0])
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{live_server.url}/staff/")
    assert page.get_by_test_id("current-user").inner_text() == user.username
