"""Number and account health webhooks, processed as the worker processes them (real DB)."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from django.utils import timezone

from messaging.channels.selectors import channel_budget_left
from messaging.channels.services import channel_health_apply
from messaging.models import WebhookState
from messaging.webhooks.services import webhook_event_process, webhook_events_replay
from tests.factories import ChannelFactory

from .support import WABA_ID, process

pytestmark = pytest.mark.django_db

PEER_WEBHOOKS = Path(os.environ.get("PEER_WEBHOOKS_DIR", "/work/shared/peer-webhooks"))
T0 = 1767225600  # 2026-01-01 00:00 UTC


def body(*changes: tuple[str, dict], waba_id: str = WABA_ID, time: int | None = T0) -> dict:
    entry: dict = {"id": waba_id, "changes": [{"field": f, "value": v} for f, v in changes]}
    if time is not None:
        entry["time"] = time
    return {"object": "whatsapp_business_account", "entry": [entry]}


def quality(event: str, display: str = "15550001111", **extra) -> tuple[str, dict]:
    return (
        "phone_number_quality_update",
        {"display_phone_number": display, "event": event, **extra},
    )


@pytest.fixture
def main():
    return ChannelFactory(name="Main", display_phone_number="+1 555-000-1111")


@pytest.fixture
def second():
    return ChannelFactory(
        name="Second", phone_number_id="200000000000002", display_phone_number="15550002222"
    )


def test_a_flag_is_routed_by_display_number_and_kept_with_its_time(main, second):
    event = process(body(quality("FLAGGED", current_limit="TIER_10K")))
    assert event.state == WebhookState.PROCESSED, event.error
    main.refresh_from_db()
    second.refresh_from_db()
    assert main.number_status == "FLAGGED" and main.messaging_tier == "TIER_10K"
    assert main.status_source == main.tier_source == "webhook"
    assert main.status_updated_at == dt.datetime.fromtimestamp(T0, tz=dt.UTC)
    assert main.status_detail == "FLAGGED"
    assert second.number_status == "UNKNOWN"


def test_unflagged_returns_a_flagged_number_to_connected(main):
    process(body(quality("FLAGGED")))
    process(body(quality("UNFLAGGED"), time=T0 + 60))
    main.refresh_from_db()
    assert main.number_status == "CONNECTED"


def test_a_downgrade_lowers_the_budget(main, settings):
    settings.MESSAGING_UNIQUE_RECIPIENT_LIMIT = 100_000
    process(body(quality("DOWNGRADE", old_limit="TIER_10K", current_limit="TIER_1K")))
    main.refresh_from_db()
    assert main.messaging_tier == "TIER_1K"
    assert channel_budget_left(main) == 1000


def test_a_number_meta_names_but_parley_does_not_know_fails_the_item(main):
    event = process(body(quality("FLAGGED", display="19990000000")))
    assert event.state == WebhookState.FAILED
    assert "no number 19990000000 in WABA" in event.error


def test_an_unknown_account_fails_the_item(main):
    event = process(
        body(
            ("business_capability_update", {"max_daily_conversation_per_phone": 250}), waba_id="42"
        )
    )
    assert event.state == WebhookState.FAILED
    assert "unknown WABA id '42'" in event.error


def test_the_account_limit_reaches_every_number_of_the_account(main, second):
    event = process(
        body(("business_capability_update", {"max_daily_conversation_per_phone": 2000}))
    )
    assert event.state == WebhookState.PROCESSED, event.error
    main.refresh_from_db()
    second.refresh_from_db()
    assert main.messaging_tier == second.messaging_tier == "TIER_2K"


def test_a_limit_parley_cannot_read_fails_alone_and_the_rest_applies(main):
    event = process(
        body(
            ("business_capability_update", {"max_daily_conversation_per_phone": "lots"}),
            quality("FLAGGED"),
        )
    )
    assert event.state == WebhookState.FAILED
    assert "business_capability_update: ValueError: 'lots' is not a messaging tier" in event.error
    main.refresh_from_db()
    assert main.number_status == "FLAGGED" and main.messaging_tier == ""


def test_pywa_account_restriction_from_the_peer_corpus_stops_business_initiated_sends():
    path = PEER_WEBHOOKS / "50_pywa_account_update_restriction.json"
    if not path.exists():
        pytest.skip(f"peer corpus not found at {PEER_WEBHOOKS}")
    # The corpus routes to this WABA and number (SOURCES.md, "What was changed").
    channel = ChannelFactory(
        waba_id="203948576610294", phone_number_id="118765432109876", messaging_tier="TIER_1K"
    )
    event = process(path.read_text())
    assert event.state == WebhookState.PROCESSED, event.error
    channel.refresh_from_db()
    assert channel.number_status == "RESTRICTED"
    assert channel.status_detail.startswith(
        "ACCOUNT_RESTRICTION: RESTRICTED_BIZ_INITIATED_MESSAGING until 2022-01-04"
    )
    assert channel_budget_left(channel) == 0


def test_a_ban_and_its_reinstatement(main):
    ban = {"event": "DISABLED_UPDATE", "ban_info": {"waba_ban_state": "DISABLE"}}
    process(body(("account_update", ban)))
    main.refresh_from_db()
    assert main.number_status == "BANNED"
    back = {"event": "DISABLED_UPDATE", "ban_info": {"waba_ban_state": "REINSTATE"}}
    process(body(("account_update", back), time=T0 + 60))
    main.refresh_from_db()
    assert main.number_status == "CONNECTED" and main.status_detail == "DISABLED_UPDATE: REINSTATE"


def test_a_violation_changes_nothing_but_is_logged(main, caplog):
    violation = {"event": "ACCOUNT_VIOLATION", "violation_info": {"violation_type": "SCAM"}}
    event = process(body(("account_update", violation)))
    assert event.state == WebhookState.PROCESSED
    main.refresh_from_db()
    assert main.number_status == "UNKNOWN"
    assert any("ACCOUNT_VIOLATION: SCAM" in r.getMessage() for r in caplog.records)


def test_a_late_webhook_never_overwrites_a_newer_graph_reading(main):
    channel_health_apply(channel=main, source="graph", status="CONNECTED")  # now, after T0
    process(body(quality("FLAGGED")))
    main.refresh_from_db()
    assert main.number_status == "CONNECTED" and main.status_source == "graph"


def test_replaying_a_health_event_changes_nothing(main):
    event = process(body(quality("FLAGGED", current_limit="TIER_1K")))
    main.refresh_from_db()
    before = (main.number_status, main.status_updated_at, main.messaging_tier)
    assert webhook_events_replay(event_ids=[event.pk], enqueue=False) == 1
    webhook_event_process(event_id=event.pk)
    event.refresh_from_db()
    main.refresh_from_db()
    assert event.state == WebhookState.PROCESSED
    assert (main.number_status, main.status_updated_at, main.messaging_tier) == before


def test_without_entry_time_the_reading_is_dated_on_arrival(main):
    before = timezone.now()
    process(body(quality("FLAGGED"), time=None))
    main.refresh_from_db()
    assert main.status_updated_at >= before


def test_the_body_is_stored_whole_for_the_audit(main):
    payload = body(quality("FLAGGED"))
    event = process(payload)
    assert json.loads(event.body) == payload
