"""Meta's number and account health webhooks -> NumberHealthUpdate (no database).

Shapes from Meta's webhook references (phone_number_quality_update, account_update,
business_capability_update); the ACCOUNT_RESTRICTION body is pywa's fixture, read from the
shared peer corpus (never copied into the repository).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from messaging.providers.base import NumberHealthUpdate, UnhandledChange
from messaging.providers.meta_cloud import parse_webhook

PEER_WEBHOOKS = Path(os.environ.get("PEER_WEBHOOKS_DIR", "/work/shared/peer-webhooks"))
WABA = "100000000000001"


def change(field: str, value: dict, *, time: int | None = 1748454394) -> dict:
    entry = {"id": WABA, "changes": [{"field": field, "value": value}]}
    if time is not None:
        entry["time"] = time
    return {"object": "whatsapp_business_account", "entry": [entry]}


def only(payload: dict):
    (event,) = parse_webhook(payload)
    return event


def test_a_flag_names_the_number_by_its_display_number_and_keeps_the_limit():
    update = only(
        change(
            "phone_number_quality_update",
            {
                "display_phone_number": "16505551111",
                "event": "FLAGGED",
                "current_limit": "TIER_10K",
            },
        )
    )
    assert isinstance(update, NumberHealthUpdate)
    assert update.field == "phone_number_quality_update" and update.event == "FLAGGED"
    assert update.display_phone_number == "16505551111" and update.channel_key is None
    assert update.waba_id == WABA and not update.account_wide
    assert update.status == "FLAGGED" and update.status_replaces is None
    assert update.tier == "TIER_10K"
    assert update.timestamp == dt.datetime.fromtimestamp(1748454394, tz=dt.UTC)


def test_unflagged_clears_only_a_flag():
    update = only(
        change("phone_number_quality_update", {"display_phone_number": "1", "event": "UNFLAGGED"})
    )
    assert update.status == "CONNECTED" and update.status_replaces == ("FLAGGED",)
    assert update.tier is None


def test_a_downgrade_carries_old_and_new_limits():
    update = only(
        change(
            "phone_number_quality_update",
            {
                "display_phone_number": "15550783881",
                "event": "DOWNGRADE",
                "old_limit": "TIER_10K",
                "current_limit": "TIER_1K",
            },
        )
    )
    assert update.tier == "TIER_1K" and update.status is None
    assert update.detail == "DOWNGRADE: TIER_10K to TIER_1K"


def test_the_portfolio_limit_wins_over_the_deprecated_current_limit():
    update = only(
        change(
            "phone_number_quality_update",
            {
                "display_phone_number": "15550783881",
                "event": "UPGRADE",
                "current_limit": "TIER_1K",
                "max_daily_conversations_per_business": "TIER_2K",
            },
        )
    )
    assert update.tier == "TIER_2K"


@pytest.mark.parametrize(
    ("value", "tier"),
    [
        ({"max_daily_conversation_per_phone": 2000}, 2000),
        ({"max_daily_conversation_per_phone": -1, "max_phone_numbers_per_waba": 25}, -1),
        ({"max_daily_conversations_per_business": "TIER_UNLIMITED"}, "TIER_UNLIMITED"),
        ({"messaging_limit_tier": "TIER_100K"}, "TIER_100K"),
    ],
)
def test_capability_updates_carry_the_account_wide_limit(value, tier):
    update = only(change("business_capability_update", value))
    assert isinstance(update, NumberHealthUpdate)
    assert update.account_wide and update.tier == tier and update.status is None


def test_a_capability_update_without_a_limit_is_not_health():
    event = only(change("business_capability_update", {"max_phone_numbers_per_business": 2}))
    assert isinstance(event, UnhandledChange)


def test_pywa_account_restriction_from_the_peer_corpus():
    path = PEER_WEBHOOKS / "50_pywa_account_update_restriction.json"
    if not path.exists():
        pytest.skip(f"peer corpus not found at {PEER_WEBHOOKS}")
    update = only(json.loads(path.read_text()))
    assert isinstance(update, NumberHealthUpdate)
    assert update.field == "account_update" and update.event == "ACCOUNT_RESTRICTION"
    assert update.account_wide and update.waba_id == "203948576610294"
    assert update.status == "RESTRICTED"
    assert update.detail == (
        "ACCOUNT_RESTRICTION: RESTRICTED_BIZ_INITIATED_MESSAGING until 2022-01-04 21:08 UTC; "
        "RESTRICTED_ADD_PHONE_NUMBER_ACTION until 2022-01-04 21:08 UTC"
    )


@pytest.mark.parametrize(
    ("state", "status", "replaces"),
    [
        ("DISABLE", "BANNED", None),
        ("REINSTATE", "CONNECTED", ("BANNED", "RESTRICTED")),
        ("SCHEDULE_FOR_DISABLE", None, None),
    ],
)
def test_bans_follow_the_ban_state(state, status, replaces):
    update = only(
        change(
            "account_update",
            {
                "event": "DISABLED_UPDATE",
                "ban_info": {"waba_ban_state": state, "waba_ban_date": "April 17, 2025"},
            },
        )
    )
    assert update.status == status and update.status_replaces == replaces
    assert update.detail == f"DISABLED_UPDATE: {state} (April 17, 2025)"


def test_deletion_and_violation():
    deleted = only(change("account_update", {"event": "ACCOUNT_DELETED"}))
    assert deleted.status == "DELETED"
    violation = only(
        change(
            "account_update",
            {"event": "ACCOUNT_VIOLATION", "violation_info": {"violation_type": "ADULT"}},
        )
    )
    assert violation.status is None and violation.detail == "ACCOUNT_VIOLATION: ADULT"


@pytest.mark.parametrize("event", ["PARTNER_ADDED", "VERIFIED_ACCOUNT", "MM_LITE_TERMS_SIGNED"])
def test_account_events_that_are_not_health_stay_unhandled(event):
    assert isinstance(only(change("account_update", {"event": event})), UnhandledChange)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "junk",
        {"event": 5, "restriction_info": "x", "ban_info": []},
        {"event": "ACCOUNT_RESTRICTION", "restriction_info": [None, {"expiration": "soon"}]},
    ],
)
@pytest.mark.parametrize(
    "field", ["phone_number_quality_update", "account_update", "business_capability_update"]
)
def test_never_raises_on_junk(field, value):
    events = parse_webhook(
        {"entry": [{"id": WABA, "time": "x", "changes": [{"field": field, "value": value}]}]}
    )
    assert len(events) == 1
