"""Demo campaigns: the Diwali sale (marketing, finished last week, with results), one running
live, one scheduled, one draft, and a marketing campaign its number's quality drop paused
half-way."""

from __future__ import annotations

import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from crm.models import Consent, Contact, Segment, Tag
from crm.selectors import segment_contacts
from messaging.campaigns.models import Campaign, CampaignState, CampaignTransition
from messaging.campaigns.services import (
    CampaignNotReady,
    campaign_content,
    campaign_create,
    campaign_launch,
    campaign_schedule,
)
from messaging.channels.models import Channel, HealthSource, MessageTemplate
from messaging.channels.services import channel_health_apply
from messaging.sending.models import Lane, Message, Status

DELAY_MAPPING = {
    "body": [
        {"source": "field", "value": "name", "fallback": "there"},
        {"source": "constant", "value": "#40321"},
        {"source": "constant", "value": "Monday 24 November"},
    ]
}
ORDER_MAPPING = {
    "header": [{"source": "constant", "value": "#40321"}],
    "body": [
        {"source": "field", "value": "name", "fallback": "there"},
        {"source": "constant", "value": "#40321"},
        {"source": "constant", "value": "₹1,499.00"},
        {"source": "constant", "value": "Friday"},
    ],
    "buttons": {"0": {"source": "constant", "value": "40321"}},
}


def _tag(name: str, contacts: list[Contact], rng: random.Random, share: float) -> Tag:
    tag, _ = Tag.objects.get_or_create(name=name)
    chosen = [c for c in contacts if rng.random() < share]
    tag.contacts.add(*chosen)
    return tag


DIWALI_SEGMENT = "Diwali 2026 audience"  # crm's demo segment: opted-in, tagged diwali-2026


def _finished(channel, template, rng, now) -> None:
    """The flagship: last week's Diwali sale offer (marketing) to crm's Diwali segment, with
    statuses as the webhooks left them. Only contacts who had opted in by the launch get it,
    as the send policy requires."""
    # Five days ago at 10:30 in the business's time zone, not "now minus 6 days": a send time
    # that moves with the clock crossed the start of the dashboards' 7-day range for a few
    # hours each night, leaving its conversions in the week without its cost.
    launched = (timezone.localtime(now) - timedelta(days=5)).replace(
        hour=10, minute=30, second=0, microsecond=0
    )
    segment = Segment.objects.filter(name=DIWALI_SEGMENT).first()
    campaign = Campaign.objects.create(
        name="Diwali sale 2026",
        description="20% off everything for the festive week.",
        channel=channel,
        template=template,
        parameter_mapping=OFFER_MAPPING | {"header": [
            {"name": "offer_name", "source": "constant", "value": "Diwali Sale"}]},
        segment=segment,
        state=CampaignState.COMPLETED,
        audience_size=0,
        launched_at=launched,
        completed_at=launched + timedelta(hours=1),
        throttle_mps=20,
    )  # fmt: skip
    audience = segment_contacts(segment) if segment else Contact.objects.none()
    audience = audience.filter(
        blocked=False, undeliverable=False, consent=Consent.OPTED_IN,
        consent_updated_at__lte=launched,
    ).exclude(phone=None)  # fmt: skip
    rows = []
    for contact in audience.order_by("pk"):
        at = launched + timedelta(seconds=rng.uniform(0, 600))
        status = rng.choices(
            [Status.READ, Status.DELIVERED, Status.SENT, Status.FAILED], [60, 25, 7, 8]
        )[0]
        message = Message(
            channel=channel,
            contact=contact,
            campaign=campaign,
            direction="out",
            type="template",
            template=template,
            lane=Lane.BULK,
            status=status,
            content=campaign_content(campaign, {"name": contact.name, "attributes": {}}),
            is_marketing=True,
            wa_id=contact.wa_id or "",
            pricing_category="marketing",
            created_at=launched,
            accepted_at=at,
            attempts=1,
            wamid=f"wamid.democamp{campaign.pk}x{contact.pk}",
            sent_at=at + timedelta(seconds=2) if status != Status.FAILED else None,
            delivered_at=at + timedelta(seconds=30)
            if status in (Status.DELIVERED, Status.READ)
            else None,
            read_at=at + timedelta(minutes=rng.randint(2, 300)) if status == Status.READ else None,
        )
        if status == Status.FAILED:
            message.error_code = rng.choice([131026, 131049, 131026, 130472])
            message.error_title = "Message undeliverable"
            message.failed_at = at + timedelta(seconds=3)
        rows.append(message)
    Message.objects.bulk_create(rows, ignore_conflicts=True)
    Campaign.objects.filter(pk=campaign.pk).update(audience_size=len(rows))
    for before, after in [("draft", "running"), ("running", "completed")]:
        CampaignTransition.objects.create(
            campaign=campaign, from_state=before, to_state=after, created_at=launched
        )


OFFER_MAPPING = {
    "header": [{"name": "offer_name", "source": "constant", "value": "Festive Sale"}],
    "body": [
        {"name": "first_name", "source": "field", "value": "name", "fallback": "there"},
        {"name": "discount", "source": "constant", "value": "20%"},
        {"name": "valid_until", "source": "constant", "value": "Sunday"},
    ],
}


def _paused_on_quality_drop(channel, template, tag, rng, now) -> str:
    """A marketing campaign half sent when its number's quality dropped to RED: the drop
    arrives as Meta's flag would (through `channel_health_apply`, which pauses the number's
    running marketing campaigns with the reason), then the number recovers to YELLOW while
    the campaign waits for staff to decide."""
    campaign = campaign_create(
        name="Festive offer (paused: quality drop)",
        channel=channel,
        template=template,
        parameter_mapping=OFFER_MAPPING,
        throttle_mps=5,
        tags=[tag],
    )
    try:
        campaign = campaign_launch(campaign=campaign)
    except CampaignNotReady as exc:
        return f"not launched: {exc.message}"
    queued = list(Message.objects.filter(campaign=campaign).order_by("pk"))
    launched = now - timedelta(hours=2)
    Campaign.objects.filter(pk=campaign.pk).update(launched_at=launched)
    for message in queued[: len(queued) // 2]:  # sent before the drop, as webhooks left them
        at = launched + timedelta(seconds=rng.uniform(0, 900))
        read = rng.random() < 0.5
        Message.objects.filter(pk=message.pk).update(
            status=Status.READ if read else Status.DELIVERED,
            wamid=f"wamid.democamp{campaign.pk}x{message.contact_id}",
            attempts=1,
            accepted_at=at,
            sent_at=at + timedelta(seconds=2),
            delivered_at=at + timedelta(seconds=30),
            read_at=at + timedelta(minutes=rng.randint(2, 60)) if read else None,
        )
    channel_health_apply(
        channel=channel,
        source=HealthSource.WEBHOOK,
        quality="RED",
        status="FLAGGED",
        status_detail="FLAGGED",
        event="phone_number_quality_update FLAGGED",
    )
    channel_health_apply(
        channel=channel, source=HealthSource.GRAPH, quality="YELLOW", status="CONNECTED"
    )
    campaign.refresh_from_db()
    return campaign.pause_reason or campaign.state


def seed_campaigns(*, rng: random.Random, channel: Channel, contacts: list[Contact]) -> dict:
    if Campaign.objects.filter(is_adhoc=False).exists():
        return {"campaigns": "already seeded"}
    now = timezone.now()
    delay = MessageTemplate.objects.filter(channel=channel, name="delivery_delayed").first()
    order = MessageTemplate.objects.filter(
        channel=channel, name="order_confirmation", language="en"
    ).first()
    if delay is None or order is None:
        return {"campaigns": "templates missing"}
    with transaction.atomic():
        rush = _tag("diwali-rush", contacts, rng, 0.5)
        weekend = _tag("weekend-orders", contacts, rng, 0.15)
        offer = MessageTemplate.objects.filter(
            channel=channel, name="festive_offer", language="en"
        ).first()
        if offer is not None:
            _finished(channel, offer, rng, now)

        live = campaign_create(
            name="Order follow-up (live)",
            channel=channel,
            template=order,
            parameter_mapping=ORDER_MAPPING,
            throttle_mps=2,
            tags=[weekend],
        )
        scheduled = campaign_create(
            name="Weekend delivery reminder",
            channel=channel,
            template=delay,
            parameter_mapping=DELAY_MAPPING,
            tags=[weekend],
        )
        campaign_create(
            name="New year offer (draft)",
            channel=channel,
            template=order,
            description="Waiting for the offer copy from marketing.",
            tags=[rush],
        )
    result = {"finished": int(offer is not None), "draft": 1}
    try:
        campaign_launch(campaign=live)
        result["running"] = 1
        campaign_schedule(
            campaign=scheduled, scheduled_at=now + timedelta(days=1), scheduled_by=None
        )
        result["scheduled"] = 1
    except CampaignNotReady as exc:
        result["not_launched"] = exc.message
    if offer is not None:
        festive = _tag("festive-shoppers", contacts, rng, 0.4)
        result["paused_on_quality_drop"] = _paused_on_quality_drop(
            channel, offer, festive, rng, now
        )
    return result
