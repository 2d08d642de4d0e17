"""GET /api/v1/channels/ and /api/v1/channels/{phone_number_id}/: number health, read-only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.services import api_token_create
from messaging.channels.services import channel_health_apply
from tests.factories import ChannelFactory, ContactFactory, MessageFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/channels/"


@pytest.fixture
def numbers():
    main = ChannelFactory(name="Main", phone_number_id="111", display_phone_number="15550001111")
    second = ChannelFactory(
        name="Second", phone_number_id="222", display_phone_number="15550002222"
    )
    at = timezone.now()
    channel_health_apply(
        channel=main, source="graph", at=at, quality="YELLOW", tier="TIER_1K", status="CONNECTED"
    )
    channel_health_apply(channel=second, source="webhook", at=at, tier="TIER_UNLIMITED")
    for contact in ContactFactory.create_batch(3):
        MessageFactory(
            channel=main,
            contact=contact,
            type="template",
            status=30,
            accepted_at=timezone.now() - timedelta(hours=1),
        )
    return main, second, at


@pytest.fixture
def token_client(api_client, make_user):
    _, key = api_token_create(user=make_user("Analyst"), name="monitoring")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api_client


def test_the_list_shows_every_numbers_health_and_budget(
    token_client, numbers, django_assert_max_num_queries
):
    _main, _second, at = numbers
    # The token (read, last use), the permissions (2), the count, the page (one query).
    with django_assert_max_num_queries(6):
        response = token_client.get(LIST)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 2
    first, other = body["results"]
    assert first == {
        "name": "Main",
        "phone_number_id": "111",
        "display_phone_number": "15550001111",
        "quality": "YELLOW",
        "quality_updated_at": at.isoformat().replace("+00:00", "Z"),
        "quality_source": "graph",
        "tier": "TIER_1K",
        "limit": 1000,
        "tier_updated_at": at.isoformat().replace("+00:00", "Z"),
        "tier_source": "graph",
        "status": "CONNECTED",
        "status_detail": "",
        "status_updated_at": at.isoformat().replace("+00:00", "Z"),
        "status_source": "graph",
        "recipients_24h": 3,
        "budget_left": 997,
        "updated_at": at.isoformat().replace("+00:00", "Z"),
    }
    assert other["name"] == "Second"
    assert other["limit"] is None and other["budget_left"] is None
    assert other["quality"] == "UNKNOWN" and other["quality_updated_at"] is None


def test_the_list_costs_the_same_however_many_numbers(
    token_client, numbers, django_assert_max_num_queries
):
    for i in range(5):
        ChannelFactory(name=f"N{i}", phone_number_id=f"30{i}")
    with django_assert_max_num_queries(6):
        assert token_client.get(LIST).json()["count"] == 7


def test_one_number_by_its_phone_number_id(token_client, numbers):
    response = token_client.get(f"{LIST}111/")
    assert response.status_code == 200
    assert response.json()["budget_left"] == 997
    assert token_client.get(f"{LIST}999/").status_code == 404


def test_a_staff_session_works_too(client, make_user, numbers):
    client.force_login(make_user("Campaign manager"))
    assert client.get(LIST).status_code == 200


def test_search(token_client, numbers):
    assert [c["name"] for c in token_client.get(LIST, {"search": "Second"}).json()["results"]] == [
        "Second"
    ]


@pytest.mark.parametrize("url", [LIST, f"{LIST}111/"])
def test_anonymous_callers_are_refused(api_client, numbers, url):
    response = api_client.get(url)
    assert response.status_code == 401
    assert response.json()["error"]["code"]


@pytest.mark.parametrize("url", [LIST, f"{LIST}111/"])
@pytest.mark.parametrize("role", [None, "Agent", "Content reviewer"])
def test_callers_without_view_channel_are_refused(api_client, make_user, numbers, url, role):
    user = make_user(role)
    assert not user.has_perm("messaging.view_channel")
    _, key = api_token_create(user=user, name="x")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.get(url).status_code == 403


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_api_is_read_only(token_client, numbers, method):
    response = getattr(token_client, method)(f"{LIST}111/", {})
    assert response.status_code in (403, 405)
    admin_response = getattr(token_client, method)(LIST, {})
    assert admin_response.status_code in (403, 405)


def test_the_openapi_schema_describes_both(admin_user, client):
    client.force_login(admin_user)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert set(schema["paths"]) >= {"/api/v1/channels/", "/api/v1/channels/{phone_number_id}/"}
    properties = schema["components"]["schemas"]["ChannelHealth"]["properties"]
    assert {"quality", "tier", "limit", "status", "recipients_24h", "budget_left"} <= set(
        properties
    )
    assert properties["budget_left"]["nullable"] is True
