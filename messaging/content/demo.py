"""Demo data for content, notifications and tracked links: a month of believable history.

History rows are written directly (statuses and timestamps as the webhooks would have left
them) so the pages have a past; nothing here reaches the provider. Idempotent: each part is
written once, recognised by its demo markers (content titles, `DEMO-` references).
"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from crm.models import Advisor, Contact
from messaging.channels.models import Channel, MessageTemplate
from messaging.channels.selectors import templates_sendable
from messaging.content.distribution import content_announcement
from messaging.content.models import (
    ContentDelivery,
    ContentItem,
    ContentState,
    ContentTransition,
    ContentUnlock,
    UnlockKind,
)
from messaging.content.rules import quick_reply_buttons
from messaging.content.services import content_today
from messaging.links.models import LinkClick, TrackedLink
from messaging.links.services import ip_hash, link_token
from messaging.notifications.models import Notification, NotificationType
from messaging.notifications.services import notification_content
from messaging.sending.models import Direction, Lane, Message, MessageType, Status

BUTTONS = [
    {"kind": UnlockKind.UNLOCK_CONTENT, "title": "Unlock content"},
    {"kind": UnlockKind.UNLOCK_IMAGES, "title": "Get images"},
    {"kind": UnlockKind.SHARE_WITH_CLIENTS, "title": "Share with clients"},
]
# (title, category, state, days from today, body, review note)
ITEMS = [
    ("Mid-caps rally on earnings", "markets", "distributed", -6,
     "Mid-cap indices rose 2.1% this week as results beat estimates in banking and autos. "
     "What to tell clients: stay the course with SIPs. Full note: "
     "https://research.example.com/notes/midcaps", ""),
    ("ELSS before 31 March", "tax", "distributed", -4,
     "Three ELSS funds with a three-year lock-in and strong five-year records. A checklist to "
     "share with salaried clients: https://research.example.com/notes/elss", ""),
    ("Gold as a hedge", "commodities", "distributed", -2,
     "Gold rose 4% this month. Sovereign gold bonds remain the cheapest way to hold it: "
     "https://research.example.com/notes/sgb", ""),
    ("RBI policy: rates on hold", "macro", "approved", 0,
     "The RBI kept the repo rate at 6.5%. Short-duration debt funds look attractive: "
     "https://research.example.com/notes/rbi", ""),
    ("Retirement corpus calculator", "planning", "scheduled", 1,
     "A one-page guide to estimating a retirement corpus, with a worked example for a "
     "35-year-old: https://research.example.com/tools/retirement", ""),
    ("Term insurance myths", "insurance", "approved", 2,
     "Five myths about term insurance and the facts to share with clients.", ""),
    ("Small-cap valuations", "markets", "pending_review", 1,
     "Small caps trade at 28x earnings. A balanced view for aggressive investors.", ""),
    ("NPS tier II explained", "tax", "pending_review", 2,
     "How NPS tier II differs from tier I, and who should use it.", ""),
    ("International funds after the cap", "markets", "pending_review", 3,
     "What the overseas investment limit means for feeder funds.", ""),
    ("Crypto is the new gold", "markets", "rejected", 1,
     "Why every client should hold crypto now.",
     "Not a view we can share with clients; stick to regulated products."),
    ("Guaranteed 12% returns", "planning", "rejected", 2,
     "A product with guaranteed 12% returns.",
     "No product guarantees 12%: remove the claim and name the product's actual risks."),
    ("Health cover top-ups", "insurance", "draft", 4,
     "Super top-up plans: cheap extra cover for families.", ""),
]  # fmt: skip
NOTIFICATION_VARIABLES = {
    "order_confirmation": lambda r: {
        "order_id": f"#{r.randint(40000, 49999)}", "amount": f"₹{r.randint(299, 4999):,}.00",
        "delivery_date": "Friday", "tracking_id": str(r.randint(40000, 49999)),
    },
    "delivery_reminder": lambda r: {
        "order_id": f"#{r.randint(40000, 49999)}", "delivery_date": "tomorrow",
        "time_slot": "10am and 1pm",
    },
    "delivery_confirmed": lambda r: {"order_id": f"#{r.randint(40000, 49999)}",
                                     "delivered_on": "today"},
    "delivery_delayed": lambda r: {"order_id": f"#{r.randint(40000, 49999)}",
                                   "new_date": "Monday"},
    "payment_reminder": lambda r: {
        "amount": f"₹{r.randint(499, 9999):,}.00", "invoice_id": f"INV-{r.randint(1000, 9999)}",
        "due_date": "the 20th",
    },
    "payment_confirmation": lambda r: {
        "amount": f"₹{r.randint(499, 9999):,}.00", "paid_on": "today",
        "payment_reference": f"PAY-{r.randint(10000, 99999)}",
    },
    "subscription_confirmation": lambda r: {"plan": "Monthly Essentials", "renews_on": "the 14th"},
    "subscription_paused": lambda r: {"plan": "Monthly Essentials", "resume_on": "next month"},
    "new_product": lambda r: {"product_name": "Cold Brew Kit",
                              "product_summary": "smooth coffee in 12 hours"},
    "we_miss_you": lambda r: {"discount": "15%", "coupon_code": "COMEBACK15"},
}  # fmt: skip
UA = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/126 Mobile Safari/537.36"


def _wamid() -> str:
    return "wamid.demo" + uuid.uuid4().hex


def _user(username: str):
    return get_user_model().objects.filter(username=username).first()


def _status_times(message: Message, status: int, at) -> None:
    message.status = status
    message.accepted_at = at
    if status in (Status.SENT, Status.DELIVERED, Status.READ):
        message.sent_at = at + timedelta(seconds=2)
    if status in (Status.DELIVERED, Status.READ):
        message.delivered_at = at + timedelta(seconds=5)
    if status == Status.READ:
        message.read_at = at + timedelta(minutes=3)
    if status == Status.FAILED:
        message.failed_at = at + timedelta(seconds=3)
        message.error_code, message.error_title = 131026, "Message undeliverable"


def _announcement_template(channel: Channel) -> MessageTemplate | None:
    sendable = templates_sendable(channel=channel)
    preferred = sendable.filter(name="advisor_content_ready").first()
    if preferred:
        return preferred
    for template in sendable:
        if quick_reply_buttons(template) and not (template.parameters or {}).get("buttons"):
            return template
    return None


def seed_content(*, rng: random.Random, channel: Channel) -> dict:
    """Content items in every state (with deliveries, unlocks and link clicks for those
    already distributed) and about 60 notifications over the last 30 days."""
    counts = {"content_items": 0, "deliveries": 0, "notifications": 0, "link_clicks": 0}
    NotificationType.objects.filter(enabled=False, notifications__isnull=True).update(enabled=True)
    if not ContentItem.objects.filter(title=ITEMS[0][0]).exists():
        with transaction.atomic():
            counts.update(_seed_items(rng=rng, channel=channel))
    if not Notification.objects.filter(reference_id__startswith="DEMO-").exists():
        with transaction.atomic():
            counts["notifications"] = _seed_notifications(rng=rng, channel=channel)
    return counts


def _seed_items(*, rng: random.Random, channel: Channel) -> dict:
    author = _user("campaign_manager")
    reviewer = _user("content_reviewer")
    template = _announcement_template(channel)
    advisors = list(Advisor.objects.filter(is_active=True).select_related("contact")[:40])
    today = content_today()
    now = timezone.now()
    result = {"content_items": 0, "deliveries": 0, "link_clicks": 0}
    for title, category, state, days, body, note in ITEMS:
        created = now - timedelta(days=abs(days) + 3, hours=rng.randint(1, 8))
        item = ContentItem.objects.create(
            title=title, body=body, category=category, send_on=today + timedelta(days=days),
            template=template, unlock_buttons=BUTTONS[: len(quick_reply_buttons(template))],
            state=state, created_by=author, created_at=created,
        )  # fmt: skip
        path = {
            "draft": [],
            "pending_review": ["pending_review"],
            "rejected": ["pending_review", "rejected"],
            "approved": ["pending_review", "approved"],
            "scheduled": ["pending_review", "approved", "scheduled"],
            "distributed": ["pending_review", "approved", "distributed"],
        }[state]
        steps = [("", ContentState.DRAFT, author, "created")]
        previous = ContentState.DRAFT
        for step in path:
            actor = reviewer if step in ("approved", "rejected") else author
            text = note if step == "rejected" else ("announced" if step == "distributed" else "")
            steps.append((previous, step, actor, text))
            previous = step
        ContentTransition.objects.bulk_create(
            [
                ContentTransition(content_item=item, from_state=f, to_state=t, actor=a, note=n,
                                  created_at=created + timedelta(hours=i))
                for i, (f, t, a, n) in enumerate(steps)
            ]
        )  # fmt: skip
        if state != "draft":
            item.submitted_by, item.submitted_at = author, created + timedelta(hours=1)
        if state in ("approved", "scheduled", "distributed", "rejected"):
            item.reviewed_by, item.reviewed_at = reviewer, created + timedelta(hours=2)
            item.review_note = note or "Accurate and on message."
        if state == "distributed":
            item.distributed_at = now - timedelta(days=-days, hours=-8)
        item.save()
        result["content_items"] += 1
        if state == "distributed" and template is not None and advisors:
            deliveries, clicks = _seed_deliveries(item, template, advisors, rng)
            result["deliveries"] += deliveries
            result["link_clicks"] += clicks
    return result


def _seed_deliveries(item, template, advisors, rng: random.Random) -> tuple[int, int]:
    at = item.distributed_at
    clicks = 0
    for advisor in advisors:
        contact = advisor.contact
        status = rng.choices([Status.READ, Status.DELIVERED, Status.SENT, Status.FAILED],
                             [60, 25, 10, 5])[0]  # fmt: skip
        delivery = ContentDelivery.objects.create(
            content_item=item, contact=contact, advisor=advisor, created_at=at
        )
        message = Message(
            channel=template.channel, contact=contact, direction=Direction.OUTBOUND,
            type=MessageType.TEMPLATE, template=template, lane=Lane.BULK, is_automated=True,
            content=content_announcement(item, advisor_name=contact.display_name,
                                         delivery_id=delivery.pk),
            wamid=_wamid(), wa_id=contact.wa_id or "", created_at=at, next_attempt_at=at,
            is_marketing=template.category == "MARKETING",
        )  # fmt: skip
        _status_times(message, status, at)
        message.save()
        delivery.message = message
        if status == Status.READ and rng.random() < 0.45:
            tapped = at + timedelta(minutes=rng.randint(5, 300))
            text = f"*{item.title}*\n\n{item.body}"
            unlock = Message.objects.create(
                channel=template.channel, contact=contact, direction=Direction.OUTBOUND,
                type=MessageType.TEXT, content={"body": text, "preview_url": True},
                lane=Lane.PRIORITY, is_automated=True, wamid=_wamid(), created_at=tapped,
                next_attempt_at=tapped, status=Status.READ, accepted_at=tapped,
                sent_at=tapped, delivered_at=tapped, read_at=tapped + timedelta(minutes=1),
            )  # fmt: skip
            delivery.unlocked_at, delivery.unlock_message = tapped, unlock
            ContentUnlock.objects.create(
                delivery=delivery, kind=UnlockKind.UNLOCK_CONTENT, message=unlock,
                created_at=tapped,
            )  # fmt: skip
            url = next((w for w in item.body.split() if w.startswith("https://")), "")
            if url:
                link = TrackedLink.objects.create(
                    token=link_token(), url=url.rstrip(".,"), contact=contact, message=unlock,
                    content_item=item, created_at=tapped,
                )  # fmt: skip
                for _ in range(rng.choice([0, 1, 1, 2])):
                    LinkClick.objects.create(
                        link=link, clicked_at=tapped + timedelta(minutes=rng.randint(1, 90)),
                        user_agent=UA, ip_hash=ip_hash(f"10.0.0.{rng.randint(1, 250)}"),
                    )  # fmt: skip
                    clicks += 1
        delivery.save()
    return len(advisors), clicks


def _seed_notifications(*, rng: random.Random, channel: Channel) -> int:
    contacts = list(Contact.objects.exclude(phone=None).filter(blocked=False).order_by("pk")[:80])
    if not contacts:
        return 0
    types = {t.code: t for t in NotificationType.objects.all()}
    templates = {(t.name, t.language): t for t in templates_sendable(channel=channel)}
    requester = _user("campaign_manager")
    now = timezone.now()
    weights = {"order_confirmation": 30, "delivery_reminder": 12, "delivery_confirmed": 15,
               "delivery_delayed": 5, "payment_reminder": 8, "payment_confirmation": 12,
               "subscription_confirmation": 5, "subscription_paused": 3, "new_product": 5,
               "we_miss_you": 5}  # fmt: skip
    codes = [c for c in weights if c in types]
    created = 0
    for n in range(60):
        code = rng.choices(codes, [weights[c] for c in codes])[0]
        event_type, contact = types[code], rng.choice(contacts)
        variables = NOTIFICATION_VARIABLES[code](rng)
        at = now - timedelta(days=rng.uniform(0, 30))
        notification = Notification(
            event_type=event_type, contact=contact, reference_id=f"DEMO-{code[:3].upper()}-{n:04d}",
            variables=variables, requested_by=requester, created_at=at,
        )  # fmt: skip
        template = templates.get((event_type.template_name, event_type.template_language))
        marketing = template is not None and template.category == "MARKETING"
        if template is None or (marketing and contact.consent != "opted_in") or rng.random() < 0.05:
            notification.refusal_code = "no_consent" if template else "template_unknown"
            notification.refusal_reason = (
                "Marketing messages need the contact's opt-in." if template
                else f"Unknown template {event_type.template_name!r}."
            )  # fmt: skip
            if template is not None and not marketing:
                notification.refusal_code = "notification_opted_out"
                notification.refusal_reason = f"The contact opted out of {event_type.name}."
        else:
            message = Message(
                channel=channel, contact=contact, direction=Direction.OUTBOUND,
                type=MessageType.TEMPLATE, template=template, lane=Lane.PRIORITY,
                is_automated=True, is_marketing=marketing, wamid=_wamid(),
                wa_id=contact.wa_id or "", created_at=at, next_attempt_at=at,
                content=notification_content(event_type=event_type, template=template,
                                             contact=contact, variables=variables),
            )  # fmt: skip
            status = rng.choices([Status.READ, Status.DELIVERED, Status.SENT, Status.FAILED],
                                 [55, 30, 7, 8])[0]  # fmt: skip
            _status_times(message, status, at)
            message.save()
            notification.message = message
        notification.save()
        created += 1
    return created
