"""Template analytics: what each WhatsApp template (per number, name and language) achieved over
a period. The one definition of every template figure; the Templates dashboard, its CSVs and
`GET /api/v1/reporting/templates/` all call `template_report`.

The figures follow the period's **sends** (a cohort), so they read as a funnel a campaign
manager can compare between templates:

* sent: outbound messages of the template whose send time (`sent_at`, else the delivery or
  read receipt's time: `figures.SENT_TIME`) falls in the period;
* delivered, read: of those, the ones with a delivery (or read) receipt, and with a read
  receipt, whenever it came;
* replied: distinct contacts among those sends' recipients who wrote to us within
  ATTRIBUTION_WINDOW_DAYS after the send (reactions and system notes left out), the window the
  campaign funnel uses;
* clicked: distinct contacts who tapped a button answering one of those sends, or clicked a
  tracked link in one (link-preview fetchers left out);
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
* replied and clicked are distinct contacts over the whole period, which cannot be summed over
  days, so they stay live. Both start from the far smaller side: replies from the period's
  sends only for contacts who wrote in [start, end + window) (`message_inbound_received`),
  clicks from the taps and link clicks since the period's start (`buttonclick_clicked`,
  `linkclick` clicked_at).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, DateTimeField, Exists, ExpressionWrapper, OuterRef, Q, Value
from django.db.models.functions import Coalesce

from analytics.days import day_bounds, days_between, range_bounds
from analytics.db import analytics_queries
from analytics.models import ButtonClick, DailySnapshot, RollupDirtyDay, TemplateDaily
from analytics.services import figures
from analytics.services.template_figures import (
    template_cost,
    template_sends,
    template_span_figures,
)
from messaging.channels.models import MessageTemplate, TemplateStatus
from messaging.links.models import LinkClick
from messaging.providers.error_codes import error_code_info
from messaging.sending.models import Direction, Message, MessageType

__all__ = ["rolled_up_days", "template_cost", "template_report"]

ZERO = Decimal("0")
COUNTS = ("sent", "delivered", "read", "replied", "clicked", "failed")


def _replies(start, end, template_ids) -> dict[int, int]:
    window = timedelta(days=settings.ATTRIBUTION_WINDOW_DAYS)
    inbound = (
        Message.objects.filter(direction=Direction.INBOUND, contact_id=OuterRef("contact_id"))
        .exclude(type__in=[MessageType.REACTION, MessageType.SYSTEM])
        .filter(received_at__gte=start, received_at__lt=end + window)
        .filter(
            received_at__gte=OuterRef("sent_time"),
            received_at__lt=ExpressionWrapper(
                OuterRef("sent_time") + Value(window), output_field=DateTimeField()
            ),
        )
    )
    # Only the contacts who wrote in the reply window can have replied: found through the
    # inbound index, they bound the sends read.
    writers = (
        Message.objects.filter(direction=Direction.INBOUND)
        .filter(received_at__gte=start, received_at__lt=end + window)
        .exclude(type__in=[MessageType.REACTION, MessageType.SYSTEM])
        .values("contact_id")
    )
    rows = (
        template_sends(start, end, template_ids)
        .filter(contact_id__in=writers)
        .annotate(sent_time=figures.SENT_TIME)
        .filter(Exists(inbound))
        .values_list("template_id")
        .annotate(n=Count("contact_id", distinct=True))
    )
    return dict(rows)


def _clicks(start, end, template_ids) -> dict[int, int]:
    """Distinct (template, contact) pairs over button taps and link clicks, counted per
    template. Taps and clicks come after their send, so both are bounded by the period's start
    on their own time index."""
    taps = ButtonClick.objects.filter(clicked_at__gte=start, replied_to__template__isnull=False)
    links = LinkClick.objects.filter(
        clicked_at__gte=start, is_bot=False, link__message__template__isnull=False
    )
    if template_ids is not None:
        taps = taps.filter(replied_to__template_id__in=list(template_ids))
        links = links.filter(link__message__template_id__in=list(template_ids))
    taps = taps.annotate(
        sent_time=Coalesce("replied_to__sent_at", "replied_to__delivered_at", "replied_to__read_at")
    ).filter(sent_time__gte=start, sent_time__lt=end)
    links = links.annotate(
        sent_time=Coalesce(
            "link__message__sent_at", "link__message__delivered_at", "link__message__read_at"
        )
    ).filter(sent_time__gte=start, sent_time__lt=end)
    pairs = (
        taps.order_by()
        .values_list("replied_to__template_id", "contact_id")
        .union(
            links.order_by().values_list("link__message__template_id", "link__message__contact_id")
        )
    )
    out: dict[int, int] = defaultdict(int)
    for template_id, _contact_id in pairs:
        out[template_id] += 1
    return out


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
            template_id,
            {"sent": 0, "delivered": 0, "read": 0, "failed": 0, "errors": {}, "cost": ZERO},
        )
        for key in ("sent", "delivered", "read", "failed", "cost"):
            entry[key] += values[key]
        for code, n in values["errors"].items():
            entry["errors"][code] = entry["errors"].get(code, 0) + n

    if final:
        rows = TemplateDaily.objects.filter(day__in=sorted(final))
        if template_ids is not None:
            rows = rows.filter(template_id__in=list(template_ids))
        for row in rows.values("template_id", "sent", "delivered", "read", "failed", "errors",
                               "cost"):  # fmt: skip
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
    read, replied, clicked, failed, errors [{code, title, meaning, count}], cost, and rates
    (delivered / sent, read / sent, replied / sent contacts... as shares of sent).
    """
    start, end = range_bounds(first, last)
    with analytics_queries():
        summed = _summed(first, last, template_ids)
        replies = _replies(start, end, template_ids)
        clicks = _clicks(start, end, template_ids)
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
        c = summed.get(template.pk) or {"sent": 0, "delivered": 0, "read": 0, "errors": {},
                                         "cost": ZERO}  # fmt: skip
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
                "replied": replies.get(template.pk, 0),
                "clicked": clicks.get(template.pk, 0),
                "failed": sum(e["count"] for e in errors),
                "errors": errors,
                "cost": Decimal(c["cost"]).quantize(Decimal("0.0001")),
                "delivery_rate": _share(c["delivered"], sent),
                "read_rate": _share(c["read"], sent),
            }
        )
    rows.sort(key=lambda r: (-r["sent"], -r["failed"], r["name"], r["language"], r["id"]))
    return rows


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
