import pytest
from rest_framework.test import APIClient

from core.roles import ROLE_NAMES
from tests.factories import UserFactory


@pytest.fixture
def make_user(db):
    def make(role: str | None = None, **kwargs):
        roles = [role] if role else []
        username = kwargs.pop("username", None) or (
            role.lower().replace(" ", "_") if role else "norole"
        )
        return UserFactory(username=username, roles=roles, **kwargs)

    return make


@pytest.fixture(params=ROLE_NAMES)
def role_user(request, make_user):
    return make_user(request.param)


@pytest.fixture
def admin_user(make_user):
    return make_user("Admin")


@pytest.fixture
def api_client():
    return APIClient()
