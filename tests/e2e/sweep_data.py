"""Rows built to stretch a layout: the longest names, numbers and words real data brings.

The responsive sweep loads the demo's data and then this, so every table has rows and the
widest of them decide whether a page still fits a phone.
"""

from __future__ import annotations

from django.utils import timezone

from analytics.models import AppError, JobRun
from crm.models import Advisor, Contact, ImportJob, Segment, Tag
from crm.segment_filters import segment_filter_clean
from messaging.models import (
    Campaign,
    ContentItem,
    Conversation,
    Message,
    Notification,
    Status,
)

LONG_NAME = "Venkataramanan Subramaniam Lakshminarayanan Chandrasekharan-Iyengar"
LONG_PHONE = "+919876543210123"  # 15 digits, the most E.164 allows
# A word that cannot wrap: links and ids in real messages look like this.
LONG_WORD = "https://research.example.com/notes/2026/12/mid-and-small-caps-quarterly-outlook?utm_source=whatsapp&utm_campaign=diwali"
LONG_TAGS = [
    "diwali-2026-high-value-repeat-buyers",
    "north-region-premium-advisors-tier-1",
    "abandoned-cart-follow-up-december",
    "whatsapp-opted-in-via-website-footer",
]


def seed_wide_rows(*, channel) -> None:
    tags = [Tag.objects.get_or_create(name=name)[0] for name in LONG_TAGS]
    contact = Contact.objects.create(
        phone=LONG_PHONE,
        wa_id=LONG_PHONE.lstrip("+"),
        name=LONG_NAME,
        profile_name=LONG_NAME.upper(),
        language="en",
        consent="opted_in",
        attributes={"city": "Thiruvananthapuram", "note": LONG_WORD},
        last_inbound_at=timezone.now(),
    )
    contact.tags.add(*tags)
    conversation = Conversation.objects.create(
        contact=contact, channel=channel, last_inbound_at=timezone.now()
    )
    Message.objects.create(
        channel=channel,
        contact=contact,
        conversation=conversation,
        direction="in",
        type="text",
        content={"body": f"Please see {LONG_WORD} and call me on {LONG_PHONE}"},
        status=Status.RECEIVED,
        wamid="wamid.sweep" + "0" * 40,
        received_at=timezone.now(),
    )
    Advisor.objects.create(
        contact=contact,
        firm="Lakshminarayanan Wealth Management and Financial Planning Private Limited",
        region="Andaman and Nicobar Islands",
        tier="gold",
        content_preferences=["markets", "mutual-funds", "tax-planning", "insurance"],
    )
    Segment.objects.create(
        name="High-value repeat buyers in the north who opted in through the website",
        description=LONG_WORD,
        filter=segment_filter_clean(
            {"consent": ["opted_in"], "tags": {"any": [t.name for t in tags]}}
        ),
    )
    campaign = Campaign.objects.order_by("pk").first()
    if campaign is not None:
        Campaign.objects.filter(pk=campaign.pk).update(
            name="Diwali 2026 festive offer for high-value repeat buyers in the north region"
        )
    item = ContentItem.objects.order_by("pk").first()
    if item is not None:
        ContentItem.objects.filter(pk=item.pk).update(
            title="Mid and small caps: the quarterly outlook for conservative portfolios",
            body=f"Full note: {LONG_WORD}",
        )
    notification = Notification.objects.order_by("pk").first()
    if notification is not None:
        Notification.objects.filter(pk=notification.pk).update(
            reference_id="order-2026-12-05-0000012345678-DELIVERY-DELAYED-RETRY"
        )
    job = ImportJob.objects.order_by("pk").first()
    if job is not None:
        ImportJob.objects.filter(pk=job.pk).update(
            original_name="contacts-export-from-the-old-crm-december-2026-final-v3.csv"
        )
    AppError.objects.create(
        level="ERROR",
        logger="messaging.sending.dispatch.provider_meta_cloud",
        message=f"Provider refused the media URL {LONG_WORD}",
    )
    JobRun.objects.create(
        name="sync_templates",
        trigger="user",
        state="failed",
        error=f"Graph API refused {LONG_WORD}",
        log=LONG_WORD,
        finished_at=timezone.now(),
    )
