"""Demo analytics: conversions over the last 60 days (many of them just after a demo campaign,
content or notification message was delivered, so attribution has something to find), a
rhythm of repeat orders for a few dozen customers (so RFM segments, churn and tiers differ),
button taps on delivered demo messages, then the rollups for the last 60 days.

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
from analytics.models import QualityRating
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
    "campaign": [("SHOP_NOW", "Shop now"), ("TRACK_ORDER", "Track order"),
                 ("NOT_INTERESTED", "Not interested")],
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
    summary = {
        "attributed": _attributed_conversions(rng, now),
        "repeat_orders": _repeat_customers(rng, now, contacts),
        "organic": _organic(rng, now, contacts),
        "taps": _taps(rng, now),
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


def _value(rng: random.Random) -> Decimal:
    return Decimal(rng.choice([299, 499, 799, 1299, 1499, 2499, 3999, 4999])) + Decimal("0.00")


# How often a delivered message is followed by a conversion credited to it: a few percent for
# marketing (WhatsApp campaigns report 2-8%), rarely after a utility notice. Higher shares
# made the demo's ROI absurd: at India's rates a message costs about a rupee or less.
CONVERSION_SHARES = {"marketing": 0.06, "utility": 0.01, "content": 0.03, "notification": 0.04}


def _share(message, kind: str) -> float:
    if kind != "campaign":
        return CONVERSION_SHARES[kind]
    category = (message.template.category if message.template else "").lower()
    return CONVERSION_SHARES["marketing" if category == "marketing" else "utility"]


def _attributed_conversions(rng: random.Random, now) -> int:
    created = 0
    for index, (message, kind) in enumerate(_touches(now)):
        if rng.random() > _share(message, kind):
            continue
        reached = message.delivered_at or message.read_at
        at = min(now - timedelta(minutes=1), reached + timedelta(hours=rng.uniform(0.2, 96)))
        kind_of = rng.choices(["order", "payment", "signup", "page_view"], [55, 15, 10, 20])[0]
        _, new = conversion_record(
            reference_id=f"DEMO-CV-T{message.pk}-{index}",
            type=kind_of,
            contact=message.contact,
            occurred_at=at,
            value=_value(rng) if kind_of in ("order", "payment") else 0,
            page_name=rng.choice(PAGES) if kind_of == "page_view" else "",
            session_id=f"s{rng.randint(10000, 99999)}" if kind_of == "page_view" else "",
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
        kind = rng.choices(["order", "signup", "page_view", "subscription"], [40, 15, 40, 5])[0]
        _, new = conversion_record(
            reference_id=f"DEMO-CV-O{n}",
            type=kind,
            contact=rng.choice(contacts),
            occurred_at=at,
            value=_value(rng) if kind in ("order", "subscription") else 0,
            page_name=rng.choice(PAGES) if kind == "page_view" else "",
            source="web",
        )
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
