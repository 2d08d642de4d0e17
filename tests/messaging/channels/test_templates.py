"""Template sync and Meta's template status events: statuses mapped from events, the rejection
reason kept, shown to staff in the admin and in the API.

Sync runs against the simulator on loopback; third-party status bodies are read from
/work/shared/peer-webhooks/.
"""

from pathlib import Path
from unittest import mock

import pytest
import requests

from messaging.campaigns.services import campaign_create
from messaging.channels.selectors import template_unsendable_reason
from messaging.channels.tasks import sync_templates
from messaging.channels.templates import template_status_for_event, templates_sync
from messaging.models import MessageTemplate, WebhookState
from tests.factories import ChannelFactory, TemplateFactory
from tests.messaging.webhooks.support import envelope, process

pytestmark = pytest.mark.django_db

PEERS = Path("/work/shared/peer-webhooks")
PEER_WABA_ID = "203948576610294"


def peer(name: str) -> str:
    path = PEERS / name
    if not path.exists():
        pytest.skip(f"peer corpus not available: {path}")
    return path.read_text()


def status_event(event, name="order_update", language="en", reason="NONE", waba=None):
    value = {
        "event": event,
        "message_template_id": 1689556908129832,
        "message_template_name": name,
        "message_template_language": language,
        "reason": reason,
        "message_template_category": "UTILITY",
    }
    kwargs = {"waba_id": waba} if waba else {}
    return envelope("message_template_status_update", value, phone_number_id=None, **kwargs)


def simulate(simulator, **body):
    """Change the simulator's library as Meta would after an event (its webhooks are off)."""
    response = requests.post(f"{simulator.url}/_sim/template_status", json=body, timeout=2)
    assert response.ok, response.text


# --- Sync ---------------------------------------------------------------------------------------


def test_sync_keeps_metas_rejection_reason_and_updates_it(channel, simulator):
    rejected = MessageTemplate.objects.get(channel=channel, name="flash_sale_blast")
    assert (rejected.status, rejected.rejected_reason) == ("REJECTED", "PROMOTIONAL")
    approved = MessageTemplate.objects.get(channel=channel, name="hello_world")
    assert approved.rejected_reason == ""

    simulate(simulator, name="flash_sale_blast", language="en", event="APPROVED")
    simulate(simulator, name="hello_world", language="en_US", event="REJECTED",
             reason="INVALID_FORMAT")  # fmt: skip
    simulate(simulator, name="advisor_content_drop", language="en", event="REINSTATED")
    result = templates_sync(channel=channel)
    assert result.updated == 3 and not result.errors
    drop = MessageTemplate.objects.get(channel=channel, name="advisor_content_drop")
    assert drop.status == "APPROVED"  # Graph reports a reinstated template as approved
    rejected.refresh_from_db()
    approved.refresh_from_db()
    assert (rejected.status, rejected.rejected_reason) == ("APPROVED", "")
    assert (approved.status, approved.rejected_reason) == ("REJECTED", "INVALID_FORMAT")
    assert template_unsendable_reason(approved) == (
        "Template 'hello_world' [en_US] is REJECTED (INVALID_FORMAT), not APPROVED."
    )


def test_sync_stores_metas_quality_rating_from_the_simulator(channel):
    quality = dict(
        MessageTemplate.objects.filter(channel=channel).values_list("name", "quality_score")
    )
    assert quality["festive_offer"] == quality["delivery_delayed"] == "GREEN"
    assert quality["we_miss_you"] == "YELLOW"
    assert quality["advisor_content_drop"] == "RED"
    assert quality["flash_sale_blast"] == "UNKNOWN"


# --- The status webhook -------------------------------------------------------------------------


@pytest.fixture
def peer_channel(db):
    return ChannelFactory(phone_number_id="118765432109876", waba_id=PEER_WABA_ID)


def test_a_rejection_stores_metas_reason(peer_channel):
    cart = TemplateFactory(channel=peer_channel, name="abandoned_cart", status="PENDING")
    event = process(peer("46_pywa_template_rejected.json"))
    assert event.state == WebhookState.PROCESSED, event.error
    cart.refresh_from_db()
    assert (cart.status, cart.rejected_reason) == ("REJECTED", "INVALID_FORMAT")


def test_an_approval_clears_the_reason(peer_channel):
    confirmation = TemplateFactory(channel=peer_channel, name="order_confirmation",
                                   language="en_US", status="REJECTED",
                                   rejected_reason="INCORRECT_CATEGORY")  # fmt: skip
    event = process(peer("45_pywa_template_approved.json"))  # reason "NONE"
    assert event.state == WebhookState.PROCESSED, event.error
    confirmation.refresh_from_db()
    assert (confirmation.status, confirmation.rejected_reason) == ("APPROVED", "")


@pytest.mark.parametrize(
    ("before", "event", "after"),
    [
        ("PAUSED", "REINSTATED", "APPROVED"),
        ("DISABLED", "REINSTATED", "APPROVED"),
        ("FLAGGED", "REINSTATED", "APPROVED"),
        ("APPROVED", "PAUSED", "PAUSED"),
        ("APPROVED", "FLAGGED", "FLAGGED"),
        ("APPROVED", "DISABLED", "DISABLED"),
        ("PENDING", "IN_APPEAL", "IN_APPEAL"),
        ("APPROVED", "ARCHIVED", "ARCHIVED"),
        ("APPROVED", "PENDING_DELETION", "PENDING_DELETION"),
    ],
)
def test_events_become_the_status_meta_means(before, event, after):
    channel = ChannelFactory()
    template = TemplateFactory(channel=channel, name="order_update", status=before)
    assert process(status_event(event)).state == WebhookState.PROCESSED
    template.refresh_from_db()
    assert template.status == after
    assert (template_unsendable_reason(template) is None) == (after == "APPROVED")


def test_a_reinstated_template_can_be_sent_again_at_once():
    template = TemplateFactory(channel=ChannelFactory(), name="order_update", status="PAUSED")
    assert template_unsendable_reason(template) is not None
    process(status_event("REINSTATED"))
    template.refresh_from_db()
    assert template.status == "APPROVED" and template_unsendable_reason(template) is None


def test_an_unknown_event_fails_its_item_with_the_reason():
    template = TemplateFactory(channel=ChannelFactory(), name="order_update")
    event = process(status_event("TELEPORTED"))
    assert event.state == WebhookState.FAILED
    assert "unknown template status event 'TELEPORTED'" in event.error
    template.refresh_from_db()
    assert template.status == "APPROVED"
    with pytest.raises(ValueError):
        template_status_for_event("")


def test_unarchived_keeps_the_status_and_syncs_to_learn_it(
    channel, simulator, django_capture_on_commit_callbacks
):
    sale = MessageTemplate.objects.get(channel=channel, name="flash_sale_blast")
    simulate(simulator, name="flash_sale_blast", language="en", event="ARCHIVED")
    process(status_event("ARCHIVED", name="flash_sale_blast", waba=channel.waba_id))
    sale.refresh_from_db()
    assert (sale.status, sale.rejected_reason) == ("ARCHIVED", "")

    simulate(simulator, name="flash_sale_blast", language="en", event="UNARCHIVED")
    with (
        mock.patch.object(sync_templates, "delay") as enqueued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        event = process(status_event("UNARCHIVED", name="flash_sale_blast", waba=channel.waba_id))
    assert event.state == WebhookState.PROCESSED, event.error
    enqueued.assert_called_once_with()
    sale.refresh_from_db()
    assert sale.status == "ARCHIVED"  # not guessed
    sync_templates.apply()  # what the queued task does
    sale.refresh_from_db()
    assert (sale.status, sale.rejected_reason) == ("REJECTED", "PROMOTIONAL")


# --- Shown to staff -----------------------------------------------------------------------------


@pytest.fixture
def rejected(db):
    return TemplateFactory(channel=ChannelFactory(), name="spring_sale", category="MARKETING",
                           status="REJECTED", rejected_reason="TAG_CONTENT_MISMATCH",
                           opt_out_buttons=[{"index": "1", "text": "Stop promotions"}])  # fmt: skip


def test_the_admin_lists_and_shows_the_rejection_reason(client, make_user, rejected):
    client.force_login(make_user("Content reviewer"))  # may read templates
    page = client.get("/admin/messaging/messagetemplate/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Rejected reason" in html and "TAG_CONTENT_MISMATCH" in html
    detail = client.get(f"/admin/messaging/messagetemplate/{rejected.pk}/change/")
    assert detail.status_code == 200
    html = detail.content.decode()
    assert "TAG_CONTENT_MISMATCH" in html and "Stop promotions" in html


def test_the_template_admin_needs_the_permission(client, make_user, rejected):
    page = client.get("/admin/messaging/messagetemplate/")
    assert page.status_code == 302 and "/login/" in page["Location"]
    client.force_login(make_user())  # signed in, staff, no role
    assert client.get("/admin/messaging/messagetemplate/").status_code == 403
    assert client.get(f"/admin/messaging/messagetemplate/{rejected.pk}/change/").status_code == 403


def test_the_campaign_api_shows_the_templates_status_and_reason(api_client, make_user, rejected):
    campaign = campaign_create(name="Spring", channel=rejected.channel, template=rejected)
    api_client.force_authenticate(make_user("Analyst"))
    answer = api_client.get(f"/api/v1/campaigns/{campaign.pk}/").json()
    assert answer["template"] == {
        "id": rejected.pk, "name": "spring_sale", "language": "en", "category": "MARKETING",
        "status": "REJECTED", "rejected_reason": "TAG_CONTENT_MISMATCH",
    }  # fmt: skip
    preflight = api_client.get(f"/api/v1/campaigns/{campaign.pk}/preflight/").json()
    assert any("REJECTED (TAG_CONTENT_MISMATCH)" in str(p) for p in preflight["problems"])
