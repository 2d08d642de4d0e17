"""Template analytics: what each WhatsApp template (per number, name and language) achieved over
a period. The one definition of every template figure; the Templates dashboard, its CSVs and
`GET /api/v1/reporting/templates/` all call `template_report`.

The figures follow the period's **sends** (a cohort), so they read as a funnel a campaign
manager can compare between templates:

* sent: outbound messages of the template whose send time (`sent_at`, else the delivery or
  read receipt's time: `figures.SENT_TIME`) falls in the period;
* delivered, read: of those, the ones with a delivery (or read) receipt, and with a read
  receipt, whenever it came;
* replied: of those, the ones the contact answered (wrote back, reactions and system notes
  left out) within ATTRIBUTION_WINDOW_DAYS after the send, the window the campaign funnel uses;
* clicked: of those, the ones whose button was tapped or tracked link clicked by a person in
  that window (link-preview fetchers left out);
* failed: messages of the template WhatsApp failed (`figures.PROVIDER_FAILED`: a send the
  policy refused was never sent) whose failure time falls in the period, by error code;
* cost: the cost stored on the period's sends (`figures.messages_cost`, the one definition).

Where they are read from (measured at 5,000,000 messages, bench/README.md "Analytics"):

* sent, delivered, read, cost and failed add up over days (each send belongs to the day it was
  sent, each failure to the day it happened), so a finished day's come from the `TemplateDaily`
  rollup and only the days without a final rollup (today, and a past day until its pass after
  midnight or while it is marked changed) are read live, through the same functions
  (`template_span_figures`). A receipt that arrives days after its send changes the send day's
  row: the rollup of the receipt's day recomputes the rows of every send day it touched
  (`template_send_days_touched`), so a settled day is at most one rollup run (five minutes)
  behind, as every rollup is. Before, a 30-day period was a live scan of about 1.4 million
  sends (~1 s at 1.09 M messages); now it is at most one day's sends plus 30 rollup days;
* replied and clicked count sends too (`Message.replied_at` / `clicked_at`, kept by
  `messaging.sending.engagement`), so they add up over days like the rest: a reply or click
  recomputes its send day's row as a late receipt does. Before, they were distinct contacts
  over the period, read live (every send to a contact who wrote in the period: 0.7 s for 7
  days and 1.4 s for 30 at 5,000,000 messages) and in another unit than the sends beside them.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Q

from analytics.days import day_bounds, days_between, range_bounds
from analytics.db import analytics_queries
from analytics.models import DailySnapshot, RollupDirtyDay, TemplateDaily
from analytics.services.template_figures import (
    SEND_COUNTS,
    template_cost,
    template_span_figures,
)
from messaging.channels.models import MessageTemplate, TemplateStatus
from messaging.providers.error_codes import error_code_info

__all__ = ["rolled_up_days", "template_cost", "template_report"]

ZERO = Decimal("0")
COUNTS = ("sent", "delivered", "read", "replied", "clicked", "failed")
# What a TemplateDaily row adds up over days (with its errors and cost).
SUMMED = (*SEND_COUNTS, "failed")


def rolled_up_days(first: date, last: date) -> set[date]:
    """The days of [first, last] whose rollup is final: it ran after the day ended and the
    day was not marked changed since. The others are read live."""
    computed = DailySnapshot.objects.filter(
        channel__isnull=True, day__gte=first, day__lte=last
    ).values_list("day", "computed_at")
    dirty = set(
        RollupDirtyDay.objects.filter(day__gte=first, day__lte=last).values_list("day", flat=True)
    )
    return {day for day, at in computed if at >= day_bounds(day)[1] and day not in dirty}


def _summed(first: date, last: date, template_ids) -> dict[int, dict]:
    """template_span_figures over [first, last]: rollup rows of the final days, live reads of
    the others (one read per run of consecutive live days)."""
    final = rolled_up_days(first, last)
    out: dict[int, dict] = {}

    def add(template_id: int, values: dict) -> None:
        entry = out.setdefault(
            template_id, {**dict.fromkeys(SUMMED, 0), "errors": {}, "cost": ZERO}
        )
        for key in (*SUMMED, "cost"):
            entry[key] += values[key]
        for code, n in values["errors"].items():
            entry["errors"][code] = entry["errors"].get(code, 0) + n

    if final:
        rows = TemplateDaily.objects.filter(day__in=sorted(final))
        if template_ids is not None:
            rows = rows.filter(template_id__in=list(template_ids))
        for row in rows.values("template_id", *SUMMED, "errors", "cost"):
            add(row["template_id"], row)
    run: list[date] = []
    for day in [*days_between(first, last), None]:
        if day is not None and day not in final:
            run.append(day)
            continue
        if run:
            start, end = range_bounds(run[0], run[-1])
            for template_id, values in template_span_figures(start, end, template_ids).items():
                add(template_id, values)
            run = []
    return out


def _code(key: str) -> int | None:
    return None if key == "none" else int(key)


def template_report(first, last, *, template_ids=None) -> list[dict[str, Any]]:
    """One row per template with sends or failures in the period [first, last] (days in
    ANALYTICS_TIME_ZONE), plus every approved template without any, most sent first.

    Each row: template, channel, name, language, category, status, quality, sent, delivered,
    read, replied, clicked (all counts of the period's sends), failed, errors [{code, title,
    meaning, count}], cost, and the rates of delivered, read, replied and clicked as shares of
    sent.
    """
    with analytics_queries():
        summed = _summed(first, last, template_ids)
    templates = MessageTemplate.objects.select_related("channel")
    if template_ids is not None:
        templates = templates.filter(pk__in=list(template_ids))
    else:
        templates = templates.filter(
            Q(pk__in=[pk for pk, c in summed.items() if c["sent"] or c["failed"]])
            | Q(status=TemplateStatus.APPROVED)
        )
    rows = []
    for template in templates:
        c = summed.get(template.pk) or {**dict.fromkeys(SUMMED, 0), "errors": {}, "cost": ZERO}
        errors = [
            {
                "code": code,
                "title": error_code_info(code).title,
                "meaning": error_code_info(code).meaning,
                "count": n,
            }
            for code, n in sorted(
                ((_code(key), n) for key, n in c["errors"].items()),
                key=lambda kv: (-kv[1], kv[0] or 0),
            )
        ]
        sent = c["sent"]
        rows.append(
            {
                "template": template,
                "id": template.pk,
                "channel": template.channel.name,
                "name": template.name,
                "language": template.language,
                "category": template.category,
                "status": template.status,
                "quality": template.quality_score,
                "sent": sent,
                "delivered": c["delivered"],
                "read": c["read"],
                "replied": c["replied"],
                "clicked": c["clicked"],
                "failed": sum(e["count"] for e in errors),
                "errors": errors,
                "cost": Decimal(c["cost"]).quantize(Decimal("0.0001")),
                "delivery_rate": _share(c["delivered"], sent),
                "read_rate": _share(c["read"], sent),
                "reply_rate": _share(c["replied"], sent),
                "click_rate": _share(c["clicked"], sent),
            }
        )
    rows.sort(key=lambda r: (-r["sent"], -r["failed"], r["name"], r["language"], r["id"]))
    return rows


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
