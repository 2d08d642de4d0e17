import pytest

from core.navigation import nav_for_user
from core.roles import ROLE_NAMES

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_each_role_logs_in_and_sees_its_navigation(role, make_user, page, login, screenshot):
    user = make_user(role)
    login(user.username)

    assert page.get_by_test_id("current-user").inner_text() == user.username
    assert page.get_by_test_id("role").inner_text() == role
    shown = page.get_by_test_id("staff-nav").locator("a").all_inner_texts()
    expected = [item["label"] for s in nav_for_user(user) for item in s["items"]]
    assert shown == expected
    assert ("API tokens" in shown) is (role == "Admin")
    screenshot(f"staff-shell-{user.username}")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/")


def test_small_screens_fold_the_navigation(make_user, page, login, screenshot):
    login(make_user("Agent").username)
    page.set_viewport_size({"width": 390, "height": 800})
    nav = page.get_by_test_id("staff-nav")
    assert not nav.is_visible()
    page.get_by_role("button", name="Menu").click()
    assert nav.is_visible()
    screenshot("staff-shell-mobile")
