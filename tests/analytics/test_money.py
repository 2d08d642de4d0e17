"""Money that adds up: message costs from the price card, priced through the real webhook path,
attributed and organic revenue apart, ROI, revenue by number and by source label, on the
dashboards, the CSVs and the reporting API (README "Metrics glossary", money rows).

The world, on D = 2026-03-10 (UTC), reporting in INR with USD = 80 INR, priced with the shipped
card of 2025-07-01 (USD per message):

| message | campaign | to | channel | template | Meta's pricing | outcome | cost USD | INR |
| k1 | K | in_1 +91 | A | marketing | marketing/regular | read | 0.0107 | 0.856 |
| k2 | K | br_1 +55 | A | marketing | marketing/regular | delivered | 0.0625 | 5.000 |
| k3 | K | us_1 +1 | A | marketing | none (template's) | delivered | 0.0250 | 2.000 |
| k4 | K | in_3 +91 | A | marketing | marketing/regular | sent, then failed | 0 | 0 |
| z1 | Z | in_4 +91 | A | marketing | marketing/free_entry_point | delivered | 0 | 0 |
| u1 | - | in_2 +91 | A | utility | utility/regular | delivered | 0.0014 | 0.112 |
| u2 | - | us_1 +1 | A | utility | marketing/regular (Meta wins) | delivered | 0.0250 | 2.000 |
| a1 | - | br_1 +55 | B | authentication | authentication/regular | delivered | 0.0315 | 2.520 |
| s1 | - | us_1 +1 | A | (text) | service/free_customer_service | delivered | 0 | 0 |

Cost: K 7.856, Z 0; channel A 9.968, B 2.52; all 12.488 INR.

Conversions on D (value -> INR; source label; attribution):
cv1 in_1 order 1000 INR 11:00 "web" -> K; cv2 br_1 order 50 USD = 4000 "app" -> K (a1 is no
campaign, content or notification message); cv3 gb_1 order 20 USD = 1600 "web" organic (never
messaged); cv4 in_2 payment 500 "store" organic (u1 is a plain utility send); cv5 in_4 order 1500
"app" -> Z; cv6 us_1 page view "web" -> K (no value); cv7 in_1 signup, no label -> K (no value).

Revenue 8600 = attributed 6500 (K 5000, Z 1500) + organic 2100. ROI = (6500 - 12.488) /
12.488; K (5000 - 7.856) / 7.856; Z has no cost: no ROI.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache

from analytics.models import CampaignPerformance, DailySnapshot
from analytics.services.conversions import conversion_record
from analytics.services.rollups import analytics_rollup
from messaging.models import Campaign, CampaignState, Message, PriceCard, PriceRate, Status
from messaging.sending.costs import messages_cost_backfill
from tests.factories import ChannelFactory, ContactFactory, MessageFactory, TemplateFactory
from tests.messaging.webhooks.support import failed, process, status, statuses_payload

pytestmark = pytest.mark.django_db

D = date(2026, 3, 10)
NOW = datetime(2026, 3, 11, 10, 0, tzinfo=UTC)
B_NUMBER_ID = "300000000000002"

COST_K = Decimal("7.8560")
COST_A = Decimal("9.9680")
COST_B = Decimal("2.5200")
COST_ALL = Decimal("12.4880")
ATTRIBUTED, ORGANIC = Decimal("6500.00"), Decimal("2100.00")
ROI_ALL = round(float((Decimal(6500) - COST_ALL) / COST_ALL), 4)
ROI_K = round(float((Decimal(5000) - COST_K) / COST_K), 4)


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(D.year, D.month, D.day, hour, minute, tzinfo=UTC)


def ts(hour: int, minute: int = 0) -> int:
    return int(at(hour, minute).timestamp())


def pricing(category: str, kind: str = "regular") -> dict:
    return {"billable": kind == "regular", "pricing_model": "PMP", "category": category,
            "type": kind}  # fmt: skip


@pytest.fixture(autouse=True)
def _clock(settings):
    settings.ANALYTICS_TIME_ZONE = "UTC"
    settings.ANALYTICS_CURRENCY = "INR"
    settings.ANALYTICS_EXCHANGE_RATES = {"USD": "80"}
    settings.ATTRIBUTION_WINDOW_DAYS = 7
    cache.clear()
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world():
    w = {}
    a = ChannelFactory(name="Number A")
    b = ChannelFactory(
        name="Number B", phone_number_id=B_NUMBER_ID, display_phone_number="15550002222"
    )
    marketing = TemplateFactory(channel=a, category="MARKETING", name="sale")
    utility = TemplateFactory(channel=a, category="UTILITY", name="order_update")
    authentication = TemplateFactory(channel=b, category="AUTHENTICATION", name="otp")
    people = {
        "in_1": "+919812345601", "in_2": "+919812345602", "in_3": "+919812345603",
        "in_4": "+919812345604", "br_1": "+5511987654321", "us_1": "+12025550123",
        "gb_1": "+447700900123",
    }  # fmt: skip
    contacts = {name: ContactFactory(phone=phone, name=name) for name, phone in people.items()}
    k = Campaign.objects.create(name="Spring sale", channel=a, state=CampaignState.COMPLETED)
    z = Campaign.objects.create(name="Ad replies", channel=a, state=CampaignState.COMPLETED)

    def out(name, who, channel, template=None, campaign=None):
        w[name] = MessageFactory(
            channel=channel, contact=contacts[who], campaign=campaign, wamid=f"wamid.{name}",
            type="template" if template else "text", template=template, status=Status.ACCEPTED,
            created_at=at(9), accepted_at=at(9),
        )  # fmt: skip

    out("k1", "in_1", a, marketing, k)
    out("k2", "br_1", a, marketing, k)
    out("k3", "us_1", a, marketing, k)
    out("k4", "in_3", a, marketing, k)
    out("z1", "in_4", a, marketing, z)
    out("u1", "in_2", a, utility)
    out("u2", "us_1", a, utility)
    out("a1", "br_1", b, authentication)
    out("s1", "us_1", a)
    # Meta's statuses, through the webhook intake's processing (one body per number).
    process(
        statuses_payload(
            status("wamid.k1", "sent", ts(9, 0), pricing=pricing("marketing")),
            status("wamid.k1", "delivered", ts(9, 1), pricing=pricing("marketing")),
            status("wamid.k1", "read", ts(10, 0)),
            status("wamid.k2", "sent", ts(9, 0), pricing=pricing("marketing")),
            status("wamid.k2", "delivered", ts(9, 1)),
            status("wamid.k3", "delivered", ts(9, 2)),
            status("wamid.k4", "sent", ts(9, 0), pricing=pricing("marketing")),
            failed("wamid.k4", 131026, ts(9, 5)),
            status("wamid.z1", "sent", ts(9, 0), pricing=pricing("marketing", "free_entry_point")),
            status("wamid.z1", "delivered", ts(9, 1)),
            status("wamid.u1", "sent", ts(9, 0), pricing=pricing("utility")),
            status("wamid.u1", "delivered", ts(9, 1)),
            status("wamid.u2", "sent", ts(9, 0), pricing=pricing("marketing")),
            status("wamid.u2", "delivered", ts(9, 1)),
            status("wamid.s1", "sent", ts(9, 0),
                   pricing=pricing("service", "free_customer_service")),
            status("wamid.s1", "delivered", ts(9, 1)),
        )
    )  # fmt: skip
    process(
        statuses_payload(
            status("wamid.a1", "sent", ts(9, 0), pricing=pricing("authentication")),
            status("wamid.a1", "delivered", ts(9, 1)),
            phone_number_id=B_NUMBER_ID,
        )
    )

    def conversion(ref, who, type_, hour, value=0, currency="INR", source=""):
        conversion_record(
            reference_id=ref, type=type_, contact=contacts[who], occurred_at=at(hour),
            value=value, currency=currency, source=source,
            page_name="home" if type_ == "page_view" else "",
        )  # fmt: skip

    conversion("cv1", "in_1", "order", 11, 1000, source="web")
    conversion("cv2", "br_1", "order", 12, 50, "USD", source="app")
    conversion("cv3", "gb_1", "order", 13, 20, "USD", source="web")
    conversion("cv4", "in_2", "payment", 14, 500, source="store")
    conversion("cv5", "in_4", "order", 15, 1500, source="app")
    conversion("cv6", "us_1", "page_view", 16, source="web")
    conversion("cv7", "in_1", "signup", 17)
    analytics_rollup(days=[D])
    w.update(a=a, b=b, k=k, z=z)
    return w


def test_each_message_stores_the_cost_of_its_category_and_country(world):
    expected = {
        "k1": ("0.010700", "USD"), "k2": ("0.062500", "USD"), "k3": ("0.025000", "USD"),
        "k4": ("0.000000", ""), "z1": ("0.000000", "USD"), "u1": ("0.001400", "USD"),
        "u2": ("0.025000", "USD"), "a1": ("0.031500", "USD"), "s1": ("0.000000", "USD"),
    }  # fmt: skip
    for name, (cost, currency) in expected.items():
        message = Message.objects.get(pk=world[name].pk)
        assert (message.cost, message.cost_currency) == (Decimal(cost), currency), name
    # Meta's raw pricing object is kept as it came.
    assert Message.objects.get(pk=world["z1"].pk).pricing == pricing(
        "marketing", "free_entry_point"
    )
    assert Message.objects.get(pk=world["k4"].pk).status == Status.FAILED


def test_the_days_snapshot_adds_up(world):
    total = DailySnapshot.objects.get(day=D, channel=None)
    assert total.cost == COST_ALL
    assert total.revenue == Decimal("8600.00")
    assert (total.revenue_campaign, total.revenue_organic) == (ATTRIBUTED, ORGANIC)
    assert (total.revenue_content, total.revenue_notification) == (0, 0)
    assert total.revenue_by_label == {
        "web": {"conversions": 3, "attributed": "1000.00", "organic": "1600.00"},
        "app": {"conversions": 2, "attributed": "5500.00", "organic": "0.00"},
        "store": {"conversions": 1, "attributed": "0.00", "organic": "500.00"},
        "": {"conversions": 1, "attributed": "0.00", "organic": "0.00"},
    }
    a = DailySnapshot.objects.get(day=D, channel=world["a"])
    b = DailySnapshot.objects.get(day=D, channel=world["b"])
    assert (a.cost, a.revenue) == (COST_A, ATTRIBUTED)
    assert (b.cost, b.revenue) == (COST_B, 0)


def test_campaign_cost_revenue_and_roi(world):
    k = CampaignPerformance.objects.get(campaign=world["k"], day=None)
    assert (k.revenue, k.cost, k.roi) == (Decimal("5000.00"), COST_K, ROI_K)
    z = CampaignPerformance.objects.get(campaign=world["z"], day=None)
    assert (z.revenue, z.cost, z.roi) == (Decimal("1500.00"), 0, None)


def _csv(client, table, query="range=custom&start=2026-03-10&end=2026-03-10"):
    response = client.get(f"/staff/analytics/export/{table}/?{query}")
    assert response.status_code == 200
    return list(
        csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")))
    )


def test_dashboards_show_the_same_money(client, make_user, world):
    client.force_login(make_user("Analyst"))
    period = "?range=custom&start=2026-03-10&end=2026-03-10"
    overview = client.get(f"/staff/analytics/{period}")
    assert overview.context["totals"]["revenue_attributed"] == ATTRIBUTED
    assert overview.context["totals"]["revenue_organic"] == ORGANIC
    assert overview.context["totals"]["cost"] == COST_ALL
    assert overview.context["totals"]["roi"] == ROI_ALL
    page = overview.content.decode()
    assert 'data-testid="kpi-revenue-attributed">6,500<' in page
    assert 'data-testid="kpi-revenue-organic">2,100<' in page
    assert f'data-testid="kpi-roi">{ROI_ALL * 100:.1f}%<' in page

    revenue = client.get(f"/staff/analytics/revenue/{period}")
    html = revenue.content.decode()
    assert 'data-testid="revenue-attributed">6,500.00<' in html
    assert 'data-testid="revenue-cost">12.49<' in html
    by_number = revenue.context["by_number"]
    assert [(r["name"], r["attributed"], r["organic"], r["cost"], r["roi"]) for r in by_number] == [
        ("Number A", ATTRIBUTED, 0, COST_A, round(float((ATTRIBUTED - COST_A) / COST_A), 4)),
        ("Number B", 0, 0, COST_B, -1.0),
        ("No number (organic)", 0, ORGANIC, 0, None),
    ]
    by_label = [(r["label"], r["conversions"], r["attributed"], r["organic"])
                for r in revenue.context["by_label"]]  # fmt: skip
    assert by_label == [
        ("app", 2, Decimal("5500.00"), 0), ("web", 3, Decimal("1000.00"), Decimal("1600.00")),
        ("store", 1, 0, Decimal("500.00")), ("", 1, 0, 0),
    ]  # fmt: skip
    assert "1 Jul 2025" in html and "Rest of World" in html  # the price card and its date

    k = client.get(f"/staff/analytics/campaigns/{world['k'].pk}/").content.decode()
    assert 'data-testid="campaign-revenue">5,000.00<' in k
    assert 'data-testid="campaign-cost">7.86<' in k
    assert f'data-testid="campaign-roi">{ROI_K * 100:.1f}%<' in k
    z = client.get(f"/staff/analytics/campaigns/{world['z'].pk}/").content.decode()
    assert 'data-testid="campaign-roi">—<' in z


def test_csvs_show_the_same_money(client, make_user, world):
    client.force_login(make_user("Analyst"))
    (day,) = _csv(client, "daily")
    assert (day["revenue"], day["revenue_attributed"], day["revenue_organic"], day["cost"]) == (
        "8600.00", "6500.00", "2100.00", "12.4880",
    )  # fmt: skip
    (sources,) = _csv(client, "revenue-sources")
    assert (sources["attributed"], sources["organic"], sources["total"]) == (
        "6500.00", "2100.00", "8600.00",
    )  # fmt: skip
    assert (sources["cost"], float(sources["roi"])) == ("12.4880", ROI_ALL)
    campaigns = {r["campaign"]: r for r in _csv(client, "campaigns")}
    assert (campaigns["Spring sale"]["attributed_revenue"], campaigns["Spring sale"]["cost"]) == (
        "5000.00", "7.8560",
    )  # fmt: skip
    assert float(campaigns["Spring sale"]["roi"]) == ROI_K
    assert (campaigns["Ad replies"]["cost"], campaigns["Ad replies"]["roi"]) == ("0.0000", "")
    numbers = [(r["number_name"], r["attributed"], r["organic"], r["cost"])
               for r in _csv(client, "revenue-numbers")]  # fmt: skip
    assert numbers == [
        ("Number A", "6500.00", "0.00", "9.9680"), ("Number B", "0.00", "0.00", "2.5200"),
        ("No number (organic)", "0.00", "2100.00", "0.0000"),
    ]  # fmt: skip
    labels = [(r["source"], r["conversions"], r["attributed"], r["organic"], r["total"])
              for r in _csv(client, "revenue-labels")]  # fmt: skip
    assert labels == [
        ("app", "2", "5500.00", "0.00", "5500.00"),
        ("web", "3", "1000.00", "1600.00", "2600.00"),
        ("store", "1", "0.00", "500.00", "500.00"), ("", "1", "0.00", "0.00", "0.00"),
    ]  # fmt: skip


def test_the_reporting_api_shows_the_same_money(api_client, make_user, world):
    api_client.force_authenticate(make_user("Analyst"))
    period = "range=custom&start=2026-03-10&end=2026-03-10"
    dashboard = api_client.get(f"/api/v1/reporting/dashboard?{period}").json()["totals"]
    assert (dashboard["revenue"], dashboard["revenue_attributed"]) == ("8600.00", "6500.00")
    assert (dashboard["revenue_organic"], dashboard["cost"]) == ("2100.00", "12.4880")
    assert dashboard["roi"] == ROI_ALL

    revenue = api_client.get(f"/api/v1/reporting/revenue?{period}").json()
    assert revenue["currency"] == "INR"
    assert revenue["totals"]["revenue_attributed"] == "6500.00"
    assert revenue["totals"]["revenue_organic"] == "2100.00"
    assert (revenue["totals"]["cost"], revenue["totals"]["roi"]) == ("12.4880", ROI_ALL)
    numbers = [(n["name"], n["attributed"], n["organic"], n["cost"]) for n in revenue["by_number"]]
    assert numbers == [
        ("Number A", "6500.00", "0.00", "9.9680"), ("Number B", "0.00", "0.00", "2.5200"),
        ("No number (organic)", "0.00", "2100.00", "0.0000"),
    ]  # fmt: skip
    assert revenue["by_source"][0] == {
        "source": "app", "conversions": 2, "attributed": "5500.00", "organic": "0.00",
        "total": "5500.00",
    }  # fmt: skip
    card = revenue["price_card"]
    assert (card["effective_from"], card["currency"]) == ("2025-07-01", "USD")
    assert {"market": "IN", "category": "marketing", "rate": "0.010700"} in card["rates"]

    k = api_client.get(f"/api/v1/reporting/campaigns/{world['k'].pk}/summary").json()["total"]
    assert (k["revenue"], k["cost"], k["roi"]) == ("5000.00", "7.8560", ROI_K)
    z = api_client.get(f"/api/v1/reporting/campaigns/{world['z'].pk}/summary").json()["total"]
    assert (z["revenue"], z["cost"], z["roi"]) == ("1500.00", "0.0000", None)


# --- The card's own rules ----------------------------------------------------------------------


def test_a_newer_card_prices_what_is_sent_from_its_date_and_rest_of_world_fills_gaps(db):
    card = PriceCard.objects.create(name="New", effective_from=D, currency="INR")
    PriceRate.objects.create(card=card, market="IN", category="marketing", rate=Decimal("0.9"))
    PriceRate.objects.create(card=card, market="", category="marketing", rate=Decimal("5"))
    channel = ChannelFactory()
    marketing = TemplateFactory(channel=channel, category="MARKETING")
    before = MessageFactory(
        channel=channel, contact=ContactFactory(phone="+919812345611"), template=marketing,
        type="template", status=Status.DELIVERED, sent_at=at(9) - timedelta(days=1),
    )  # fmt: skip
    after = MessageFactory(
        channel=channel, contact=ContactFactory(phone="+919812345612"), template=marketing,
        type="template", status=Status.DELIVERED, sent_at=at(9),
    )  # fmt: skip
    germany = MessageFactory(
        channel=channel, contact=ContactFactory(phone="+4915112345678"), template=marketing,
        type="template", status=Status.READ, read_at=at(9),
    )  # fmt: skip
    assert messages_cost_backfill() == 3
    costs = {m.pk: (m.cost, m.cost_currency) for m in Message.objects.all()}
    assert costs[before.pk] == (Decimal("0.010700"), "USD")  # the 2025 card
    assert costs[after.pk] == (Decimal("0.900000"), "INR")
    assert costs[germany.pk] == (Decimal("5.000000"), "INR")  # Rest of World


# --- Who may edit the card ---------------------------------------------------------------------


def _card():
    return PriceCard.objects.get(effective_from=date(2025, 7, 1))


def test_only_admins_edit_the_price_card(client, make_user):
    card = _card()
    url = f"/admin/messaging/pricecard/{card.pk}/change/"
    client.force_login(make_user("Admin"))
    form = {
        "name": "Meta per-message rates", "effective_from": "2025-07-01", "currency": "USD",
        "source": "checked", "rates-TOTAL_FORMS": "0", "rates-INITIAL_FORMS": "0",
    }  # fmt: skip
    response = client.post(url, form)
    assert response.status_code == 302, response.content[:2000]
    card.refresh_from_db()
    assert card.source == "checked"
    assert card.rates.count() == 36  # the inline left the rates alone


@pytest.mark.parametrize("role", ["Campaign manager", "Analyst"])
def test_readers_see_the_card_but_cannot_change_it(client, make_user, role):
    card = _card()
    client.force_login(make_user(role))
    assert client.get("/admin/messaging/pricecard/").status_code == 200
    response = client.post(
        f"/admin/messaging/pricecard/{card.pk}/change/",
        {"name": "Cheap", "effective_from": "2025-07-01", "currency": "USD"},
    )
    assert response.status_code == 403
    assert client.post("/admin/messaging/pricecard/add/", {"name": "x"}).status_code == 403
    rate = card.rates.first()
    assert (
        client.post(f"/admin/messaging/pricerate/{rate.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert _card().name == "Meta per-message rates"
    assert PriceRate.objects.filter(pk=rate.pk).exists()


@pytest.mark.parametrize("role", ["Agent", "Content reviewer", None])
def test_other_roles_do_not_reach_the_card(client, make_user, role):
    client.force_login(make_user(role, is_staff=True) if role is None else make_user(role))
    assert client.get("/admin/messaging/pricecard/").status_code in (302, 403)
    assert client.get(f"/admin/messaging/pricecard/{_card().pk}/change/").status_code in (302, 403)


def test_anonymous_users_are_sent_to_the_admin_login(client):
    response = client.get("/admin/messaging/pricecard/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_bad_currency_or_market_is_a_form_error(client, make_user):
    client.force_login(make_user("Admin"))
    response = client.post(
        "/admin/messaging/pricecard/add/",
        {"name": "Bad", "effective_from": "2026-01-01", "currency": "US1",
         "rates-TOTAL_FORMS": "1", "rates-INITIAL_FORMS": "0", "rates-0-market": "IND",
         "rates-0-category": "marketing", "rates-0-rate": "0.1"},
    )  # fmt: skip
    assert response.status_code == 200
    assert not PriceCard.objects.filter(name="Bad").exists()
