"""Demo data for messaging: a month of believable history, and a few live sends.

History rows are written directly (with wamids, statuses and timestamps as the webhooks would
have left them) so dashboards have a past; the live sends go through the real pipeline and
the simulator when `make run` starts the worker. Marketing templates go only to contacts who
had opted in by then, as the send policy requires.

One customer tells the opt-out story (`OPT_OUT_PHONE`): a marketing offer, her tap on its
"Stop promotions" button, processed by the webhook's own code (so the consent event is the one
production writes), and afterwards only a utility message, never marketing.
"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from crm.models import Consent, ConsentSource, Contact
from crm.services import consent_set
from messaging.channels.models import HealthSource, TemplateCategory
from messaging.channels.rendering import template_contact_values, template_examples
from messaging.channels.selectors import templates_sendable
from messaging.channels.services import channel_health_apply, channel_health_sync
from messaging.models import (
    Channel,
    Conversation,
    Direction,
    Lane,
    Message,
    MessageStatusEvent,
    MessageType,
    Status,
)
from messaging.providers import InboundMessage
from messaging.sending.send import SendRefused, message_send, template_content_build
from messaging.webhooks.inbound import inbound_message_apply

DEMO_MARKER = "demo"
OPT_OUT_PHONE = "+919876599901"  # outside crm's demo range, so no random history touches it
OPT_OUT_TAP_WAMID = "wamid.demo.optout.tap"
OFFER_VALUES = {"offer_name": "Diwali Sale", "first_name": "Kavya", "discount": "20%",
                "valid_until": "2 November"}  # fmt: skip

INBOUND_TEXTS = [
    "Hi, where is my order?",
    "Can I change the delivery address?",
    "Thanks, received it!",
    "What are your store timings?",
    "Is the festive offer still on?",
    "Please call me back",
    "Can you send the invoice again?",
    "Do you deliver to Pune?",
    "The payment failed twice, can you check?",
    "Great service 👍",
]
REPLIES = [
    "Hello! Your order is on the way and should reach you tomorrow.",
    "Sure, please share the new address and pin code.",
    "Glad to hear that! Thank you for shopping with us.",
    "We are open 10am to 9pm, Monday to Saturday.",
    "Yes, the festive offer runs until Sunday midnight.",
]
FAILURES = [
    (131026, "Message undeliverable"),
    (131047, "Re-engagement message"),
    (131049, "Not delivered to maintain healthy ecosystem engagement"),
    (130472, "User's number is part of an experiment"),
]


def _wamid() -> str:
    return "wamid.demo" + uuid.uuid4().hex


def _marketing_allowed(contact: Contact, at) -> bool:
    """Had the contact opted in to marketing by `at`? (The send policy's rule, for history.)"""
    return contact.consent == Consent.OPTED_IN and (
        contact.consent_updated_at is None or contact.consent_updated_at <= at
    )


def demo_template_content(template, contact: Contact) -> dict:
    """A template's send body as a real send would carry it: the template's own sample
    values, with the contact's name where the template greets them."""
    examples = template_examples(template)
    first = (contact.display_name or "").split()[0] if contact.display_name else ""
    names = template_contact_values(template, first_name=first, full_name=contact.display_name)
    declared = template.parameters or {}
    values = {
        part: {
            n: names[part].get(n) or examples[part].get(n) or "…" for n in declared.get(part) or []
        }
        for part in ("header", "body")
    }
    buttons = {str(index): "demo" for index in (declared.get("buttons") or {})}
    media = next(
        (
            (c.get("example") or {}).get("header_handle", [None])[0]
            for c in template.components or []
            if str(c.get("type", "")).upper() == "HEADER" and isinstance(c.get("example"), dict)
        ),
        None,
    )
    return template_content_build(
        template=template, header=values["header"] or None, body=values["body"] or None,
        header_media_link=media, button_url_values=buttons or None,
    )  # fmt: skip


def _history_for(contact: Contact, channel: Channel, templates, rng: random.Random, now) -> int:
    created = 0
    utility = next((t for t in templates if t.category != TemplateCategory.MARKETING), None)
    conversation, _ = Conversation.objects.get_or_create(
        contact=contact, channel=channel, defaults={"opened_at": now - timedelta(days=30)}
    )
    events = []
    last_inbound = None
    for _ in range(rng.randint(1, 4)):
        at = now - timedelta(days=rng.uniform(0.2, 30), minutes=rng.randint(0, 600))
        template = rng.choice(templates)
        if template.category == TemplateCategory.MARKETING and not _marketing_allowed(contact, at):
            if utility is None:
                continue
            template = utility
        status = rng.choices(
            [Status.READ, Status.DELIVERED, Status.SENT, Status.FAILED], [55, 25, 8, 6]
        )[0]
        message = Message(
            channel=channel,
            contact=contact,
            conversation=conversation,
            direction=Direction.OUTBOUND,
            type=MessageType.TEMPLATE,
            content=demo_template_content(template, contact),
            template=template,
            is_marketing=template.category == "MARKETING",
            lane=Lane.BULK if template.category == "MARKETING" else Lane.PRIORITY,
            wamid=_wamid(),
            wa_id=contact.wa_id or "",
            status=status,
            created_at=at,
            accepted_at=at + timedelta(seconds=1),
            attempts=1,
            pricing_category=template.category.lower(),
            billable=True,
            pricing={
                "billable": True,
                "pricing_model": "PMP",
                "category": template.category.lower(),
                "type": "regular",
            },
        )
        steps = [("sent", Status.SENT, 3), ("delivered", Status.DELIVERED, 40)]
        steps.append(("read", Status.READ, rng.randint(60, 7200)))
        if status == Status.FAILED:
            code, title = rng.choice(FAILURES)
            message.error_code, message.error_title = code, title
            message.failed_at = at + timedelta(seconds=5)
            steps = [("failed", Status.FAILED, 5)]
        for name, rank, delay in steps:
            if rank > status and name != "failed":
                break
            setattr(message, f"{name}_at", at + timedelta(seconds=delay))
            events.append((message, name, at + timedelta(seconds=delay)))
        message.save()
        created += 1
        if rng.random() < 0.45 and status != Status.FAILED:
            reply_at = at + timedelta(minutes=rng.randint(2, 300))
            if reply_at < now:
                text = rng.choice(INBOUND_TEXTS)
                Message.objects.create(
                    channel=channel,
                    contact=contact,
                    conversation=conversation,
                    direction=Direction.INBOUND,
                    type=MessageType.TEXT,
                    content={"body": text},
                    status=Status.RECEIVED,
                    wamid=_wamid(),
                    created_at=reply_at,
                    received_at=reply_at,
                    context_wamid=message.wamid,
                )
                last_inbound = max(last_inbound or reply_at, reply_at)
                created += 1
                if rng.random() < 0.7 and reply_at + timedelta(minutes=20) < now:
                    Message.objects.create(
                        channel=channel,
                        contact=contact,
                        conversation=conversation,
                        direction=Direction.OUTBOUND,
                        type=MessageType.TEXT,
                        content={"body": rng.choice(REPLIES)},
                        status=Status.READ,
                        wamid=_wamid(),
                        created_at=reply_at + timedelta(minutes=rng.randint(1, 20)),
                        accepted_at=reply_at + timedelta(minutes=2),
                        sent_at=reply_at + timedelta(minutes=2),
                        delivered_at=reply_at + timedelta(minutes=3),
                        read_at=reply_at + timedelta(minutes=5),
                        attempts=1,
                    )
                    created += 1
    MessageStatusEvent.objects.bulk_create(
        [
            MessageStatusEvent(
                message=m,
                wamid=m.wamid,
                status=name,
                timestamp=ts,
                applied=True,
                raw={"id": m.wamid, "status": name, "demo": True},
            )
            for m, name, ts in events
        ],
        ignore_conflicts=True,
    )
    if last_inbound:
        Conversation.objects.filter(pk=conversation.pk).update(
            last_activity_at=last_inbound, first_inbound_at=last_inbound,
            last_inbound_at=last_inbound,
        )  # fmt: skip
        Contact.objects.filter(pk=contact.pk).update(
            last_inbound_at=last_inbound, unread_count=rng.randint(0, 2)
        )
    return created


def seed_messaging(*, rng: random.Random, channel: Channel, contacts: list[Contact]) -> dict:
    """Idempotent: history is written once (marked by the demo wamids); live sends each run."""
    now = timezone.now()
    templates = list(templates_sendable(channel=channel))
    created = 0
    if templates and not Message.objects.filter(wamid__startswith="wamid.demo").exists():
        with transaction.atomic():
            for contact in contacts:
                created += _history_for(contact, channel, templates, rng, now)
    story = _opt_out_story(channel=channel, now=now)
    live = _live_sends(channel=channel, contacts=contacts, rng=rng)
    health = seed_number_health(channel=channel)
    return {
        "history_messages": created,
        "opt_out_story": story,
        "live_sends": live,
        "number_health": health,
    }


def _sent(channel: Channel, contact: Contact, template, content: dict, at, wamid: str) -> Message:
    """An outbound template message as its read status webhook would have left it."""
    marketing = template.category == TemplateCategory.MARKETING
    return Message.objects.create(
        channel=channel, contact=contact, direction=Direction.OUTBOUND,
        type=MessageType.TEMPLATE, content=content, template=template, is_marketing=marketing,
        lane=Lane.BULK if marketing else Lane.PRIORITY, wamid=wamid, wa_id=contact.wa_id or "",
        status=Status.READ, created_at=at, next_attempt_at=at, accepted_at=at,
        sent_at=at + timedelta(seconds=2), delivered_at=at + timedelta(seconds=5),
        read_at=at + timedelta(minutes=4), attempts=1, pricing_category=template.category.lower(),
    )  # fmt: skip


def _opt_out_story(*, channel: Channel, now) -> bool:
    """Kavya opted in, got a festive offer nine days ago and tapped its "Stop promotions"
    button: the tap goes through `inbound_message_apply` like a webhook's (the consent event,
    source "button", names the template and the button). Four days ago she still got her
    order confirmation (utility); no marketing followed. Written once."""
    if Message.objects.filter(wamid=OPT_OUT_TAP_WAMID).exists():
        return False
    sendable = templates_sendable(channel=channel)
    offers = [t for t in sendable.filter(category=TemplateCategory.MARKETING) if t.opt_out_buttons]
    offer = next((t for t in offers if t.name == "festive_offer"), offers[0] if offers else None)
    receipt = sendable.filter(category=TemplateCategory.UTILITY, name="order_confirmation").first()
    if offer is None or receipt is None:
        return False
    phone = OPT_OUT_PHONE
    contact, _ = Contact.objects.get_or_create(
        phone=phone, defaults={"wa_id": phone[1:], "name": "Kavya Menon", "language": "en"}
    )
    consent_set(contact=contact, consent=Consent.OPTED_IN, source=ConsentSource.IMPORT,
                note="demo data: signed up at the store", at=now - timedelta(days=60))  # fmt: skip
    offered_at = now - timedelta(days=9, hours=2)
    button = offer.opt_out_buttons[0]
    declared = offer.parameters or {}
    content = template_content_build(
        template=offer,
        header={n: OFFER_VALUES.get(n, "Kavya") for n in declared.get("header") or []},
        body={n: OFFER_VALUES.get(n, "Kavya") for n in declared.get("body") or []},
    )
    marketing = _sent(channel, contact, offer, content, offered_at, "wamid.demo.optout.offer")
    inbound_message_apply(
        inbound=InboundMessage(
            channel_key=channel.phone_number_id, wamid=OPT_OUT_TAP_WAMID,
            from_wa_id=contact.wa_id, from_bsuid=None, profile_name="Kavya",
            timestamp=offered_at + timedelta(minutes=25), type="button",
            content={"payload": button["text"], "text": button["text"]},
            context_wamid=marketing.wamid,
        ),
        channel=channel,
    )  # fmt: skip
    receipt_content = template_content_build(
        template=receipt, header=["#40377"], body=["Kavya", "#40377", "₹2,150.00", "Monday"],
        button_url_values={"0": "40377"},
    )  # fmt: skip
    _sent(channel, contact, receipt, receipt_content, now - timedelta(days=4),
          "wamid.demo.optout.receipt")  # fmt: skip
    return True


def seed_number_health(*, channel: Channel) -> str:
    """The number's quality, tier and status, read from the provider (the simulator under
    `make run`) as `sync_channels` does; when it cannot be read, the simulator's defaults
    are recorded by hand so the demo still shows a number with a tier and a quality."""
    result = channel_health_sync(channel=channel)
    if result.errors or result.skipped:
        channel_health_apply(
            channel=channel,
            source=HealthSource.MANUAL,
            quality="GREEN",
            tier="TIER_10K",
            status="CONNECTED",
        )
        return f"set by hand ({'; '.join(result.errors) or result.skipped})"
    return result.summary()


def _live_sends(*, channel: Channel, contacts: list[Contact], rng: random.Random) -> int:
    """A few real sends that the worker delivers through the simulator on start-up."""
    template = (
        templates_sendable(channel=channel).filter(name="order_confirmation", language="en").first()
    )
    if template is None:
        return 0
    sent = 0
    for contact in rng.sample(contacts, k=min(5, len(contacts))):
        content = template_content_build(
            template=template,
            header=[f"#{rng.randint(40000, 49999)}"],
            body=[
                contact.display_name.split()[0],
                f"#{rng.randint(40000, 49999)}",
                f"₹{rng.randint(299, 4999):,}.00",
                "Friday",
            ],
            button_url_values={"0": str(rng.randint(40000, 49999))},
        )
        try:
            message_send(channel=channel, contact=contact, type="template", content=content)
            sent += 1
        except SendRefused:
            continue
    return sent
