"""Customer metrics: value, RFM scores and segments, churn risk, tiers, engagement."""

import math
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from analytics.models import ConversionEvent, CustomerMetrics, RollupState
from analytics.services.customers import customers_rollup
from messaging.models import Status
from tests.factories import ContactFactory, InboundMessageFactory, MessageFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def order(contact, days_ago: float, value=100, type="order"):
    n = ConversionEvent.objects.count()
    return ConversionEvent.objects.create(
        reference_id=f"R{n}", type=type, contact=contact, value=value, value_base=value,
        currency="INR", occurred_at=NOW - timedelta(days=days_ago),
    )  # fmt: skip


def metrics(contact) -> CustomerMetrics:
    return CustomerMetrics.objects.get(contact=contact)


def _score(values: list, value) -> int:
    """The documented rule, in Python: 1 + floor(5 x percent_rank), capped at 5."""
    n = len(values)
    rank = 1 + sum(1 for v in values if v < value)
    pr = (rank - 1) / (n - 1) if n > 1 else 0.0
    return min(5, 1 + math.floor(pr * 5))


def _segment(r, f, m, orders) -> str:
    if r >= 4 and f >= 4 and m >= 4:
        return "champions"
    if r >= 3 and f >= 4:
        return "loyal"
    if orders == 1 and r >= 4:
        return "new"
    if r >= 3:
        return "potential"
    if f >= 3 or m >= 4:
        return "at_risk"
    return "hibernating"


def test_scores_and_segments_follow_the_documented_rules():
    rng = random.Random(8)
    customers = []
    for _ in range(40):
        contact = ContactFactory()
        for _ in range(rng.choice([1, 1, 1, 2, 3, 5, 8])):
            order(contact, rng.choice([1, 3, 10, 30, 60, 120, 200]), rng.choice([50, 200, 999]))
        customers.append(contact)
    customers_rollup()
    stats = {}
    for contact in customers:
        rows = ConversionEvent.objects.filter(contact=contact)
        stats[contact.pk] = (
            max(r.occurred_at for r in rows),
            rows.count(),
            sum(r.value_base for r in rows),
        )
    last = [s[0] for s in stats.values()]
    count = [s[1] for s in stats.values()]
    ltv = [s[2] for s in stats.values()]
    for contact in customers:
        row = metrics(contact)
        s_last, s_count, s_ltv = stats[contact.pk]
        r, f, m = _score(last, s_last), _score(count, s_count), _score(ltv, s_ltv)
        assert (row.recency_score, row.frequency_score, row.monetary_score) == (r, f, m)
        assert row.segment == _segment(r, f, m, s_count)
        assert row.orders == s_count and row.lifetime_value == s_ltv


def test_single_orders_share_the_lowest_frequency_and_recency_orders_the_rest():
    contacts = [ContactFactory() for _ in range(5)]
    for age, value, contact in zip(
        [50, 40, 30, 20, 10], [10, 20, 30, 40, 50], contacts, strict=True
    ):
        order(contact, age, value)
    customers_rollup()
    got = [
        (m.recency_score, m.frequency_score, m.monetary_score, m.segment)
        for m in map(metrics, contacts)
    ]
    assert got == [
        (1, 1, 1, "hibernating"),
        (2, 1, 2, "hibernating"),
        (3, 1, 3, "potential"),
        (4, 1, 4, "new"),
        (5, 1, 5, "new"),
    ]


def test_ties_share_a_score_and_a_lone_customer_scores_one():
    a, b, c = ContactFactory(), ContactFactory(), ContactFactory()
    order(a, 5, 100)
    order(b, 5, 100)
    order(c, 1, 300)
    customers_rollup()
    assert metrics(a).recency_score == metrics(b).recency_score == 1
    assert metrics(c).recency_score == 5
    ConversionEvent.objects.exclude(contact=c).delete()
    customers_rollup()
    only = metrics(c)
    assert (only.recency_score, only.frequency_score, only.monetary_score) == (1, 1, 1)


def test_champions_loyal_and_at_risk():
    champion, loyal, lapsed = ContactFactory(), ContactFactory(), ContactFactory()
    fillers = [ContactFactory() for _ in range(4)]
    for day in (1, 8, 15, 22, 29):
        order(champion, day, 1000)
    for day in (20, 27, 34, 41, 48):
        order(loyal, day, 10)
    for day in (150, 160, 170, 180):
        order(lapsed, day, 900)
    for i, contact in enumerate(fillers):
        order(contact, 60 + i * 20, 50)
    customers_rollup()
    assert metrics(champion).segment == "champions"
    assert metrics(loyal).segment == "loyal"
    assert metrics(lapsed).segment == "at_risk"


@pytest.mark.parametrize(
    ("ages", "ratio", "risk"),
    [
        ((10, 20, 30), 1.0, "low"),  # rhythm of 10 days, last order 10 days ago
        ((20, 30, 40), 2.0, "medium"),
        ((40, 50, 60), 4.0, "high"),
        ((30,), 1.0, "low"),  # one order: CHURN_DEFAULT_GAP_DAYS (30) stands in
        ((100,), 100 / 30, "high"),
    ],
)
def test_churn_risk_against_the_customers_own_rhythm(ages, ratio, risk, settings):
    settings.CHURN_DEFAULT_GAP_DAYS = 30
    contact = ContactFactory()
    for age in ages:
        order(contact, age)
    customers_rollup()
    row = metrics(contact)
    assert row.churn_ratio == pytest.approx(ratio, rel=1e-6)
    assert row.churn_risk == risk
    assert row.days_since_last_order == pytest.approx(min(ages))
    if len(ages) > 1:
        assert row.mean_gap_days == pytest.approx(10)
    else:
        assert row.mean_gap_days is None


def test_orders_at_one_instant_use_the_default_gap(settings):
    settings.CHURN_DEFAULT_GAP_DAYS = 20
    contact = ContactFactory()
    order(contact, 10)
    order(contact, 10)
    customers_rollup()
    assert metrics(contact).churn_ratio == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("value", "tier"),
    [(50000, "vip"), (49999.99, "gold"), (20000, "gold"), (5000, "silver"), (4999, "bronze")],
)
def test_tiers_by_lifetime_value(value, tier, settings):
    settings.VIP_LIFETIME_VALUE, settings.GOLD_LIFETIME_VALUE = "50000", "20000"
    settings.SILVER_LIFETIME_VALUE = "5000"
    contact = ContactFactory()
    order(contact, 3, Decimal(str(value)))
    customers_rollup()
    assert metrics(contact).tier == tier


def test_only_valued_purchases_count_and_aov(settings):
    settings.ANALYTICS_REVENUE_TYPES = ["order", "payment"]
    contact = ContactFactory()
    order(contact, 3, 300)
    order(contact, 2, 100, type="payment")
    order(contact, 1, 0)  # free order: not a purchase
    order(contact, 1, 500, type="signup")  # not a revenue type
    customers_rollup()
    row = metrics(contact)
    assert (row.orders, row.lifetime_value, row.average_order_value) == (
        2, Decimal("400.00"), Decimal("200.00"),
    )  # fmt: skip


def test_engagement_over_the_window_and_contacts_without_orders(settings):
    settings.ANALYTICS_ENGAGEMENT_DAYS = 90
    contact = ContactFactory()
    at = NOW - timedelta(days=5)
    MessageFactory(contact=contact, status=Status.READ, delivered_at=at, read_at=at, created_at=at)
    MessageFactory(contact=contact, status=Status.DELIVERED, delivered_at=at, created_at=at)
    MessageFactory(contact=contact, status=Status.READ, read_at=at, created_at=at)
    MessageFactory(contact=contact, status=Status.FAILED, created_at=at)
    old = NOW - timedelta(days=100)
    MessageFactory(contact=contact, status=Status.READ, read_at=old, created_at=old)
    InboundMessageFactory(contact=contact, received_at=at, created_at=at)
    InboundMessageFactory(contact=contact, type="reaction", received_at=at, created_at=at)
    customers_rollup()
    row = metrics(contact)
    assert (row.messages_delivered, row.messages_read, row.messages_received) == (3, 2, 1)
    assert row.read_rate == pytest.approx(2 / 3)
    assert row.reply_rate == pytest.approx(1 / 3)
    assert (row.segment, row.tier, row.orders) == ("", "", 0)


def test_the_rebuild_is_complete_and_summarised():
    a, b = ContactFactory(), ContactFactory()
    order(a, 3, 60000)
    order(b, 300, 10)
    assert customers_rollup() == 2
    state = RollupState.objects.get(name="customers")
    assert state.summary["customers"] == 2
    assert state.summary["tiers"] == {"vip": 1, "bronze": 1}
    assert sum(state.summary["segments"].values()) == 2
    assert state.watermark == ConversionEvent.objects.latest("pk").pk
    ConversionEvent.objects.filter(contact=b).delete()
    assert customers_rollup() == 1
    assert not CustomerMetrics.objects.filter(contact=b).exists()


def test_a_dry_run_changes_nothing():
    order(ContactFactory(), 3)
    assert customers_rollup(dry_run=True) == 1
    assert not CustomerMetrics.objects.exists()
    assert not RollupState.objects.exists()
