"""The friendly 403: a staff page refused names the missing permission, the roles that hold
it and whom to ask; the API keeps its JSON envelope."""

import pytest

pytestmark = pytest.mark.django_db


def test_a_refused_staff_page_explains_what_is_missing_and_whom_to_ask(client, make_user):
    make_user("Admin", username="ada", first_name="Ada", last_name="Admin")
    client.force_login(make_user("Agent"))
    response = client.get("/staff/audit/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "You can't open this page" in html
    assert "Can view audit event" in html
    assert '<span class="tag">Admin</span>' in html
    assert "Ada Admin" in html
    assert 'data-testid="staff-nav"' in html  # the staff shell, with the menu, around it
    assert "Back to your home page" in html


def test_a_user_without_a_role_is_told_so(client, make_user):
    client.force_login(make_user())
    response = client.get("/staff/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "You can't open this page" in html
    assert "Can use the staff pages" in html
    assert "Back to your home page" not in html


def test_other_refusals_get_the_same_page_in_general_words(client, make_user):
    """The admin raises a bare PermissionDenied: the page still explains, without names."""
    client.force_login(make_user("Content reviewer"))
    response = client.get("/admin/messaging/autoreplyrule/test/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "You can't open this page" in html and "Your role does not allow" in html


def test_the_api_keeps_its_json_envelope(client, make_user):
    client.force_login(make_user("Agent"))
    response = client.get("/api/v1/campaigns/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] in ("permission_denied", "forbidden")
