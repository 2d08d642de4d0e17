"""The simulator's numbers over loopback: Graph `GET /{phone_number_id}` read by the Meta
provider, and the signed health webhooks `POST /_sim/number_event` posts (no database)."""

from __future__ import annotations

import json
import time

import pytest
import requests

from messaging.providers.base import AuthError, NumberHealthUpdate, PermanentError
from messaging.providers.meta_cloud import parse_webhook, verify_signature

from .support import APP_SECRET, PHONE_NUMBER_ID, WABA_ID, make_provider


def event(simulator, **body):
    response = requests.post(f"{simulator.url}/_sim/number_event", json=body, timeout=2)
    assert response.status_code == 200, response.text
    return response.json()


# --- Graph: the number's fields ----------------------------------------------------------------


def test_the_provider_reads_the_numbers_health(provider):
    health = provider.number_health()
    assert health.quality_rating == "GREEN"
    assert health.messaging_tier == "TIER_10K"
    assert health.status == "CONNECTED"
    assert health.name_status == "APPROVED"
    assert health.display_phone_number == "15550001111"
    assert health.raw["id"] == PHONE_NUMBER_ID


def test_graph_answers_only_the_fields_asked_for(simulator):
    response = requests.get(
        f"{simulator.url}/v25.0/{PHONE_NUMBER_ID}",
        params={"fields": "quality_rating,status"},
        headers={"Authorization": "Bearer test-access-token"},
        timeout=2,
    )
    assert response.json() == {
        "id": PHONE_NUMBER_ID,
        "quality_rating": "GREEN",
        "status": "CONNECTED",
    }


def test_the_defaults_are_configurable(simulator, provider):
    simulator.configure(quality_rating="YELLOW", messaging_limit_tier="TIER_250")
    health = provider.number_health()
    assert (health.quality_rating, health.messaging_tier) == ("YELLOW", "TIER_250")


def test_a_field_graph_does_not_have_is_refused_as_graph_does(simulator):
    provider = make_provider(simulator.url, number_fields="quality_rating,shoe_size")
    with pytest.raises(PermanentError) as error:
        provider.number_health()
    assert error.value.code == 100 and "shoe_size" in str(error.value)


def test_a_wrong_token_is_an_auth_error(simulator):
    with pytest.raises(AuthError):
        make_provider(simulator.url, access_token="wrong").number_health()


def test_a_number_event_changes_what_graph_reports(simulator, provider):
    answer = event(simulator, quality="YELLOW", tier="TIER_1K")
    assert answer["number"]["quality_rating"] == "YELLOW"
    health = provider.number_health()
    assert (health.quality_rating, health.messaging_tier, health.status) == (
        "YELLOW",
        "TIER_1K",
        "CONNECTED",
    )
    assert requests.get(f"{simulator.url}/_sim/numbers", timeout=2).json()["quality_rating"] == (
        "YELLOW"
    )


def test_reset_forgets_number_events(simulator, provider):
    event(simulator, quality="RED")
    requests.post(f"{simulator.url}/_sim/reset", timeout=2)
    assert provider.number_health().quality_rating == "GREEN"


@pytest.mark.parametrize(
    "body",
    [{"quality": "PURPLE"}, {"tier": "LOTS"}, {"status": "ASLEEP"}, []],
)
def test_a_nonsense_number_event_is_refused(simulator, body):
    response = requests.post(f"{simulator.url}/_sim/number_event", json=body, timeout=2)
    assert response.status_code == 400


# --- The webhooks Meta would send --------------------------------------------------------------


def _received(receiver, changes: int, timeout: float = 3.0) -> list[dict]:
    """The signed bodies posted until they hold `changes` changes (the simulator may batch
    changes due at the same moment into one post)."""
    deadline = time.monotonic() + timeout
    while True:
        bodies = [json.loads(r["body"]) for r in receiver.requests]
        found = sum(len(e["changes"]) for b in bodies for e in b["entry"])
        if found >= changes or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert found == changes, bodies
    for request in receiver.requests:
        assert verify_signature(APP_SECRET, request["headers"], request["body"])
    return bodies


def test_quality_falling_to_red_flags_the_number_and_posts_a_signed_flag(
    simulator, webhook_receiver, provider
):
    answer = event(simulator, quality="RED")
    assert answer["webhooks"] == ["phone_number_quality_update"] and answer["scheduled"]
    (body,) = _received(webhook_receiver, 1)
    entry = body["entry"][0]
    assert entry["id"] == WABA_ID and isinstance(entry["time"], int)
    assert entry["changes"] == [
        {
            "field": "phone_number_quality_update",
            "value": {
                "display_phone_number": "15550001111",
                "event": "FLAGGED",
                "current_limit": "TIER_10K",
            },
        }
    ]
    (update,) = parse_webhook(body)
    assert isinstance(update, NumberHealthUpdate) and update.status == "FLAGGED"
    health = provider.number_health()
    assert (health.quality_rating, health.status) == ("RED", "FLAGGED")


def test_recovering_lifts_the_flag(simulator, webhook_receiver):
    event(simulator, quality="RED")
    event(simulator, quality="YELLOW")
    bodies = _received(webhook_receiver, 2)
    events = [c["value"]["event"] for b in bodies for e in b["entry"] for c in e["changes"]]
    assert sorted(events) == ["FLAGGED", "UNFLAGGED"]


def test_a_lower_tier_is_a_downgrade_with_both_limits(simulator, webhook_receiver):
    event(simulator, tier="TIER_1K")
    (body,) = _received(webhook_receiver, 1)
    value = body["entry"][0]["changes"][0]["value"]
    assert value == {
        "display_phone_number": "15550001111",
        "event": "DOWNGRADE",
        "old_limit": "TIER_10K",
        "current_limit": "TIER_1K",
    }


def test_a_restriction_a_ban_and_an_account_limit(simulator, webhook_receiver):
    event(simulator, status="RESTRICTED")
    event(simulator, status="BANNED", account_limit=250)
    bodies = _received(webhook_receiver, 3)
    changes = [c for b in bodies for e in b["entry"] for c in e["changes"]]
    by_event = {c["value"].get("event", c["field"]): c for c in changes}
    restriction = by_event["ACCOUNT_RESTRICTION"]["value"]["restriction_info"][0]
    assert restriction["restriction_type"] == "RESTRICTED_BIZ_INITIATED_MESSAGING"
    assert by_event["DISABLED_UPDATE"]["value"]["ban_info"]["waba_ban_state"] == "DISABLE"
    assert by_event["business_capability_update"]["value"]["max_daily_conversation_per_phone"] == (
        250
    )
    parsed = [u for b in bodies for u in parse_webhook(b)]
    assert all(isinstance(u, NumberHealthUpdate) for u in parsed)
    assert {u.status for u in parsed} >= {"RESTRICTED", "BANNED"}


def test_an_explicit_event_is_posted_as_given(simulator, webhook_receiver):
    answer = event(simulator, event="THROUGHPUT_UPGRADE")
    assert answer["webhooks"] == ["phone_number_quality_update"]
    (body,) = _received(webhook_receiver, 1)
    assert body["entry"][0]["changes"][0]["value"]["event"] == "THROUGHPUT_UPGRADE"


def test_nothing_changed_posts_nothing(simulator, webhook_receiver):
    answer = event(simulator, quality="GREEN")
    assert answer["webhooks"] == [] and not answer["scheduled"]
    assert simulator.wait_webhooks()  # its queue is idle: nothing was or will be posted
    assert webhook_receiver.requests == []
