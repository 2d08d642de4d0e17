"""Template analytics: a hand-built world whose every figure is counted by hand, checked on
the Templates page, its detail, both CSVs and the reporting API; permissions; bad periods.

Period: day D (2026-03-10, UTC) alone; the clock stands at D+2 10:00. Each message carries
the cost priced for it (README "Message costs"): 0.10 INR for an order_update send, 0.50 INR
for a promo send, nothing for a free or failed one.

| message | template | to | times (D unless noted) | status | cost |
| a1 | order_update [en] | c1 | sent 09:00, delivered 09:01, read 09:30 | read | 0.10 |
| a2 | order_update [en] | c2 | sent 10:00, delivered D+1 08:00 | delivered | 0.10 |
| a3 | order_update [en] | c3 | failed 10:05, 131026, never sent | failed | - |
| a4 | order_update [en] | c4 | sent D-1 23:00, delivered 01:00 (sent before) | delivered | 0.10 |
| a5 | order_update [en] | c5 | refused by the send policy 10:10 (not a failure) | failed | - |
| b1 | order_update [hi] | c5 | sent 11:00, delivered 11:01 (free) | delivered | 0 |
| b2 | order_update [hi] | c6 | failed 11:05, 131049 | failed | - |
| b3 | order_update [hi] | c1 | failed 11:06, 131049 | failed | - |
| b4 | order_update [hi] | c2 | sent 12:00, failed 12:01, 131026 | failed | 0 |
| p1 | promo [en], K | c1 | sent 13:00, delivered 13:00:30, read 13:05 | read | 0.50 |
| p2 | promo [en], K | c3 | sent 13:01, read 14:00 (no delivery receipt) | read | 0.50 |
| p3 | promo [en], K | c4 | sent 13:02 | sent | 0.50 |
| q1 | promo [hi] (paused) | c5 | sent D-3 10:00 | delivered | 0.50 |

Inbound: c1 writes at 09:45 (a1) and taps a button of p1 at 13:06 and 13:07; c2 writes at D+1
09:00 (within the 7-day window of a2 and of b4); c3 reacts at 14:30 (a reaction is no reply);
c5 writes at D+1 12:00 (25 h after b1: within the window); c4 writes at 00:30 (before p3).
Links: c4 clicks p3's link at 15:00, a preview bot fetches p2's, c1 clicks a1's at D+1 08:00.

By hand (replied and clicked count sends, as the others do):
| template | sent | delivered | read | replied | clicked | failed (by code) | cost |
| order_update [en] | 2 (a1 a2) | 2 | 1 | 2 (a1 a2) | 1 (a1) | 1 (131026: 1) | 2 x 0.10 = 0.2000 |
| order_update [hi] | 2 (b1 b4) | 1 | 0 | 2 (b4 b1) | 0 | 3 (131049: 2, 131026: 1) | 0.0000 |
| promo [en] | 3 | 2 (p1 p2) | 2 | 1 (p1) | 2 (p1 p3) | 0 | 3 x 0.50 = 1.5000 |
promo [hi] is paused and had no send in the period: not listed.
"""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from analytics.services.engagement import engagement_reconcile_span
from analytics.services.events import button_click_record
from analytics.template_report import template_cost, template_report
from core.models import AuditEvent
from messaging.models import Campaign, CampaignState, LinkClick, Message, Status, TrackedLink
from messaging.providers.base import template_info_from_graph
from messaging.providers.error_codes import error_code_info
from tests.factories import (
    ChannelFactory,
    ContactFactory,
    InboundMessageFactory,
    MessageFactory,
    TemplateFactory,
)

pytestmark = pytest.mark.django_db

D = date(2026, 3, 10)
NOW = datetime(2026, 3, 12, 10, 0, tzinfo=UTC)
PERIOD = "range=custom&start=2026-03-10&end=2026-03-10"
PAGE = "/staff/analytics/templates/"
API = "/api/v1/reporting/templates/"

EXPECTED = {
    ("order_update", "en"): {"sent": 2, "delivered": 2, "read": 1, "replied": 2, "clicked": 1,
                             "failed": 1, "cost": "0.2000", "status": "APPROVED",
                             "quality": "GREEN"},
    ("order_update", "hi"): {"sent": 2, "delivered": 1, "read": 0, "replied": 2, "clicked": 0,
                             "failed": 3, "cost": "0.0000", "status": "APPROVED",
                             "quality": "YELLOW"},
    ("promo", "en"): {"sent": 3, "delivered": 2, "read": 2, "replied": 1, "clicked": 2,
                      "failed": 0, "cost": "1.5000", "status": "APPROVED", "quality": "GREEN"},
}  # fmt: skip
ORDER_HI_ERRORS = [(131049, 2), (131026, 1)]


def at(hour, minute=0, second=0, *, day=D):
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _clock(settings):
    settings.ANALYTICS_TIME_ZONE = "UTC"
    settings.ATTRIBUTION_WINDOW_DAYS = 7
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world():
    a = ChannelFactory(name="Channel A")
    t = {
        "oe": TemplateFactory(channel=a, name="order_update", language="en",
                              quality_score="GREEN"),
        "oh": TemplateFactory(channel=a, name="order_update", language="hi",
                              quality_score="YELLOW"),
        "pe": TemplateFactory(channel=a, name="promo", language="en", category="MARKETING",
                              quality_score="GREEN"),
        "ph": TemplateFactory(channel=a, name="promo", language="hi", category="MARKETING",
                              status="PAUSED", quality_score="RED"),
    }  # fmt: skip
    c = {n: ContactFactory(name=f"c{n}") for n in range(1, 7)}
    k = Campaign.objects.create(
        name="Promo", channel=a, template=t["pe"], state=CampaignState.COMPLETED,
    )  # fmt: skip
    price = {"oe": Decimal("0.10"), "oh": Decimal("0.10"), "pe": Decimal("0.50"),
             "ph": Decimal("0.50")}  # fmt: skip
    m = {}

    def out(name, template, contact, **fields):
        fields.setdefault("created_at", at(8))
        sent = fields.get("sent_at") and fields.get("status") != Status.FAILED
        free = fields.get("billable") is False
        fields.setdefault("cost", price[template] if sent and not free else Decimal("0"))
        fields.setdefault("cost_currency", "INR")
        m[name] = MessageFactory(
            channel=a, contact=c[contact], template=t[template], type="template",
            wamid=f"wamid.{name}", **fields,
        )  # fmt: skip

    out("a1", "oe", 1, status=Status.READ, sent_at=at(9), delivered_at=at(9, 1),
        read_at=at(9, 30), billable=True)  # fmt: skip
    out("a2", "oe", 2, status=Status.DELIVERED, sent_at=at(10),
        delivered_at=at(8, day=D + timedelta(days=1)))  # fmt: skip
    out("a3", "oe", 3, status=Status.FAILED, failed_at=at(10, 5), error_code=131026)
    out("a4", "oe", 4, status=Status.DELIVERED, sent_at=at(23, day=D - timedelta(days=1)),
        delivered_at=at(1), billable=True)  # fmt: skip
    out("a5", "oe", 5, status=Status.FAILED, failed_at=at(10, 10), refusal="opted_out")
    out("b1", "oh", 5, status=Status.DELIVERED, sent_at=at(11), delivered_at=at(11, 1),
        billable=False)  # fmt: skip
    out("b2", "oh", 6, status=Status.FAILED, failed_at=at(11, 5), error_code=131049)
    out("b3", "oh", 1, status=Status.FAILED, failed_at=at(11, 6), error_code=131049)
    out("b4", "oh", 2, status=Status.FAILED, sent_at=at(12), failed_at=at(12, 1),
        error_code=131026)  # fmt: skip
    out("p1", "pe", 1, campaign=k, status=Status.READ, sent_at=at(13),
        delivered_at=at(13, 0, 30), read_at=at(13, 5), billable=True)  # fmt: skip
    out("p2", "pe", 3, campaign=k, status=Status.READ, sent_at=at(13, 1), read_at=at(14),
        billable=True)  # fmt: skip
    out("p3", "pe", 4, campaign=k, status=Status.SENT, sent_at=at(13, 2), billable=True)
    out("q1", "ph", 5, status=Status.DELIVERED, sent_at=at(10, day=D - timedelta(days=3)),
        delivered_at=at(10, 1, day=D - timedelta(days=3)), billable=True,
        created_at=at(9, day=D - timedelta(days=3)))  # fmt: skip

    def inbound(contact, when, **fields):
        return InboundMessageFactory(
            channel=a, contact=c[contact], received_at=when, created_at=when, **fields
        )

    inbound(1, at(9, 45))
    for minute in (6, 7):
        tap = inbound(1, at(13, minute), type="button", context_wamid="wamid.p1",
                      content={"payload": "MORE", "text": "Tell me more"})  # fmt: skip
        button_click_record(message=tap, payload="MORE", title="Tell me more", replied_to=m["p1"])
    inbound(2, at(9, day=D + timedelta(days=1)))
    inbound(3, at(14, 30), type="reaction", content={"emoji": "👍"})
    inbound(5, at(12, day=D + timedelta(days=1)))
    inbound(4, at(0, 30))

    def link(name, contact, when, **fields):
        tracked = TrackedLink.objects.create(
            token=f"tok-{name}", url="https://shop.example.com/", contact=c[contact],
            message=m[name], campaign=m[name].campaign,
        )  # fmt: skip
        LinkClick.objects.create(link=tracked, clicked_at=when, **fields)

    link("p3", 4, at(15))
    link("p2", 3, at(15, 30), is_bot=True)
    link("a1", 1, at(8, day=D + timedelta(days=1)))
    # Stored behind the inbound path's and the link recorder's back: the rollup's pass
    # credits them (the taps above were credited as they were recorded).
    engagement_reconcile_span(at(0, day=D - timedelta(days=3)), NOW)
    return t


def _by_key(rows, name="name", language="language"):
    return {(r[name], r[language]): r for r in rows}


def _figures(row) -> dict:
    return {k: (str(row[k]) if k == "cost" else row[k]) for k in EXPECTED[("promo", "en")]}


def test_every_template_figure_equals_the_hand_count(world):
    rows = template_report(D, D)
    assert {key: _figures(row) for key, row in _by_key(rows).items()} == EXPECTED
    order_hi = _by_key(rows)[("order_update", "hi")]
    assert [(e["code"], e["count"]) for e in order_hi["errors"]] == ORDER_HI_ERRORS
    assert [e["title"] for e in order_hi["errors"]] == [
        error_code_info(131049).title, error_code_info(131026).title,
    ]  # fmt: skip
    assert [r["name"] for r in rows] == ["promo", "order_update", "order_update"]  # most sent


def test_the_period_bounds_the_sends(world):
    """The day after D: nothing was sent, a2's late delivery and c2's reply belong to D's."""
    rows = template_report(D + timedelta(days=1), D + timedelta(days=1))
    assert all(r["sent"] == 0 and r["failed"] == 0 for r in rows)
    # Three days back to D: q1 (promo [hi], paused) was sent on D-3 and is listed now.
    rows = _by_key(template_report(D - timedelta(days=3), D))
    assert rows[("promo", "hi")]["sent"] == 1 and rows[("promo", "hi")]["quality"] == "RED"
    assert rows[("order_update", "en")]["sent"] == 3  # a4, sent on D-1, joins


def test_the_page_the_detail_and_the_csvs_show_the_same_figures(client, make_user, world):
    client.force_login(make_user("Analyst"))
    response = client.get(f"{PAGE}?{PERIOD}")
    assert response.status_code == 200
    assert {k: _figures(r) for k, r in _by_key(response.context["rows"]).items()} == EXPECTED
    html = response.content.decode()
    assert 'aria-current="page">Templates<' in html
    row_html = html.split(f'data-testid="template-{world["oh"].pk}"')[1].split("</tr>")[0]
    assert '<td data-figure="failed">3</td>' in row_html
    assert '<td data-figure="replied">2</td>' in row_html and "Yellow" in row_html

    detail = client.get(f"{PAGE}{world['oh'].pk}/?{PERIOD}")
    assert detail.status_code == 200
    assert _figures(detail.context["row"]) == EXPECTED[("order_update", "hi")]
    detail_html = detail.content.decode()
    assert "131049" in detail_html and error_code_info(131049).title in detail_html
    assert client.get(f"{PAGE}999999/").status_code == 404

    table = _csv(client.get(f"/staff/analytics/export/templates/?{PERIOD}"))
    assert table[0] == ["template_id", "channel", "name", "language", "category", "status",
                        "quality", "sent", "delivered", "read", "replied", "clicked",
                        "failed", "cost"]  # fmt: skip
    by_key = _by_key([dict(zip(table[0], r, strict=True)) for r in table[1:]])
    assert {
        key: {k: str(v) for k, v in expected.items()} for key, expected in EXPECTED.items()
    } == {key: {k: row[k] for k in EXPECTED[key]} for key, row in by_key.items()}
    errors = _csv(
        client.get(f"/staff/analytics/export/template-errors/?{PERIOD}&template={world['oh'].pk}")
    )
    assert [(int(r[3]), int(r[5])) for r in errors[1:]] == ORDER_HI_ERRORS
    assert errors[1][4] == error_code_info(131049).title
    exports = AuditEvent.objects.filter(action_name="export").order_by("pk")
    assert [e.additional_data["what"] for e in exports] == [
        "analytics templates", "analytics template-errors",
    ]  # fmt: skip


def test_the_reporting_api_shows_the_same_figures(api_client, make_user, world):
    api_client.force_authenticate(make_user("Analyst"))
    response = api_client.get(f"{API}?{PERIOD}")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["first"], body["last"], body["currency"]) == ("2026-03-10", "2026-03-10", "INR")
    assert body["reply_window_days"] == 7
    rows = _by_key(body["templates"])
    assert {key: _figures(row) for key, row in rows.items()} == EXPECTED
    assert [(e["code"], e["count"]) for e in rows[("order_update", "hi")]["errors"]] == (
        ORDER_HI_ERRORS
    )


@pytest.mark.parametrize(
    "query",
    [
        "range=bogus",
        "range=custom",
        "range=custom&start=2026-13-01",
        "range=custom&start=yesterday",
        "range=custom&start=2026-03-10&end=2026-03-01",
        "range=custom&start=0001-01-01",
    ],
)
def test_a_period_the_api_cannot_read_is_a_400(api_client, make_user, query):
    api_client.force_authenticate(make_user("Analyst"))
    response = api_client.get(f"{API}?{query}")
    assert response.status_code == 400, query
    assert response.json()["error"]["code"] == "invalid_parameter"


@pytest.mark.parametrize("url", [PAGE, f"{PAGE}1/", "/staff/analytics/export/templates/",
                                 "/staff/analytics/export/template-errors/"])  # fmt: skip
def test_pages_are_kept_from_who_may_not_see_dashboards(client, make_user, url):
    TemplateFactory(pk=1)
    assert client.get(url)["Location"].startswith("/accounts/login/")
    for role in ("Agent", None):
        client.force_login(make_user(role))
        assert client.get(url).status_code == 403, (role, url)


def test_the_api_is_kept_from_who_may_not_see_reports(api_client, make_user):
    assert api_client.get(API).status_code in (401, 403)
    for role in ("Agent", None):
        api_client.force_authenticate(make_user(role))
        assert api_client.get(API).status_code == 403, role
    for role in ("Admin", "Analyst", "Campaign manager", "Content reviewer"):
        api_client.force_authenticate(make_user(role))
        assert api_client.get(API).status_code == 200, role


def test_the_template_cost_sums_stored_costs_in_the_reporting_currency(settings):
    settings.ANALYTICS_EXCHANGE_RATES = {"USD": "86"}
    template = TemplateFactory()
    for cost, currency in (("0.0107", "USD"), ("0.0107", "USD"), ("0.50", "INR"), ("0", "INR")):
        MessageFactory(template=template, cost=Decimal(cost), cost_currency=currency)
    # 2 x 0.0107 USD at 86 = 1.8404 INR, plus 0.50 INR.
    messages = Message.objects.filter(template=template)
    assert template_cost(messages) == {template.pk: Decimal("2.3404")}


def test_the_quality_rating_comes_from_the_graph_list():
    item = {"id": "1", "name": "promo", "language": "en", "status": "APPROVED",
            "category": "MARKETING", "components": [],
            "quality_score": {"score": "yellow"}}  # fmt: skip
    assert template_info_from_graph(item).quality_score == "YELLOW"
    assert template_info_from_graph({**item, "quality_score": None}).quality_score is None


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))
