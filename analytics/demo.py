"""Demo analytics: conversions over the last 60 days, a rhythm of repeat orders for a few
dozen customers (so RFM segments, churn and tiers differ), button taps on delivered demo
messages, page views, then the rollups for the last 60 days.

The money has to read like a real business's. At Meta's Indian rates a message costs ₹0.12
(utility) to ₹0.92 (marketing), so a single ₹1,500 order credited to a small send makes its
ROI absurd. Hence: a marketing message earns an order only from a contact who tapped it (so a
campaign's converted <= clicked) and rarely; a utility notification or an advisor's content
earns almost nothing directly; and most revenue is organic, from customers no campaign,
content or notification touched (so last-touch attribution cannot credit it to a message).

Idempotent: references are fixed (`DEMO-CV-...`), taps are keyed by their reply's wamid, and
the rollups recompute. Called last by `seed_demo`.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from analytics.days import local_day
from analytics.models import ButtonClick, QualityRating
from analytics.ops.jobs import JobAlreadyRunning, job_run_now
from analytics.registry import ROLLUP_JOB
from analytics.services.conversions import conversion_record
from analytics.services.events import button_click_record, quality_rating_record
from crm.models import Contact
from messaging.models import (
    AutomatedAnswer,
    ContentDelivery,
    Direction,
    Message,
    MessageType,
    Notification,
    Status,
)
from messaging.sending.costs import messages_cost_backfill

logger = logging.getLogger(__name__)

DAYS = 60
PAGES = ["home", "pricing", "product/saree-silk", "product/kurta", "checkout", "offers"]
TAP_TITLES = {
    "campaign": [("SHOP_NOW", "Shop now")],  # the offer's button (festive_offer)
    "content": [("UNLOCK_CONTENT", "Unlock content"), ("UNLOCK_IMAGES", "Get images"),
                ("SHARE_WITH_CLIENTS", "Share with clients")],
    "notification": [("TRACK_ORDER", "Track order"), ("TALK_TO_US", "Talk to us")],
}  # fmt: skip


def seed_analytics(*, rng: random.Random) -> dict:
    """Create the demo's analytics inputs and roll up the last 60 days."""

    now = timezone.now()
    contacts = list(Contact.objects.exclude(phone=None).filter(blocked=False).order_by("pk")[:200])
    if not contacts:
        return {"skipped": "no contacts"}
    untouched = _untouched(contacts)
    summary = {
        "taps": _taps(rng, now),
        "attributed": _attributed_conversions(rng, now),
        "repeat_orders": _repeat_customers(rng, now, untouched),
        "organic": _organic(rng, now, untouched),
        "page_views": _page_views(rng, now),
        "ratings": _ratings(),
    }
    # The demo's messages were written as their webhooks would have left them: price them.
    summary["messages_priced"] = messages_cost_backfill()
    summary["rollup"] = _rollup(now)
    return summary


def _touches(now):
    """Delivered demo messages that attribution counts: (message, kind)."""

    since = now - timedelta(days=DAYS)
    delivered = Message.objects.filter(
        direction=Direction.OUTBOUND,
        status__in=[Status.DELIVERED, Status.READ],
        created_at__gte=since,
    ).filter(Q(delivered_at__isnull=False) | Q(read_at__isnull=False))
    content_ids = ContentDelivery.objects.filter(message__isnull=False).values("message_id")
    notification_ids = Notification.objects.filter(message__isnull=False).values("message_id")
    delivered = delivered.select_related("template")
    out = [(m, "campaign") for m in delivered.filter(campaign__isnull=False).order_by("pk")[:400]]
    out += [(m, "content") for m in delivered.filter(pk__in=content_ids).order_by("pk")[:300]]
    out += [(m, "notification") for m in delivered.filter(pk__in=notification_ids).order_by("pk")]
    return out


def _untouched(contacts: list[Contact]) -> list[Contact]:
    """Contacts no campaign, content or notification message reached: their purchases stay
    organic under last-touch attribution."""
    touched = set(
        Message.objects.filter(direction=Direction.OUTBOUND)
        .filter(
            Q(campaign__isnull=False)
            | Q(pk__in=ContentDelivery.objects.filter(message__isnull=False).values("message_id"))
            | Q(pk__in=Notification.objects.filter(message__isnull=False).values("message_id"))
        )
        .values_list("contact_id", flat=True)
    )
    return [c for c in contacts if c.pk not in touched] or contacts


VALUES = [299, 499, 799, 1299, 1499, 2499, 3999, 4999]


def _value(rng: random.Random, *, basket: bool = False) -> Decimal:
    """An order's value; `basket`: what a WhatsApp offer sells (one festive item, no
    wardrobe), up to ₹2,499."""
    return Decimal(rng.choice(VALUES[:6] if basket else VALUES)) + Decimal("0.00")


# How often a delivered message is followed by a conversion credited to it. Marketing: of the
# contacts who tapped the offer, about one in eight buys (3% of recipients, what WhatsApp
# campaigns report); a utility notice or an advisor's content rarely leads to a sale. Higher
# shares made the demo's ROI absurd: at India's rates a message costs about a rupee or less.
CONVERSION_SHARES = {"marketing": 0.12, "utility": 0.01, "content": 0.01, "notification": 0.015}


def _share(message, kind: str, tapped: set[int]) -> float:
    if kind != "campaign":
        return CONVERSION_SHARES[kind]
    category = (message.template.category if message.template else "").lower()
    if category == "marketing":
        return CONVERSION_SHARES["marketing"] if message.pk in tapped else 0.0
    return CONVERSION_SHARES["utility"]


def _attributed_conversions(rng: random.Random, now) -> int:
    created = 0
    tapped = set(ButtonClick.objects.values_list("replied_to_id", flat=True))
    for index, (message, kind) in enumerate(_touches(now)):
        if rng.random() > _share(message, kind, tapped):
            continue
        reached = message.delivered_at or message.read_at
        at = reached + timedelta(hours=rng.uniform(0.5, 72))
        kind_of = rng.choices(["order", "payment", "signup"], [75, 15, 10])[0]
        value = _value(rng, basket=True) if kind_of in ("order", "payment") else 0
        if at >= now:  # not bought yet: a campaign paused two hours ago has earned little
            continue
        _, new = conversion_record(
            reference_id=f"DEMO-CV-T{message.pk}-{index}",
            type=kind_of,
            contact=message.contact,
            occurred_at=at,
            value=value,
            source=rng.choice(["web", "app", "store"]),
        )
        created += new
    return created


def _repeat_customers(rng: random.Random, now, contacts) -> int:
    """A few dozen customers with a buying rhythm; some stopped weeks ago (at risk). They are
    drawn from contacts no campaign messaged: their habit is not a campaign's doing, and
    crediting it by last touch gave the demo campaigns an ROI of hundreds of thousands %."""
    created = 0
    messaged = set(
        Message.objects.filter(direction=Direction.OUTBOUND, campaign__isnull=False).values_list(
            "contact_id", flat=True
        )
    )
    contacts = [c for c in contacts if c.pk not in messaged] or contacts
    for n, contact in enumerate(rng.sample(contacts, min(45, len(contacts)))):
        gap = rng.choice([4, 7, 10, 14, 21])
        stopped = rng.random() < 0.3
        at = now - timedelta(days=DAYS - rng.uniform(0, gap))
        end = now - timedelta(days=rng.uniform(25, 45)) if stopped else now
        big = rng.random() < 0.15
        k = 0
        while at < end:
            value = _value(rng) * (Decimal(6) if big else Decimal(1))
            _, new = conversion_record(
                reference_id=f"DEMO-CV-R{n}-{k}", type="order", contact=contact,
                occurred_at=at, value=value, source="store",
            )  # fmt: skip
            created += new
            k += 1
            at += timedelta(days=gap * rng.uniform(0.7, 1.3))
    return created


def _organic(rng: random.Random, now, contacts) -> int:
    created = 0
    for n in range(150):
        at = now - timedelta(days=rng.uniform(0, DAYS), minutes=1)
        kind = rng.choices(["order", "signup", "subscription"], [70, 22, 8])[0]
        _, new = conversion_record(
            reference_id=f"DEMO-CV-O{n}",
            type=kind,
            contact=rng.choice(contacts),
            occurred_at=at,
            value=_value(rng) if kind in ("order", "subscription") else 0,
            source=rng.choice(["web", "web", "app"]),
        )
        created += new
    return created


# Where the shop's visitors land and how they came (the conversions API's `source` label).
PAGE_WEIGHTS = [50, 8, 20, 14, 12, 30]  # PAGES: home, pricing, saree, kurta, checkout, offers
PAGE_SOURCES = (["web", "app", "whatsapp", "instagram"], [45, 25, 20, 10])


def _page_views(rng: random.Random, now) -> int:
    """Browsing sessions over the last 60 days: a visitor opens one to four pages (home or an
    offer first, checkout last), more on festive days; page views are engagement, never
    conversions. Sessions come from 300 of the contacts, so pages show fewer contacts than
    views."""
    visitors = list(Contact.objects.exclude(phone=None).order_by("pk")[:300])
    created = 0
    for n in range(170):
        contact = rng.choice(visitors)
        start = now - timedelta(days=DAYS * rng.random() ** 1.4, minutes=rng.randint(1, 900))
        source = rng.choices(*PAGE_SOURCES)[0]
        pages = rng.choices(PAGES, PAGE_WEIGHTS, k=rng.randint(1, 4))
        pages.sort(key=lambda p: p == "checkout")
        for k, page in enumerate(pages):
            _, new = conversion_record(
                reference_id=f"DEMO-PV-{n}-{k}", type="page_view", contact=contact,
                occurred_at=start + timedelta(minutes=2 * k), page_name=page,
                session_id=f"s{n:05d}", source=source,
            )  # fmt: skip
            created += new
    return created


def _taps(rng: random.Random, now) -> int:
    """Button replies on a share of the delivered demo messages, recorded as the webhook
    would (an inbound button message, then its ButtonClick)."""

    created = 0
    for message, kind in _touches(now):
        # Draw every random number first, so that a second run makes the same choices.
        tap, delay = rng.random(), rng.choice([0.5, 2, 8, 30, 90, 600, 2000])
        payload, title = rng.choice(TAP_TITLES[kind])
        wamid = f"wamid.DEMO.tap.{message.pk}"
        if tap > 0.3 or Message.objects.filter(wamid=wamid).exists():
            continue
        tapped = min(now, (message.read_at or message.delivered_at) + timedelta(minutes=delay))
        reply = Message.objects.create(
            channel_id=message.channel_id, contact_id=message.contact_id,
            conversation_id=message.conversation_id, direction=Direction.INBOUND,
            type=MessageType.BUTTON_REPLY, content={"payload": payload, "text": title},
            context_wamid=message.wamid or "", wamid=wamid, wa_id=message.wa_id,
            status=Status.RECEIVED, received_at=tapped, created_at=tapped, next_attempt_at=tapped,
        )  # fmt: skip
        button_click_record(message=reply, payload=payload, title=title, replied_to=message)
        created += 1
    return created


def _ratings() -> int:
    """Ratings the demo inbox stored directly become rating events once."""

    rated = set(QualityRating.objects.values_list("answer_id", flat=True))
    created = 0
    for answer in AutomatedAnswer.objects.filter(rating__isnull=False).exclude(pk__in=rated):
        quality_rating_record(
            answer=answer, rating=answer.rating, previous=None, rated_by=answer.rated_by,
            at=answer.rated_at or answer.created_at,
        )  # fmt: skip
        created += 1
    return created


def _rollup(now) -> dict:

    since = local_day(now) - timedelta(days=DAYS - 1)
    try:
        run = job_run_now(name=ROLLUP_JOB, arguments={"since": since, "customers": True})
    except JobAlreadyRunning as exc:
        logger.warning("demo rollup skipped: %s", exc.message)
        return {"skipped": exc.message}
    return {"state": run.state, **{k: v for k, v in (run.counts or {}).items() if k != "seconds"}}
