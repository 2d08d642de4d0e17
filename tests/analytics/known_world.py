"""A known world for the metrics glossary (README "Metrics glossary"), built by hand so that
every dashboard figure, CSV column and reporting endpoint can be checked against numbers
counted on paper. Other parts (money, templates) extend it: add to `build_known_world` and
write the new hand counts next to the table below.

Day D is Monday 2026-04-06 (UTC; ANALYTICS_TIME_ZONE = UTC, ATTRIBUTION_WINDOW_DAYS = 7); the
tests travel to D+10 12:00, and the period is D .. D+10.

Campaign K1 "Diwali" (channel A), one message per contact, created D 08:55:

- p1: sent 09:00, delivered 09:01, read 09:05. Writes at 10:00, taps "Shop" 10:05, orders
  1000 INR 11:00, views page pricing (web) 11:30 and again D+1 09:00.
- p2: sent 09:00, read 09:30, **no delivered receipt**. Clicks the tracked link 12:00 (a
  link-preview bot too), views pricing (web) 12:01, orders 500 INR D+10 10:00 (past the
  window: organic).
- p3: sent 09:00, delivered 09:02. Signs up D+1 10:00 (value 0); writes and taps "Shop" on
  D+8 09:30 (past the window).
- p4: **failed** 09:00 (131026), never sent. Orders 300 INR D 12:00 (a failed message never
  attributes: organic).
- p5: sent 09:00. Nothing else.
- p6: sent 09:00, delivered 09:03. Orders 200 INR D 15:00 and 10 USD (830 INR at USD=83)
  D+2 10:00.

Campaign K2 "Spring" (channel A), created D+1 08:55: q1 sent 09:00, delivered 09:01, read
09:10, taps "Shop" 14:00 (a button reply is an inbound message, so q1 also replied); q2 sent
09:00, delivered 09:01.

Content item C (send_on D): a1's announcement sent 08:00, delivered 08:01, read 08:30, unlocked
with a tap on "Unlock" at 18:00; a2's sent 08:00, delivered 08:02. a1 pays 400 INR at 19:00
(content).

Notification N to n1: sent D 13:00, delivered 13:00:30. n1 pays 150 INR at 14:00
(notification) and views checkout (app) at 14:05.

Hand counts (what `test_known_world.py` asserts):

- K1: targeted 6, sent 5, delivered 4 (p2 by its read receipt), read 2, failed 1 (131026),
  replied 1 (p1), clicked 2 (p1 tap, p2 link), converted 3 contacts (p1, p3, p6) from 4
  conversions; p2's page view is not a conversion; revenue 2030 (1000 + 200 + 830).
  Day D: targeted 6, sent 5, delivered 4, read 2, failed 1, replied 1, clicked 2, converted 2,
  conversions 2, revenue 1200; D+1: converted 1 (p3), conversions 1; D+2: converted 1 (p6).
- K2: targeted 2, sent 2, delivered 2, read 1, failed 0, replied 1, clicked 1, converted 0.
- Period: sent 10, delivered 9, read 4, failed 1, contact-days reached 10 (8 on D, 2 on D+1),
  inbound 6, button taps 4, link clicks 1, conversions 8 (page views left out), revenue 3380:
  campaign 2030, content 400, notification 150, organic 800 (p4 300, p2 500).
  Day D: conversions 5 (p1, p4, p6, a1, n1), revenue 2050.
- Today (D+10): conversions 1, revenue 500.
- Content C: announced 2, delivered 2, read 1, unlocked 1, link clicks 0, delivery rate 1.0,
  unlock rate 0.5.
- Buttons: "Shop" 3 taps (10:00, 14:00 and 09:00 hours: D, D+1, D+8), 3 contact-days;
  "Unlock" 1 tap at 18:00.
- Page views: 4 views by 3 contacts; pricing 3 views / 2 contacts, checkout 1 / 1; web 3 / 2,
  app 1 / 1; D 3 views / 3 contacts, D+1 1 / 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from analytics.services.conversions import conversion_record
from analytics.services.events import button_click_record
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

D = date(2026, 4, 6)
LAST = D + timedelta(days=10)
NOW = datetime(2026, 4, 16, 12, 0, tzinfo=UTC)
PERIOD = f"range=custom&start={D.isoformat()}&end={LAST.isoformat()}"
EXCHANGE_RATES = {"USD": "83"}


def at(hour: int, minute: int = 0, *, days: int = 0) -> datetime:
    day = D + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


@dataclass
class KnownWorld:
    channel: object = None
    contacts: dict = field(default_factory=dict)
    messages: dict = field(default_factory=dict)
    k1: object = None
    k2: object = None
    content_item: object = None
    notification: object = None
    conversions: dict = field(default_factory=dict)


def build_known_world() -> KnownWorld:
    """The world of the module docstring. Needs ANALYTICS_EXCHANGE_RATES = EXCHANGE_RATES."""
    w = KnownWorld()
    w.channel = ChannelFactory(name="Known A")
    names = ("p1", "p2", "p3", "p4", "p5", "p6", "q1", "q2", "a1", "a2", "n1")
    for name in names:
        w.contacts[name] = ContactFactory(name=name, created_at=at(8, days=-30))
    c = w.contacts
    w.k1 = Campaign.objects.create(
        name="Diwali", channel=w.channel, state=CampaignState.COMPLETED, created_at=at(8)
    )
    w.k2 = Campaign.objects.create(
        name="Spring", channel=w.channel, state=CampaignState.COMPLETED, created_at=at(8, days=1)
    )

    def out(name, contact, *, created, **fields):
        fields.setdefault("type", "template")
        w.messages[name] = MessageFactory(
            channel=w.channel, contact=contact, wamid=f"wamid.kw.{name}", created_at=created,
            **fields,
        )  # fmt: skip
        return w.messages[name]

    k1, k2 = w.k1, w.k2
    out("p1", c["p1"], campaign=k1, created=at(8, 55), status=Status.READ, sent_at=at(9),
        delivered_at=at(9, 1), read_at=at(9, 5))  # fmt: skip
    out("p2", c["p2"], campaign=k1, created=at(8, 55), status=Status.READ, sent_at=at(9),
        read_at=at(9, 30))  # fmt: skip
    out("p3", c["p3"], campaign=k1, created=at(8, 55), status=Status.DELIVERED, sent_at=at(9),
        delivered_at=at(9, 2))  # fmt: skip
    out("p4", c["p4"], campaign=k1, created=at(8, 55), status=Status.FAILED, failed_at=at(9),
        error_code=131026, error_title="Message undeliverable")  # fmt: skip
    out("p5", c["p5"], campaign=k1, created=at(8, 55), status=Status.SENT, sent_at=at(9))
    out("p6", c["p6"], campaign=k1, created=at(8, 55), status=Status.DELIVERED, sent_at=at(9),
        delivered_at=at(9, 3))  # fmt: skip
    out("q1", c["q1"], campaign=k2, created=at(8, 55, days=1), status=Status.READ,
        sent_at=at(9, days=1), delivered_at=at(9, 1, days=1),
        read_at=at(9, 10, days=1))  # fmt: skip
    out("q2", c["q2"], campaign=k2, created=at(8, 55, days=1), status=Status.DELIVERED,
        sent_at=at(9, days=1), delivered_at=at(9, 1, days=1))  # fmt: skip
    out("a1", c["a1"], created=at(7, 55), status=Status.READ, sent_at=at(8),
        delivered_at=at(8, 1), read_at=at(8, 30))  # fmt: skip
    out("a2", c["a2"], created=at(7, 55), status=Status.DELIVERED, sent_at=at(8),
        delivered_at=at(8, 2))  # fmt: skip
    out("n1", c["n1"], created=at(12, 59), type="text", status=Status.DELIVERED,
        sent_at=at(13), delivered_at=at(13, 0))  # fmt: skip

    w.content_item = ContentItemFactory(send_on=D)
    ContentDelivery.objects.create(
        content_item=w.content_item, contact=c["a1"], message=w.messages["a1"],
        created_at=at(7, 55), unlocked_at=at(18),
    )  # fmt: skip
    ContentDelivery.objects.create(
        content_item=w.content_item, contact=c["a2"], message=w.messages["a2"],
        created_at=at(7, 55),
    )  # fmt: skip
    kind, _ = NotificationType.objects.get_or_create(
        code="order_confirmation", defaults={"name": "Order confirmation"}
    )
    w.notification = Notification.objects.create(
        event_type=kind, contact=c["n1"], reference_id="KW-ORD-1", message=w.messages["n1"]
    )

    def inbound(name, contact, when, **fields):
        w.messages[name] = InboundMessageFactory(
            channel=w.channel, contact=contact, received_at=when, created_at=when, **fields
        )
        return w.messages[name]

    def tap(name, contact, when, title, replied_to):
        reply = inbound(name, contact, when, type="button",
                        content={"payload": title.upper(), "text": title},
                        context_wamid=replied_to.wamid)  # fmt: skip
        button_click_record(
            message=reply, payload=title.upper(), title=title, replied_to=replied_to
        )

    inbound("in_p1", c["p1"], at(10))
    tap("tap_p1", c["p1"], at(10, 5), "Shop", w.messages["p1"])
    tap("tap_q1", c["q1"], at(14, days=1), "Shop", w.messages["q1"])
    inbound("in_p3", c["p3"], at(9, 30, days=8))
    tap("tap_p3", c["p3"], at(9, 31, days=8), "Shop", w.messages["p3"])
    tap("tap_a1", c["a1"], at(18), "Unlock", w.messages["a1"])

    link = TrackedLink.objects.create(
        token="kw-tok", url="https://shop.example.com/diwali", contact=c["p2"],
        message=w.messages["p2"], campaign=k1,
    )  # fmt: skip
    LinkClick.objects.create(link=link, clicked_at=at(12))
    LinkClick.objects.create(link=link, clicked_at=at(12, 0), is_bot=True)

    def conversion(name, contact, type_, when, value=0, currency="INR", page="", source=""):
        w.conversions[name], _ = conversion_record(
            reference_id=f"kw-{name}", type=type_, contact=contact, occurred_at=when,
            value=value, currency=currency, page_name=page, source=source,
        )  # fmt: skip

    conversion("p1_order", c["p1"], "order", at(11), 1000)
    conversion("p1_view", c["p1"], "page_view", at(11, 30), page="pricing", source="web")
    conversion("p1_view2", c["p1"], "page_view", at(9, days=1), page="pricing", source="web")
    conversion("p2_view", c["p2"], "page_view", at(12, 1), page="pricing", source="web")
    conversion("p2_order", c["p2"], "order", at(10, days=10), 500)
    conversion("p3_signup", c["p3"], "signup", at(10, days=1))
    conversion("p4_order", c["p4"], "order", at(12), 300)
    conversion("p6_order", c["p6"], "order", at(15), 200)
    conversion("p6_order_usd", c["p6"], "order", at(10, days=2), 10, currency="USD")
    conversion("a1_payment", c["a1"], "payment", at(19), 400)
    conversion("n1_payment", c["n1"], "payment", at(14), 150)
    conversion("n1_view", c["n1"], "page_view", at(14, 5), page="checkout", source="app")
    return w
