"""Customer metrics: value, RFM scores and segment, churn risk, tier and engagement per contact,
rebuilt in one INSERT ... SELECT (window functions for the quintiles) inside a transaction.

Rules (README "Analytics"):

* Purchases are conversions of a type in ANALYTICS_REVENUE_TYPES with a value above zero.
  Lifetime value = their sum (reporting currency), orders = their count, average order value =
  lifetime value / orders, first and last order = their earliest and latest `occurred_at`.
* Scores 1-5 among customers (contacts with a purchase): score = 1 + floor(5 x percent_rank),
  capped at 5, where percent_rank = (rank - 1) / (customers - 1) ordered by last order
  (recency), by orders (frequency) and by lifetime value (monetary), lowest first. Ties share
  a score (the lower one), so the 60% who bought once all have frequency 1.
* Segment, first rule that matches: champions R>=4, F>=4, M>=4; loyal R>=3, F>=4; new: one
  order and R>=4; potential R>=3; at risk R<=2 and (F>=3 or M>=4); hibernating: the rest.
* Churn ratio = days since the last order / the customer's mean gap between orders ((last -
  first) / (orders - 1)); customers with one order (or all on one instant) use
  CHURN_DEFAULT_GAP_DAYS. Risk: low below CHURN_RISK_MEDIUM, medium below CHURN_RISK_HIGH,
  else high.
* Tier by lifetime value: vip >= VIP_LIFETIME_VALUE, gold >= GOLD_LIFETIME_VALUE, silver >=
  SILVER_LIFETIME_VALUE, else bronze.
* Engagement over the last ANALYTICS_ENGAGEMENT_DAYS: read rate = read / delivered outbound
  messages; reply rate = inbound messages / delivered outbound messages, capped at 1.

Rows exist for customers and for contacts with messages in the engagement window.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from analytics.db import analytics_queries
from analytics.models import ConversionEvent, CustomerMetrics, RollupState
from analytics.services.conversions import revenue_types
from messaging.models import Message

COLUMNS = [
    "contact_id", "lifetime_value", "orders", "average_order_value", "first_order_at",
    "last_order_at", "days_since_last_order", "mean_gap_days", "recency_score",
    "frequency_score", "monetary_score", "segment", "churn_ratio", "churn_risk", "tier",
    "messages_delivered", "messages_read", "messages_received", "read_rate", "reply_rate",
    "computed_at",
]  # fmt: skip


def _days(later: str, earlier: str) -> str:
    if connection.vendor == "postgresql":
        return f"(EXTRACT(EPOCH FROM ({later} - {earlier})) / 86400.0)"
    return f"(julianday({later}) - julianday({earlier}))"


def _floor(expression: str) -> str:
    if connection.vendor == "postgresql":
        return f"FLOOR({expression})"
    return f"CAST({expression} AS INTEGER)"  # truncates; the values are never negative


def _score(percent_rank: str) -> str:
    raw = f"(1 + {_floor(f'{percent_rank} * 5')})"
    return f"CASE WHEN {raw} > 5 THEN 5 ELSE {raw} END"


def customers_sql(*, now: datetime) -> tuple[str, list]:

    q = connection.ops.quote_name
    conversions = q(ConversionEvent._meta.db_table)
    messages = q(Message._meta.db_table)
    target = q(CustomerMetrics._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    types = revenue_types() or ["order"]
    now_param = "%s"
    if connection.vendor == "postgresql":
        now_param = "CAST(%s AS timestamptz)"
    type_marks = ", ".join(["%s"] * len(types))
    params: list = [*types, adapt(now - timedelta(days=settings.ANALYTICS_ENGAGEMENT_DAYS))]
    params += [adapt(now), float(settings.CHURN_DEFAULT_GAP_DAYS)]
    params += [float(settings.CHURN_RISK_MEDIUM), float(settings.CHURN_RISK_HIGH)]
    params += [float(settings.VIP_LIFETIME_VALUE), float(settings.GOLD_LIFETIME_VALUE)]
    params += [float(settings.SILVER_LIFETIME_VALUE), adapt(now)]
    # Table names come from model meta (quoted); every value is a parameter.
    sql = f"""
WITH purchases AS (
    SELECT contact_id, SUM(value_base) AS ltv, COUNT(*) AS orders,
           MIN(occurred_at) AS first_at, MAX(occurred_at) AS last_at
    FROM {conversions} WHERE type IN ({type_marks}) AND value_base > 0
    GROUP BY contact_id
),
engagement AS (
    SELECT contact_id,
        SUM(CASE WHEN direction = 'out' AND (delivered_at IS NOT NULL OR read_at IS NOT NULL)
            THEN 1 ELSE 0 END) AS delivered,
        SUM(CASE WHEN direction = 'out' AND read_at IS NOT NULL THEN 1 ELSE 0 END) AS read_n,
        SUM(CASE WHEN direction = 'in' AND type NOT IN ('reaction', 'system')
            THEN 1 ELSE 0 END) AS received
    FROM {messages} WHERE created_at >= %s
    GROUP BY contact_id
),
ranked AS (
    SELECT contact_id, ltv, orders, first_at, last_at,
        PERCENT_RANK() OVER (ORDER BY last_at) AS r_pr,
        PERCENT_RANK() OVER (ORDER BY orders) AS f_pr,
        PERCENT_RANK() OVER (ORDER BY ltv) AS m_pr,
        {_days(now_param, "last_at")} AS since_last,
        CASE WHEN orders > 1 THEN {_days("last_at", "first_at")} / (orders - 1) END AS gap
    FROM purchases
),
scored AS (
    SELECT ranked.*, {_score("r_pr")} AS r_s, {_score("f_pr")} AS f_s, {_score("m_pr")} AS m_s,
        since_last / (CASE WHEN gap > 0 THEN gap ELSE %s END) AS churn
    FROM ranked
),
people AS (SELECT contact_id FROM purchases UNION SELECT contact_id FROM engagement)
INSERT INTO {target} ({", ".join(q(c) for c in COLUMNS)})
SELECT people.contact_id, COALESCE(s.ltv, 0), COALESCE(s.orders, 0),
    CASE WHEN s.orders > 0 THEN s.ltv / s.orders END,
    s.first_at, s.last_at, s.since_last, s.gap, s.r_s, s.f_s, s.m_s,
    CASE WHEN s.contact_id IS NULL THEN ''
         WHEN s.r_s >= 4 AND s.f_s >= 4 AND s.m_s >= 4 THEN 'champions'
         WHEN s.r_s >= 3 AND s.f_s >= 4 THEN 'loyal'
         WHEN s.orders = 1 AND s.r_s >= 4 THEN 'new'
         WHEN s.r_s >= 3 THEN 'potential'
         WHEN s.f_s >= 3 OR s.m_s >= 4 THEN 'at_risk'
         ELSE 'hibernating' END,
    s.churn,
    CASE WHEN s.contact_id IS NULL THEN ''
         WHEN s.churn < %s THEN 'low' WHEN s.churn < %s THEN 'medium' ELSE 'high' END,
    CASE WHEN s.contact_id IS NULL THEN ''
         WHEN s.ltv >= %s THEN 'vip' WHEN s.ltv >= %s THEN 'gold'
         WHEN s.ltv >= %s THEN 'silver' ELSE 'bronze' END,
    COALESCE(e.delivered, 0), COALESCE(e.read_n, 0), COALESCE(e.received, 0),
    CASE WHEN e.delivered > 0 THEN 1.0 * e.read_n / e.delivered END,
    CASE WHEN e.delivered > 0 THEN
        CASE WHEN e.received >= e.delivered THEN 1.0 ELSE 1.0 * e.received / e.delivered END
    END,
    %s
FROM people
LEFT JOIN scored s ON s.contact_id = people.contact_id
LEFT JOIN engagement e ON e.contact_id = people.contact_id
"""  # noqa: S608
    return sql, params


def customers_rollup(*, now: datetime | None = None, dry_run: bool = False) -> int:
    """Rebuild CustomerMetrics; returns the number of rows. Records the segment, tier and
    churn counts (what the customers dashboard shows) in RollupState "customers"."""
    now = now or timezone.now()
    watermark = ConversionEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    sql, params = customers_sql(now=now)
    with analytics_queries():
        CustomerMetrics.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        summary = customers_summary()
        if dry_run:
            transaction.set_rollback(True)
            return summary["rows"]
        RollupState.objects.update_or_create(
            name="customers",
            defaults={"computed_at": now, "watermark": watermark, "summary": summary},
        )
    return summary["rows"]


def customers_summary() -> dict:
    rows = CustomerMetrics.objects.count()
    by = {}
    for field in ("segment", "tier", "churn_risk"):
        counts = Counter(
            dict(
                CustomerMetrics.objects.exclude(**{field: ""})
                .order_by()
                .values_list(field)
                .annotate(n=Count("pk"))
            )
        )
        by[field] = dict(counts)
    return {
        "rows": rows,
        "customers": sum(by["tier"].values()),
        "segments": by["segment"],
        "tiers": by["tier"],
        "churn": by["churn_risk"],
    }
