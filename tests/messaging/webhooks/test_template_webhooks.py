"""Meta's template webhooks as the worker processes them: status updates (the peer corpus's
approved and rejected bodies, read from /work/shared/peer-webhooks/, never copied here),
quality and category updates; each recorded in the template's history, applied once, and
never moved back by an older event."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from django.utils import timezone

from messaging.channels.models import TemplateEvent, TemplateEventKind, TemplateStatus
from messaging.models import WebhookState
from tests.factories import ChannelFactory, TemplateFactory
from tests.messaging.webhooks.support import envelope, process

pytestmark = pytest.mark.django_db

PEERS = Path("/work/shared/peer-webhooks")
PEER_WABA_ID = "203948576610294"


def peer(name: str) -> dict:
    path = PEERS / name
    if not path.exists():
        pytest.skip(f"peer corpus not available: {path}")
    return json.loads(path.read_text())


@pytest.fixture
def peer_channel():
    return ChannelFactory(phone_number_id="118765432109876", waba_id=PEER_WABA_ID)


def change(field, value, *, at=None):
    body = envelope(field, value, waba_id=PEER_WABA_ID, phone_number_id=None)
    if at is not None:
        body["entry"][0]["time"] = int(at.timestamp())
    return body


def test_the_peer_approval_approves_a_submitted_template_once(peer_channel):
    template = TemplateFactory(
        channel=peer_channel, name="order_confirmation", language="en_US", status="PENDING",
        authored_in_parley=True,
    )  # fmt: skip
    body = peer("45_pywa_template_approved.json")
    assert process(body).state == WebhookState.PROCESSED
    template.refresh_from_db()
    assert template.status == TemplateStatus.APPROVED
    assert template.external_id == "1689556908129832"  # learnt from the event
    [event] = template.events.all()
    assert (event.kind, event.source, event.status_from, event.status_to) == (
        "status", "webhook", "PENDING", "APPROVED",
    )  # fmt: skip
    body["entry"][0]["time"] += 5  # the same event delivered again (a new body)
    assert process(body).state == WebhookState.PROCESSED
    assert template.events.count() == 1


def test_the_peer_rejection_keeps_metas_reason_and_explanation(peer_channel):
    template = TemplateFactory(channel=peer_channel, name="abandoned_cart", status="PENDING")
    assert process(peer("46_pywa_template_rejected.json")).state == WebhookState.PROCESSED
    template.refresh_from_db()
    assert (template.status, template.rejected_reason) == ("REJECTED", "INVALID_FORMAT")
    event = template.events.get()
    assert event.reason == "INVALID_FORMAT"
    assert "next to each other" in event.detail["rejection_info"]["reason"]


def test_an_older_status_event_does_not_undo_a_newer_change(peer_channel):
    now = timezone.now()
    template = TemplateFactory(
        channel=peer_channel, name="order_update", status="APPROVED", status_changed_at=now
    )
    value = {
        "event": "REJECTED", "message_template_id": 1, "message_template_name": "order_update",
        "message_template_language": template.language, "reason": "PROMOTIONAL",
    }  # fmt: skip
    old = process(change("message_template_status_update", value, at=now - dt.timedelta(hours=1)))
    assert old.state == WebhookState.PROCESSED
    template.refresh_from_db()
    assert template.status == "APPROVED" and not template.events.exists()
    later = now + dt.timedelta(minutes=1)
    process(change("message_template_status_update", {**value, "event": "PAUSED"}, at=later))
    template.refresh_from_db()
    assert template.status == "PAUSED"


def test_a_quality_update_changes_the_rating_and_is_recorded(peer_channel):
    template = TemplateFactory(
        channel=peer_channel, name="we_miss_you", external_id="77", quality_score="GREEN"
    )
    value = {
        "previous_quality_score": "GREEN", "new_quality_score": "YELLOW",
        "message_template_id": 77, "message_template_name": "we_miss_you",
        "message_template_language": template.language,
    }  # fmt: skip
    assert process(change("message_template_quality_update", value)).state == "processed"
    template.refresh_from_db()
    assert template.quality_score == "YELLOW"
    event = template.events.get()
    assert (event.kind, event.detail) == ("quality", {"previous": "GREEN", "new": "YELLOW"})
    process(change("message_template_quality_update", value, at=timezone.now()))
    assert template.events.count() == 1


def test_a_category_update_recategorises_and_a_notice_only_records(peer_channel):
    template = TemplateFactory(
        channel=peer_channel, name="spring_sale", external_id="88", category="UTILITY"
    )
    key = {"message_template_id": 88, "message_template_name": "spring_sale",
           "message_template_language": template.language}  # fmt: skip
    notice = {**key, "previous_category": "UTILITY", "correct_category": "MARKETING"}
    assert process(change("template_category_update", notice)).state == "processed"
    template.refresh_from_db()
    assert template.category == "UTILITY"
    assert "MARKETING" in template.events.get().reason
    update = {**key, "previous_category": "UTILITY", "new_category": "MARKETING"}
    assert process(change("template_category_update", update)).state == "processed"
    template.refresh_from_db()
    assert template.category == "MARKETING"
    assert template.events.filter(kind=TemplateEventKind.CATEGORY).count() == 2


def test_a_template_event_for_an_unknown_account_fails_visibly(db):
    value = {"new_quality_score": "RED", "message_template_name": "x"}
    event = process(change("message_template_quality_update", value))
    assert event.state == WebhookState.FAILED and "unknown WABA" in event.error


def test_a_category_update_naming_no_category_fails_its_item(peer_channel):
    TemplateFactory(channel=peer_channel, name="spring_sale")
    value = {"message_template_name": "spring_sale", "previous_category": "UTILITY"}
    event = process(change("template_category_update", value))
    assert event.state == WebhookState.FAILED and "category" in event.error
    assert not TemplateEvent.objects.exists()
