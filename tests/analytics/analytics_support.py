"""A small, hand-countable world for the analytics tests.

Day D is 2026-03-10 (UTC; the tests travel to D+2 10:00). What happens:

| message | campaign | to | channel | times on D unless noted | status | stored cost (INR) |
| m1 | K | c1 | A | sent 09:00:05, delivered 09:00:10, read 10:00 | read | 0.50 |
| m2 | K | c2 | A | sent 09:01, delivered D+1 08:00 | delivered | 0.50 |
| m3 | K | c3 | A | failed 09:02 (131026), never sent | failed | 0 |
| m4 | - | c4 | B | sent 12:00, delivered 12:01 (a free service reply) | delivered | 0 |
| m5 | notification | c4 | A | sent 13:00, delivered 13:00:30 | delivered | 0.10 |
| m6 | content | c1 | A | sent D-1 23:59, read D 00:30, no delivery receipt | read | 0.10 |

(Costs are stored as the status path would have priced them; tests/analytics/test_money.py
prices messages through the real webhook path.)

Inbound: i1 text from c1 at 10:05, i4 a button reply from c1 at 10:06 to m1 ("Buy now"), i3 a
reaction from c4 on B (not counted), i2 text from c2 at D+1 08:30. A tracked link of K is
clicked by c2 at 11:00 (plus a bot fetch). Consent: c3 opts out at 15:00, c4 opts in at 16:00.
c4 is created on D (the others five days before).

Conversions: cv1 order 1000 by c1 at 11:00 (-> m1, campaign), cv2 payment 200 by c4 at 14:00
(-> m5, notification; m4 is not attributable), cv3 signup by c3 at 10:00 (m3 failed ->
organic), cv4 page view by c2 at 09:30 (m2 was delivered after it -> organic).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from analytics.services.conversions import conversion_record
from analytics.services.events import button_click_record
from crm.models import ConsentEvent
from messaging.models import (
    Campaign,
    CampaignState,
    ContentDelivery,
    LinkClick,
    Notification,
    NotificationType,
    Status,
    TrackedLink,
)
from tests.factories import (
    ChannelFactory,
    ContactFactory,
    ContentItemFactory,
    InboundMessageFactory,
    MessageFactory,
)

D = date(2026, 3, 10)
NOW = datetime(2026, 3, 12, 10, 0, tzinfo=UTC)


def at(hour: int, minute: int = 0, second: int = 0, *, day: date = D) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)


@dataclass
class World:
    a: object = None
    b: object = None
    contacts: dict = field(default_factory=dict)
    messages: dict = field(default_factory=dict)
    campaign: object = None
    content_item: object = None
    notification: object = None
    conversions: dict = field(default_factory=dict)


def _notification_type():
    kind, _ = NotificationType.objects.get_or_create(
        code="order_confirmation", defaults={"name": "Order confirmation"}
    )
    return kind


def build_world() -> World:
    w = World()
    w.a = ChannelFactory(name="Channel A")  # the webhook fixtures' number
    w.b = ChannelFactory(phone_number_id="300000000000002", name="Channel B")
    for name in ("c1", "c2", "c3", "c4"):
        w.contacts[name] = ContactFactory(name=name, created_at=at(8) - timedelta(days=5))
    c1, c2, c3, c4 = (w.contacts[n] for n in ("c1", "c2", "c3", "c4"))
    c4.created_at = at(7)
    c4.save(update_fields=["created_at"])
    w.campaign = Campaign.objects.create(
        name="Spring sale", channel=w.a, state=CampaignState.COMPLETED, created_at=at(8),
    )  # fmt: skip

    def out(name, contact, channel=None, **fields):
        fields.setdefault("created_at", at(9))
        fields.setdefault("type", "template")
        w.messages[name] = MessageFactory(
            channel=channel or w.a, contact=contact, wamid=f"wamid.{name}", **fields
        )
        return w.messages[name]

    k = w.campaign
    out("m1", c1, campaign=k, status=Status.READ, sent_at=at(9, 0, 5), delivered_at=at(9, 0, 10),
        read_at=at(10), billable=True, cost=Decimal("0.50"), cost_currency="INR")  # fmt: skip
    out("m2", c2, campaign=k, status=Status.DELIVERED, sent_at=at(9, 1),
        delivered_at=at(8, day=D + timedelta(days=1)), cost=Decimal("0.50"),
        cost_currency="INR")  # fmt: skip
    out("m3", c3, campaign=k, status=Status.FAILED, failed_at=at(9, 2), error_code=131026,
        error_title="Message undeliverable", cost=Decimal(0))  # fmt: skip
    out("m4", c4, channel=w.b, type="text", status=Status.DELIVERED, sent_at=at(12),
        delivered_at=at(12, 1), billable=False, created_at=at(12), cost=Decimal(0),
        cost_currency="USD")  # fmt: skip
    m5 = out("m5", c4, status=Status.DELIVERED, sent_at=at(13), delivered_at=at(13, 0, 30),
             created_at=at(13), cost=Decimal("0.10"), cost_currency="INR")  # fmt: skip
    eve = D - timedelta(days=1)
    m6 = out("m6", c1, status=Status.READ, sent_at=at(23, 59, day=eve), read_at=at(0, 30),
             billable=True, created_at=at(23, 58, day=eve), cost=Decimal("0.10"),
             cost_currency="INR")  # fmt: skip
    w.notification = Notification.objects.create(
        event_type=_notification_type(), contact=c4, reference_id="ORD-1", message=m5
    )
    w.content_item = ContentItemFactory(send_on=D - timedelta(days=1))
    ContentDelivery.objects.create(
        content_item=w.content_item,
        contact=c1,
        message=m6,
        created_at=at(23, 58, day=D - timedelta(days=1)),
    )

    def inbound(name, contact, when, channel=None, **fields):
        w.messages[name] = InboundMessageFactory(
            channel=channel or w.a, contact=contact, received_at=when, created_at=when, **fields
        )
        return w.messages[name]

    inbound("i1", c1, at(10, 5))
    i4 = inbound("i4", c1, at(10, 6), type="button", content={"payload": "BUY", "text": "Buy now"},
                 context_wamid="wamid.m1")  # fmt: skip
    inbound("i3", c4, at(12, 30), channel=w.b, type="reaction", content={"emoji": "👍"})
    inbound("i2", c2, at(8, 30, day=D + timedelta(days=1)))
    button_click_record(message=i4, payload="BUY", title="Buy now", replied_to=w.messages["m1"])

    link = TrackedLink.objects.create(token="tok1", url="https://shop.example.com/sale",
                                      contact=c2, message=w.messages["m2"], campaign=k)  # fmt: skip
    LinkClick.objects.create(link=link, clicked_at=at(11))
    LinkClick.objects.create(link=link, clicked_at=at(11, 0, 1), is_bot=True)

    ConsentEvent.objects.create(contact=c3, previous="opted_in", consent="opted_out",
                                source="keyword", created_at=at(15))  # fmt: skip
    ConsentEvent.objects.create(contact=c4, previous="unknown", consent="opted_in",
                                source="api", created_at=at(16))  # fmt: skip

    def conversion(name, contact, type_, when, value=0):
        w.conversions[name], _ = conversion_record(
            reference_id=name, type=type_, contact=contact, occurred_at=when, value=value,
            page_name="home" if type_ == "page_view" else "",
        )  # fmt: skip

    conversion("cv1", c1, "order", at(11), 1000)
    conversion("cv2", c4, "payment", at(14), 200)
    conversion("cv3", c3, "signup", at(10))
    conversion("cv4", c2, "page_view", at(9, 30))
    return w
