"""Regression: `?limit=100000` returned every contact to a role that may not export them.
Every API list is capped at API_MAX_PAGE_SIZE; a hostile offset is a 400."""

import pytest
from django.urls import reverse

from core.api.pagination import MAX_OFFSET
from core.services import api_token_create
from tests.factories import ContactFactory, MessageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(make_user, api_client):
    def as_role(role: str):
        _, key = api_token_create(user=make_user(role), name="pages")
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return api_client

    return as_role


def test_a_role_without_export_gets_at_most_one_capped_page(api, settings):
    settings.API_MAX_PAGE_SIZE = 5
    ContactFactory.create_batch(8)
    agent = api("Agent")  # may view contacts, may not export them
    response = agent.get("/api/v1/contacts/", {"limit": 100000})
    assert response.status_code == 200
    body = response.json()
    assert len(body["results"]) == 5
    assert body["count"] == 8
    assert "limit=5" in body["next"]


def test_the_default_cap_is_200(api):
    ContactFactory.create_batch(201)
    response = api("Admin").get("/api/v1/contacts/", {"limit": 100000})
    assert len(response.json()["results"]) == 200


def test_uncounted_report_lists_are_capped_too(api, settings):
    settings.API_MAX_PAGE_SIZE = 3
    for _ in range(5):
        MessageFactory()
    response = api("Admin").get("/api/v1/reporting/messages/status", {"limit": 100000})
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == 3
    assert response.json()["next"]


@pytest.mark.parametrize("offset", ["9" * 30, str(MAX_OFFSET + 1)])
def test_an_offset_past_any_table_is_a_400(api, offset):
    response = api("Admin").get("/api/v1/contacts/", {"offset": offset})
    assert response.status_code == 400
    assert response.json()["error"]["details"]["offset"]


def test_a_30_digit_limit_is_capped_not_an_error(api, settings):
    settings.API_MAX_PAGE_SIZE = 2
    ContactFactory.create_batch(3)
    response = api("Admin").get("/api/v1/contacts/", {"limit": "9" * 30})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 2


def test_the_schema_documents_the_cap(api, client):
    schema = api("Admin").get(reverse("api-schema"), {"format": "json"}).json()
    limit = next(
        p for p in schema["paths"]["/api/v1/contacts/"]["get"]["parameters"] if p["name"] == "limit"
    )
    assert limit["schema"]["maximum"] == 200
    assert "exports" in limit["description"]
