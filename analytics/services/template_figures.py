"""The template figures that add up over days (sent, delivered, read, replied, clicked and
cost of a period's sends; failures of the period, by code), written into `TemplateDaily` by the
rollup and read live for the days without a final rollup. `analytics.template_report` holds the
whole definition of every template figure and merges the two sources.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Count, Q
from django.db.models.functions import TruncDate

from analytics.days import analytics_tz, day_bounds
from analytics.services import figures
from messaging.sending.models import Direction, Message

ZERO = Decimal("0")
# Counted over a period's sends: how many there were, and how many of them reached each step.
SEND_COUNTS = ("sent", "delivered", "read", "replied", "clicked")


def template_cost(sends) -> dict[int, Decimal]:
    """What each template's sends cost in ANALYTICS_CURRENCY: the cost stored on each message
    (the price card, README "Message costs"), through the one definition of cost."""
    return figures.messages_cost(sends, by="template_id")


def template_sends(start: datetime, end: datetime, template_ids):
    """The period's sends of templates (the cohort), found through the timestamp indexes."""
    messages = Message.objects.filter(direction=Direction.OUTBOUND, template__isnull=False)
    if template_ids is not None:
        messages = messages.filter(template_id__in=list(template_ids))
    return (
        messages.filter(
            figures._in("sent_at", start, end)
            | figures._in("delivered_at", start, end)
            | figures._in("read_at", start, end)
        )
        .filter(figures._between(figures.SENT_TIME, start, end))
        .order_by()
    )


def _sends_counted(start, end, template_ids) -> tuple[dict[int, dict[str, int]], dict]:
    """Per template, the period's sends counted at each step, and their cost: one pass over the
    sends (grouped by the cost's currency too, which the counts add up across)."""
    counts: dict[int, dict[str, int]] = {}
    costs: dict[int, Decimal] = {}
    rows = (
        template_sends(start, end, template_ids)
        .values("template_id", "cost_currency")
        .annotate(
            sent=Count("pk"),
            delivered=Count("pk", filter=Q(delivered_at__isnull=False) | Q(read_at__isnull=False)),
            read=Count("pk", filter=Q(read_at__isnull=False)),
            replied=Count("pk", filter=Q(replied_at__isnull=False)),
            clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
            cost=figures.cost_sum(),
        )
    )
    for row in rows:
        template_id = row["template_id"]
        figures.cost_add(costs, template_id, row["cost_currency"], row["cost"])
        total = counts.setdefault(template_id, dict.fromkeys(SEND_COUNTS, 0))
        for key in SEND_COUNTS:
            total[key] += row[key]
    return counts, costs


def _failures(start, end, template_ids) -> dict[int, dict[int | None, int]]:
    messages = Message.objects.filter(direction=Direction.OUTBOUND, template__isnull=False)
    if template_ids is not None:
        messages = messages.filter(template_id__in=list(template_ids))
    out: dict[int, dict[int | None, int]] = defaultdict(dict)
    for template_id, code, n in (
        messages.filter(figures.PROVIDER_FAILED & figures._in("failed_at", start, end))
        .order_by()
        .values_list("template_id", "error_code")
        .annotate(n=Count("pk"))
    ):
        out[template_id][code] = n
    return out


def template_span_figures(start: datetime, end: datetime, template_ids=None) -> dict[int, dict]:
    """Per template, the figures that add up over days, of [start, end): sent, delivered, read,
    replied, clicked and cost of the sends in it, failed and errors ({code or "none": count})
    of the failures in it. What a `TemplateDaily` row holds, and what a live day reads."""
    counts, costs = _sends_counted(start, end, template_ids)
    failures = _failures(start, end, template_ids)
    out: dict[int, dict] = {}
    for template_id in set(counts) | set(failures) | set(costs):
        c = counts.get(template_id, dict.fromkeys(SEND_COUNTS, 0))
        errors = {_code_key(code): n for code, n in failures.get(template_id, {}).items()}
        out[template_id] = {
            **c,
            "failed": sum(errors.values()),
            "errors": errors,
            "cost": costs.get(template_id, ZERO).quantize(Decimal("0.0001")),
        }
    return out


def template_send_days_touched(day: date) -> list[date]:
    """The days before `day` whose sends got a receipt, a reply or a click, or failed, on
    `day`: the rollup of `day` recomputes their `TemplateDaily` rows. Found through the
    timestamp indexes."""
    start, end = day_bounds(day)
    days = (
        Message.objects.filter(direction=Direction.OUTBOUND)
        .filter(
            figures._in("delivered_at", start, end)
            | figures._in("read_at", start, end)
            | figures._in("failed_at", start, end)
            | figures._in("replied_at", start, end)
            | figures._in("clicked_at", start, end)
        )
        .annotate(send_day=TruncDate(figures.SENT_TIME, tzinfo=analytics_tz()))
        .filter(send_day__lt=day)
        .order_by()
        .values_list("send_day", flat=True)
        .distinct()
    )
    return sorted(d for d in days if d is not None)


def _code_key(code: int | None) -> str:
    return "none" if code is None else str(code)
