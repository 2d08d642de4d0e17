"""Taps on marketing opt-out buttons: recorded at once by the webhook, with the template and
the button named; never answered by general automation; marketing stops, the rest still goes.

The channel is the simulator's, with its template library synced (festive_offer and
daily_market_insight carry Meta's "Stop promotions" button). Third-party bodies come from
/work/shared/peer-webhooks/ and are read from there.
"""

import json
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from crm.models import ConsentEvent, Contact
from messaging.automation.services import autoreply_process
from messaging.models import (
    AutoReplyRun,
    Direction,
    Message,
    MessageTemplate,
    MessageType,
    Status,
    WebhookState,
)
from messaging.sending.send import SendRefused, message_send, template_content_build
from tests.factories import AutoReplyRuleFactory, ChannelFactory, ContactFactory, TagFactory
from tests.messaging.webhooks.support import messages_payload, process

pytestmark = pytest.mark.django_db

PEERS = Path("/work/shared/peer-webhooks")
PEER_PHONE_NUMBER_ID = "118765432109876"
PEER_WABA_ID = "203948576610294"
WA_ID = "919812345678"
OOO_TEXT = "We are closed; back tomorrow."


def peer(name: str) -> str:
    """A third-party webhook body, byte for byte (skips when the corpus is not mounted)."""
    path = PEERS / name
    if not path.exists():
        pytest.skip(f"peer corpus not available: {path}")
    return path.read_text()


@pytest.fixture
def customer(db):
    return ContactFactory(phone=f"+{WA_ID}", consent="opted_in")


@pytest.fixture
def offer(channel):
    return MessageTemplate.objects.get(channel=channel, name="festive_offer")


def send_offer(channel, contact, template, *, wamid="wamid.OUT.offer", payloads=None):
    """The marketing template as the send path left it once WhatsApp accepted it."""
    content = template_content_build(
        template=template,
        header={"offer_name": "Diwali Sale"},
        body={"first_name": "Asha", "discount": "20%", "valid_until": "2 November"},
        button_payloads=payloads,
    )
    return Message.objects.create(
        channel=channel, contact=contact, direction=Direction.OUTBOUND, type=MessageType.TEMPLATE,
        template=template, is_marketing=True, content=content, wamid=wamid, status=Status.READ,
    )  # fmt: skip


def tap(wamid, *, text, payload=None, context="wamid.OUT.offer", at=None, wa_id=WA_ID):
    """A template quick-reply tap in Meta's shape (type button, context = the template)."""
    message = {
        "from": wa_id,
        "id": wamid,
        "timestamp": str(at or int(time.time())),
        "type": "button",
        "button": {"payload": text if payload is None else payload, "text": text},
    }
    if context:
        message["context"] = {"from": "15550001111", "id": context}
    return messages_payload(message)


def outside_office_hours(settings):
    """Office hours that exclude now, whatever day the suite runs."""
    today = timezone.now().astimezone(ZoneInfo(settings.OFFICE_TIME_ZONE)).weekday()
    settings.OFFICE_HOURS = "Tue 09:00-09:01" if today == 0 else "Mon 09:00-09:01"


# --- Recording the opt-out ----------------------------------------------------------------------


def test_sync_marks_the_stop_promotions_button_of_marketing_templates(channel, offer):
    assert offer.opt_out_buttons == [{"index": "1", "text": "Stop promotions"}]
    insight = MessageTemplate.objects.get(channel=channel, name="daily_market_insight")
    assert insight.opt_out_buttons == [{"index": "1", "text": "Stop promotions"}]
    # Utility quick replies are never marked, whatever they say.
    utility = MessageTemplate.objects.filter(channel=channel, category="UTILITY")
    assert all(t.opt_out_buttons == [] for t in utility)


def test_a_tap_on_the_templates_opt_out_button_opts_out_at_once(channel, offer, customer):
    send_offer(channel, customer, offer)
    tapped_at = int(time.time()) - 30
    event = process(tap("wamid.TAP.1", text="Stop promotions", at=tapped_at))
    assert event.state == WebhookState.PROCESSED, event.error
    # Recorded in the webhook's own processing: automation has not run (nothing was committed).
    assert not AutoReplyRun.objects.exists()
    customer.refresh_from_db()
    assert customer.consent == "opted_out"
    consent = ConsentEvent.objects.get(contact=customer)
    assert (consent.previous, consent.consent) == ("opted_in", "opted_out")
    assert consent.source == "button"
    assert consent.created_at.timestamp() == tapped_at
    assert "template festive_offer [en]" in consent.note
    assert 'button "Stop promotions" (index 1)' in consent.note
    assert "MARKETING_OPT_OUT_BUTTONS" not in consent.note  # the template's own marked button
    assert "wamid.TAP.1" in consent.note


def test_a_payload_the_send_gave_the_button_is_recognised(channel, offer, customer, settings):
    """A send may give the opt-out button its own payload; a translated label still matches."""
    settings.MARKETING_OPT_OUT_BUTTONS = []  # the template's marked button alone decides
    send_offer(channel, customer, offer, payloads={"0": "SHOP:42", "1": "OPTOUT:42"})
    process(tap("wamid.TAP.P", text="प्रचार बंद करें", payload="OPTOUT:42"))
    consent = ConsentEvent.objects.get(contact=customer)
    assert consent.source == "button" and 'button "Stop promotions" (index 1)' in consent.note


def test_a_tap_on_another_button_changes_nothing(channel, offer, customer):
    send_offer(channel, customer, offer, payloads={"0": "SHOP:42", "1": "OPTOUT:42"})
    process(tap("wamid.TAP.SHOP", text="Shop now", payload="SHOP:42"))
    process(tap("wamid.TAP.SHOP2", text="Shop now"))
    assert Contact.objects.get(pk=customer.pk).consent == "opted_in"
    assert not ConsentEvent.objects.exists()


def test_a_peer_quick_reply_on_an_unknown_message_is_not_an_opt_out(db, customer):
    ChannelFactory(phone_number_id=PEER_PHONE_NUMBER_ID, waba_id=PEER_WABA_ID)
    event = process(peer("33_pywa_quick_reply_no_context.json"))  # payload "callback_data"
    assert event.state == WebhookState.PROCESSED, event.error
    message = Message.objects.get(type=MessageType.BUTTON_REPLY)
    assert message.contact.consent == "unknown"
    assert not ConsentEvent.objects.exists()


def test_the_configured_list_covers_templates_made_elsewhere(db, settings):
    """Meta's own button-reply example answers a message Parley never sent: its "Unsubscribe"
    button opts out once the install lists it."""
    settings.MARKETING_OPT_OUT_BUTTONS = ["Stop promotions", "Unsubscribe"]
    ChannelFactory(phone_number_id=PEER_PHONE_NUMBER_ID, waba_id=PEER_WABA_ID)
    sheena = ContactFactory(phone="+16505551234", consent="opted_in")
    event = process(peer("09_meta_button_quick_reply.json"))
    assert event.state == WebhookState.PROCESSED, event.error
    sheena.refresh_from_db()
    assert sheena.consent == "opted_out"
    consent = ConsentEvent.objects.get(contact=sheena)
    assert consent.source == "button"
    assert 'button "Unsubscribe"' in consent.note
    assert "MARKETING_OPT_OUT_BUTTONS" in consent.note
    assert "a message Parley has no template for" in consent.note


def test_the_default_list_knows_metas_stop_payloads(db, customer):
    ChannelFactory()
    process(tap("wamid.TAP.X", text="Stop Promotions", payload="Stop Promotions", context=""))
    process(tap("wamid.TAP.Y", text="Stop", payload="STOP", context="wamid.elsewhere"))
    assert Contact.objects.get(pk=customer.pk).consent == "opted_out"
    assert ConsentEvent.objects.get(contact=customer).source == "button"


def test_a_redelivered_tap_records_one_event(channel, offer, customer):
    send_offer(channel, customer, offer)
    body = tap("wamid.TAP.R", text="Stop promotions")
    process(body)
    again = process(json.dumps(body, indent=1))  # the same tap, delivered again
    assert again.state == WebhookState.PROCESSED, again.error
    assert Message.objects.filter(wamid="wamid.TAP.R").count() == 1
    assert ConsentEvent.objects.filter(contact=customer).count() == 1
    process(tap("wamid.TAP.R2", text="Stop promotions"))  # a second tap: nothing left to change
    assert ConsentEvent.objects.filter(contact=customer).count() == 1


def test_the_order_of_a_tap_and_a_start_does_not_matter(channel, offer, customer):
    send_offer(channel, customer, offer)
    now = int(time.time())
    process(messages_payload(_text("wamid.START", "START", now - 60)))
    process(tap("wamid.TAP.OLD", text="Stop promotions", at=now - 120))  # older, arrives late
    assert Contact.objects.get(pk=customer.pk).consent == "opted_in"

    other = ContactFactory(phone="+919800000002", consent="opted_in")
    process(tap("wamid.TAP.NEW", text="Stop promotions", at=now - 60, wa_id="919800000002"))
    process(messages_payload(_text("wamid.START2", "START", now - 120, wa_id="919800000002")))
    assert Contact.objects.get(pk=other.pk).consent == "opted_out"


def _text(wamid, body, at, wa_id=WA_ID):
    return {"from": wa_id, "id": wamid, "timestamp": str(at), "type": "text",
            "text": {"body": body}}  # fmt: skip


# --- Automation stays quiet -------------------------------------------------------------------


def test_the_out_of_office_rule_does_not_answer_the_tap(channel, offer, customer, settings):
    outside_office_hours(settings)
    AutoReplyRuleFactory(name="Out of office", trigger="outside_hours", fallback=True,
                         text=OOO_TEXT, stop_processing=False)  # fmt: skip
    AutoReplyRuleFactory(name="Regex on stop", trigger="regex", trigger_value="stop", text="?")
    send_offer(channel, customer, offer)
    process(tap("wamid.TAP.OOO", text="Stop promotions"))
    stop = Message.objects.get(wamid="wamid.TAP.OOO")
    assert autoreply_process(message_id=stop.pk) == []
    assert not Message.objects.filter(direction=Direction.OUTBOUND, is_automated=True).exists()

    # The rule itself works: another tap at the same hour gets the note.
    process(tap("wamid.TAP.SHOP", text="Shop now"))
    shop = Message.objects.get(wamid="wamid.TAP.SHOP")
    (run,) = autoreply_process(message_id=shop.pk)
    assert run.outcome == "sent" and run.reply.content == {"body": OOO_TEXT}


def test_a_rule_naming_the_payload_still_acts_and_the_confirmation_wins(
    channel, offer, customer, settings
):
    settings.CONSENT_CONFIRMATION_REPLIES = True
    tag = TagFactory(name="opted-out-by-button")
    AutoReplyRuleFactory(name="Tag opt-outs", trigger="payload", trigger_value="Stop promotions",
                         action="add_tag", tag=tag, text="", stop_processing=False)  # fmt: skip
    AutoReplyRuleFactory(name="Own confirmation", trigger="payload_prefix", trigger_value="Stop",
                         text="Sorry to see you go.")  # fmt: skip
    send_offer(channel, customer, offer)
    process(tap("wamid.TAP.C", text="Stop promotions"))
    confirmation = Message.objects.get(direction=Direction.OUTBOUND, is_automated=True)
    assert confirmation.content == {"body": settings.OPT_OUT_CONFIRMATION_TEXT}

    runs = autoreply_process(message_id=Message.objects.get(wamid="wamid.TAP.C").pk)
    assert [(r.rule.name, r.outcome) for r in runs] == [
        ("Tag opt-outs", "acted"),
        ("Own confirmation", "skipped"),
    ]
    assert tag in Contact.objects.get(pk=customer.pk).tags.all()
    assert Message.objects.filter(direction=Direction.OUTBOUND, is_automated=True).count() == 1


def test_without_the_confirmation_setting_an_explicit_rule_replies(channel, offer, customer):
    AutoReplyRuleFactory(name="Own confirmation", trigger="payload",
                         trigger_value="Stop promotions",
                         text="Done: no more offers. Reply START to rejoin.")  # fmt: skip
    send_offer(channel, customer, offer)
    process(tap("wamid.TAP.E", text="Stop promotions"))
    (run,) = autoreply_process(message_id=Message.objects.get(wamid="wamid.TAP.E").pk)
    assert run.outcome == "sent"
    assert run.reply.content["body"].startswith("Done: no more offers.")


# --- What may still be sent -----------------------------------------------------------------------


def test_after_the_tap_marketing_stops_from_every_number_and_the_rest_still_goes(
    channel, offer, customer
):
    send_offer(channel, customer, offer)
    process(tap("wamid.TAP.S", text="Stop promotions"))
    customer.refresh_from_db()
    other_number = ChannelFactory(phone_number_id="300000000000009", name="Second number")
    other_offer = MessageTemplate.objects.create(
        channel=other_number, name="festive_offer", language="en", category="MARKETING",
        status="APPROVED", components=offer.components, parameter_format="named",
        parameters=offer.parameters,
    )  # fmt: skip
    for number, template in ((channel, offer), (other_number, other_offer)):
        content = template_content_build(
            template=template, header={"offer_name": "Sale"},
            body={"first_name": "Asha", "discount": "10%", "valid_until": "Friday"},
        )  # fmt: skip
        with pytest.raises(SendRefused) as refused:
            message_send(channel=number, contact=customer, type="template", content=content)
        assert refused.value.code == "opted_out"

    receipt = MessageTemplate.objects.get(channel=channel, name="payment_received")
    utility = message_send(
        channel=channel, contact=customer, type="template",
        content=template_content_build(template=receipt, body={
            "customer_name": "Asha", "amount": "₹1,499", "paid_on": "12 Nov", "reference": "P-1",
        }),
    )  # fmt: skip
    reply = message_send(channel=channel, contact=customer, type="text",
                         content={"body": "Noted, no more offers."})  # fmt: skip
    assert utility.status == reply.status == Status.QUEUED


def test_the_rule_tester_shows_an_opt_out_tap_and_no_out_of_office(client, admin_user, settings):
    outside_office_hours(settings)
    AutoReplyRuleFactory(name="Out of office", trigger="outside_hours", fallback=True,
                         text=OOO_TEXT, stop_processing=False)  # fmt: skip
    client.force_login(admin_user)
    url = "/admin/messaging/autoreplyrule/test/"
    page = client.post(url, {"kind": "button", "payload": "Stop promotions", "text": ""})
    assert [(s.label, s.action) for s in page.context["preview"]] == [
        ("Marketing opt-out button (built-in)", "Opt out of marketing")
    ]
    page = client.post(url, {"kind": "button", "payload": "Shop now", "text": "Shop now"})
    assert [s.would_send for s in page.context["preview"]] == [OOO_TEXT]
    assert not Message.objects.exists() and not ConsentEvent.objects.exists()
