"""Webhook signature checks and parsing of payloads in Meta's documented format."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from messaging.providers.base import (
    InboundMessage,
    StatusUpdate,
    TemplateStatusUpdate,
    UnhandledChange,
    UserPreference,
    WebhookError,
)
from messaging.providers.meta_cloud import parse_webhook, signature_for, verify_signature

from .support import APP_SECRET, load_fixture, make_provider

BODY = b'{"object":"whatsapp_business_account","entry":[{"id":"100000000000001","changes":[]}]}'


# --- signature -----------------------------------------------------------------------------


def test_valid_signature_accepted():
    headers = {"X-Hub-Signature-256": signature_for(APP_SECRET, BODY)}
    assert verify_signature(APP_SECRET, headers, BODY)
    assert make_provider("http://unused").verify_webhook(headers, BODY)


def test_header_name_is_case_insensitive_and_meta_keys_work():
    signature = signature_for(APP_SECRET, BODY)
    assert verify_signature(APP_SECRET, {"x-hub-signature-256": signature}, BODY)
    assert verify_signature(APP_SECRET, {"HTTP_X_HUB_SIGNATURE_256": signature}, BODY)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Hub-Signature-256": ""},
        {"X-Hub-Signature-256": "sha256=" + "0" * 64},
        {"X-Hub-Signature-256": signature_for("another-secret", BODY)},
        {"X-Hub-Signature-256": signature_for(APP_SECRET, BODY).removeprefix("sha256=")},
        {"X-Hub-Signature": "sha1=abc"},
    ],
    ids=["missing", "empty", "zeros", "wrong secret", "no prefix", "sha1 only"],
)
def test_bad_or_missing_signature_rejected(headers):
    assert not verify_signature(APP_SECRET, headers, BODY)


def test_reserialised_json_is_rejected():
    """Same JSON, different whitespace: the digest is over bytes, not meaning."""
    signature = signature_for(APP_SECRET, BODY)
    reserialised = json.dumps(json.loads(BODY), indent=1).encode()
    assert json.loads(reserialised) == json.loads(BODY)
    assert not verify_signature(APP_SECRET, {"X-Hub-Signature-256": signature}, reserialised)


def test_tampered_body_rejected():
    signature = signature_for(APP_SECRET, BODY)
    assert not verify_signature(APP_SECRET, {"X-Hub-Signature-256": signature}, BODY + b" ")


def test_no_app_secret_never_verifies():
    signature = signature_for("", BODY)
    assert not verify_signature("", {"X-Hub-Signature-256": signature}, BODY)


def test_str_body_is_not_accepted():
    signature = signature_for(APP_SECRET, BODY)
    assert not verify_signature(APP_SECRET, {"X-Hub-Signature-256": signature}, BODY.decode())


# --- parsing -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def batch_events():
    return parse_webhook(load_fixture("messages_batch.json"))


def by_wamid(events, wamid):
    [event] = [e for e in events if getattr(e, "wamid", None) == wamid]
    return event


def test_batch_walks_every_entry_and_change(batch_events):
    assert all(isinstance(e, InboundMessage) for e in batch_events)
    assert len(batch_events) == 6 + 12 + 1
    channels = {e.channel_key for e in batch_events}
    assert channels == {"200000000000001", "200000000000002", "200000000000009"}
    assert {e.waba_id for e in batch_events} == {"100000000000001", "100000000000009"}


def test_text_message(batch_events):
    event = by_wamid(batch_events, "wamid.TEXT1")
    assert event.type == "text" and event.content == {"body": "Hello there"}
    assert event.from_wa_id == "919876543210"
    assert event.profile_name == "Asha Rao"
    assert event.timestamp == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert event.text == "Hello there"
    assert event.raw["id"] == "wamid.TEXT1"


@pytest.mark.parametrize(
    ("wamid", "kind", "media_id"),
    [
        ("wamid.IMAGE1", "image", "1450000000000001"),
        ("wamid.VIDEO1", "video", "1450000000000002"),
        ("wamid.AUDIO1", "audio", "1450000000000003"),
        ("wamid.DOC1", "document", "1450000000000004"),
        ("wamid.STICKER1", "sticker", "1450000000000005"),
    ],
)
def test_media_messages_keep_id_mime_and_hash(batch_events, wamid, kind, media_id):
    event = by_wamid(batch_events, wamid)
    assert event.type == kind
    assert event.content["id"] == media_id
    assert event.content["mime_type"]
    assert event.content["sha256"]


def test_document_caption_and_filename(batch_events):
    event = by_wamid(batch_events, "wamid.DOC1")
    assert event.content["filename"] == "invoice-4032.pdf"
    assert event.text == "Invoice"


def test_location_keeps_full_precision(batch_events):
    event = by_wamid(batch_events, "wamid.LOC1")
    assert event.content["latitude"] == 12.971598765432101
    assert event.content["longitude"] == 77.594562345678912
    assert event.content["name"] == "Cubbon Park"
    assert event.from_bsuid == "IN.1648738043044942"  # from the contacts block
    assert event.profile_name == "Ravi"


def test_contacts_message_is_wrapped(batch_events):
    event = by_wamid(batch_events, "wamid.CONTACTS1")
    assert event.content["contacts"][0]["name"]["formatted_name"] == "Dev Patel"
    assert event.profile_name == "Meera"


def test_template_button_tap_with_context(batch_events):
    event = by_wamid(batch_events, "wamid.BUTTON1")
    assert event.type == "button"
    assert event.content == {"text": "Unlock full report", "payload": "UNLOCK_CONTENT"}
    assert event.reply_id == "UNLOCK_CONTENT"
    assert event.context_wamid == "wamid.CAMPAIGN1"
    assert event.context_from == "15550002222"


def test_interactive_replies(batch_events):
    button = by_wamid(batch_events, "wamid.BREPLY1")
    assert button.reply_id == "yes-please" and button.context_wamid is None
    row = by_wamid(batch_events, "wamid.LREPLY1")
    assert row.content["list_reply"]["description"] == "Best value"
    assert row.reply_id == "plan-gold" and row.context_wamid == "wamid.LIST1"
    flow = by_wamid(batch_events, "wamid.FLOW1")
    assert json.loads(flow.content["nfm_reply"]["response_json"]) == {"rating": "5"}


def test_reactions_including_removal(batch_events):
    added = by_wamid(batch_events, "wamid.REACT1")
    removed = by_wamid(batch_events, "wamid.REACT2")
    assert added.content == {"message_id": "wamid.CAMPAIGN1", "emoji": "👍"}
    assert removed.content["emoji"] == ""


def test_order_and_system(batch_events):
    order = by_wamid(batch_events, "wamid.ORDER1")
    assert order.content["product_items"][0]["quantity"] == 2
    system = by_wamid(batch_events, "wamid.SYSTEM1")
    assert system.content["type"] == "user_changed_number"


def test_unsupported_carries_errors(batch_events):
    event = by_wamid(batch_events, "wamid.UNSUP1")
    assert event.type == "unsupported"
    assert event.errors == [
        {
            "code": 131051,
            "title": "Message type unknown",
            "message": "Message type unknown",
            "details": "Message type is currently not supported.",
        }
    ]


def test_unknown_type_is_kept_raw_with_millisecond_timestamp(batch_events):
    event = by_wamid(batch_events, "wamid.FUTURE1")
    assert event.type == "hologram"
    assert event.content == {"shape": "cube"}
    assert event.raw["brand_new_field"] == [1, 2, 3]
    assert event.timestamp == dt.datetime(2026, 1, 1, 0, 0, 17, tzinfo=dt.UTC)


def test_bsuid_only_user(batch_events):
    event = by_wamid(batch_events, "wamid.BSUID1")
    assert event.from_wa_id is None
    assert event.from_bsuid == "US.13491208655302741918"
    assert event.profile_name == "Username User"


def test_statuses_with_pricing_errors_and_callback():
    events = parse_webhook(load_fixture("statuses.json"))
    statuses = [e for e in events if isinstance(e, StatusUpdate)]
    assert [s.status for s in statuses] == ["sent", "delivered", "read", "failed", "sent"]
    sent, delivered, read, failed, bsuid_sent = statuses
    assert sent.callback_data == "3f0c8a8e-0c5e-4b8a-9b0a-0f3d3b6f9a11"
    assert sent.pricing == {
        "billable": True,
        "pricing_model": "PMP",
        "category": "marketing",
        "type": "regular",
    }
    assert sent.conversation["origin"] == {"type": "marketing"}
    assert sent.recipient_id == "919876543210"
    assert delivered.timestamp < read.timestamp
    assert read.timestamp == dt.datetime.fromtimestamp(1767225799, tz=dt.UTC)
    assert failed.errors[0]["code"] == 131026
    assert failed.errors[0]["details"] == "Message Undeliverable."
    assert failed.callback_data is None
    assert bsuid_sent.recipient_id is None
    assert bsuid_sent.recipient_bsuid == "US.13491208655302741918"
    assert bsuid_sent.pricing["pricing_model"] == "CBP"
    [error] = [e for e in events if isinstance(e, WebhookError)]
    assert error.channel_key == "200000000000001"
    assert error.errors[0]["code"] == 131000


def test_user_preferences():
    events = parse_webhook(load_fixture("user_preferences.json"))
    assert [type(e) for e in events] == [UserPreference, UserPreference]
    stop, resume = events
    assert (stop.value, resume.value) == ("stop", "resume")
    assert stop.category == "marketing_messages"
    assert stop.wa_id == "919876543210"
    assert stop.bsuid == "IN.1000000000000001"
    assert stop.channel_key == "200000000000001"
    assert stop.timestamp == dt.datetime.fromtimestamp(1767225800, tz=dt.UTC)


def test_template_status_update_and_unknown_field():
    events = parse_webhook(load_fixture("template_status.json"))
    update, other = events
    assert isinstance(update, TemplateStatusUpdate)
    assert update.name == "flash_sale_blast" and update.language == "en"
    assert update.status == "REJECTED" and update.reason == "PROMOTIONAL"
    assert update.external_id == "1100000000000010"
    assert update.category == "MARKETING"
    assert update.waba_id == "100000000000001"
    assert isinstance(other, UnhandledChange)
    assert other.field == "account_update"
    assert other.value["event"] == "VERIFIED_ACCOUNT"


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"entry": "nonsense"},
        {"entry": [None, 3, {"changes": "x"}]},
        {"entry": [{"changes": [None, {"field": "messages", "value": None}]}]},
        {"entry": [{"changes": [{"field": "messages", "value": {"messages": [None, "x"]}}]}]},
        {"entry": [{"changes": [{"field": "messages", "value": {"statuses": [{"id": 5}]}}]}]},
        {"entry": [{"changes": [{"field": "messages", "value": {"messages": [{"type": 7}]}}]}]},
        [],
    ],
)
def test_never_raises_on_junk(payload):
    events = parse_webhook(payload)
    assert isinstance(events, list)
