"""The messaging demo: history that follows the consent rules, and the opted-out customer who
tapped "Stop promotions"."""

import random

import pytest

from crm.models import ConsentEvent, Contact
from messaging.demo import OPT_OUT_PHONE, OPT_OUT_TAP_WAMID, seed_messaging
from messaging.models import Direction, Message, MessageType
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def consent_at(contact, when) -> str:
    """The contact's consent at `when`, from its events (factory contacts have none)."""
    event = contact.consent_events.filter(created_at__lte=when).order_by("-created_at").first()
    if event is not None:
        return event.consent
    first = contact.consent_events.order_by("created_at").first()
    return first.previous if first is not None else contact.consent


def test_the_demo_shows_an_opted_out_customer_and_no_marketing_after_her_tap(channel):
    contacts = ContactFactory.create_batch(12) + ContactFactory.create_batch(6, consent="unknown")
    first = seed_messaging(rng=random.Random(7), channel=channel, contacts=contacts)
    assert first["opt_out_story"] is True and first["history_messages"] > 0

    kavya = Contact.objects.get(phone=OPT_OUT_PHONE)
    assert kavya.consent == "opted_out"
    event = ConsentEvent.objects.get(contact=kavya, consent="opted_out")
    assert event.source == "button"
    assert "template festive_offer [en]" in event.note and '"Stop promotions"' in event.note

    tap = Message.objects.get(wamid=OPT_OUT_TAP_WAMID)
    assert (tap.direction, tap.type) == (Direction.INBOUND, MessageType.BUTTON_REPLY)
    assert tap.content["text"] == "Stop promotions"
    offer = Message.objects.get(wamid=tap.context_wamid)
    assert offer.template.name == "festive_offer" and offer.is_marketing
    assert offer.created_at < tap.received_at == event.created_at
    after = Message.objects.filter(contact=kavya, direction="out", created_at__gt=tap.received_at)
    assert after.exists(), "she still gets her utility messages"
    assert not after.filter(is_marketing=True).exists()
    assert not after.filter(template__category="MARKETING").exists()

    # Nobody got marketing without being opted in at the time.
    for message in Message.objects.filter(direction="out", template__category="MARKETING"):
        assert consent_at(message.contact, message.created_at) == "opted_in", message.contact
    # The history no longer has customers typing STOP without it changing their consent.
    assert not Message.objects.filter(direction="in", content__body="STOP").exists()

    counts = (Message.objects.count(), ConsentEvent.objects.count())
    again = seed_messaging(rng=random.Random(7), channel=channel, contacts=contacts)
    assert again["opt_out_story"] is False and again["history_messages"] == 0
    live = again["live_sends"]
    assert (Message.objects.count() - live, ConsentEvent.objects.count()) == counts
