import pytest
from django.utils import timezone

from core.services import api_token_create, api_token_revoke

pytestmark = pytest.mark.django_db


def test_api_requires_authentication(api_client):
    response = api_client.get("/api/v1/me/")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "not_authenticated"
    assert error["message"]
    assert error["details"] == {}


def test_token_authentication(api_client, make_user):
    user = make_user("Analyst")
    _, key = api_token_create(user=user, name="shop")
    response = api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200
    assert response.json()["username"] == user.username
    assert response.json()["roles"] == ["Analyst"]
    assert api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200


def test_only_the_hash_is_stored(make_user):
    token, key = api_token_create(user=make_user(), name="x")
    assert key not in (token.key_hash, token.prefix)
    assert token.prefix == key[:8]


@pytest.mark.parametrize("header", ["Token nope", "Token", "Token a b", "Bearer \xff"])
def test_bad_tokens_are_refused(api_client, header):
    response = api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert "error" in response.json()


def test_revoked_and_expired_tokens_are_refused(api_client, make_user):
    user = make_user("Analyst")
    token, key = api_token_create(user=user, name="old")
    api_token_revoke(token=token)
    assert api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401
    _, key2 = api_token_create(
        user=user, name="exp", expires_at=timezone.now() - timezone.timedelta(seconds=1)
    )
    assert api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key2}").status_code == 401


def test_inactive_user_token_refused(api_client, make_user):
    user = make_user("Analyst", is_active=False)
    _, key = api_token_create(user=user, name="x")
    assert api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401


def test_schema_and_docs_need_authentication(client, make_user):
    assert client.get("/api/schema/").status_code in (401, 403)
    assert client.get("/api/docs/").status_code in (401, 403)
    client.force_login(make_user("Analyst"))
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/me/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


def test_only_the_docs_page_allows_inline_styles_and_none_allows_inline_script(client, make_user):
    client.force_login(make_user("Analyst"))
    docs = client.get("/api/docs/")["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in docs
    assert "script-src 'self';" in docs or docs.endswith("script-src 'self'")
    home = client.get("/staff/")["Content-Security-Policy"]
    assert "unsafe-inline" not in home


def test_session_api_calls_need_csrf(make_user):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(make_user("Admin"))
    # A state-changing call through the session without a CSRF token is refused.
    response = client.post("/api/v1/me/", {})
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]


def test_model_permissions_fail_closed_for_views_without_a_queryset(rf, make_user):
    from rest_framework.views import APIView

    from core.api.permissions import ModelPermissions

    class Bare(APIView):
        pass

    request = rf.get("/")
    request.user = make_user("Admin")
    assert ModelPermissions().has_permission(request, Bare()) is False

    class Named(APIView):
        required_permissions = {"GET": ["core.access_staff"]}

    assert ModelPermissions().has_permission(request, Named()) is True
    request.user = make_user()
    assert ModelPermissions().has_permission(request, Named()) is False
