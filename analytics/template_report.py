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

Read live, never from rollups: every query is bounded by the period on the indexed status
timestamps (`message_sent_at`, `message_delivered_at`, `message_read_at`, `message_failed_at`,
`message_inbound_received`, `buttonclick_clicked`), and no rollup has a template dimension
(adding one would not help the distinct-contact figures, which cannot be summed over days).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, DateTimeField, Exists, ExpressionWrapper, OuterRef, Q, Value
from django.db.models.functions import Coalesce

from analytics.days import range_bounds
from analytics.db import analytics_queries
from analytics.models import ButtonClick
from analytics.services import figures
from messaging.channels.models import MessageTemplate, TemplateStatus
from messaging.links.models import LinkClick
from messaging.providers.error_codes import error_code_info
from messaging.sending.models import Direction, Message, MessageType

ZERO = Decimal("0")
COUNTS = ("sent", "delivered", "read", "replied", "clicked", "failed")


def template_cost(sends) -> dict[int, Decimal]:
    """What each template's sends cost in ANALYTICS_CURRENCY: the cost stored on each message
    (the price card, README "Message costs"), through the one definition of cost."""
    return figures.messages_cost(sends, by="template_id")


def _sends(start: datetime, end: datetime, template_ids):
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


def _status_counts(start, end, template_ids) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    rows = (
        _sends(start, end, template_ids)
        .values("template_id")
        .annotate(
            sent=Count("pk"),
            delivered=Count("pk", filter=Q(delivered_at__isnull=False) | Q(read_at__isnull=False)),
            read=Count("pk", filter=Q(read_at__isnull=False)),
        )
    )
    for row in rows:
        entry = out.setdefault(row["template_id"], {"sent": 0, "delivered": 0, "read": 0})
        for key in ("sent", "delivered", "read"):
            entry[key] += row[key]
    return out


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
    rows = (
        _sends(start, end, template_ids)
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


def template_report(first, last, *, template_ids=None) -> list[dict[str, Any]]:
    """One row per template with sends or failures in the period [first, last] (days in
    ANALYTICS_TIME_ZONE), plus every approved template without any, most sent first.

    Each row: template, channel, name, language, category, status, quality, sent, delivered,
    read, replied, clicked, failed, errors [{code, title, meaning, count}], cost, and rates
    (delivered / sent, read / sent, replied / sent contacts... as shares of sent).
    """
    start, end = range_bounds(first, last)
    with analytics_queries():
        counts = _status_counts(start, end, template_ids)
        failures = _failures(start, end, template_ids)
        replies = _replies(start, end, template_ids)
        clicks = _clicks(start, end, template_ids)
        costs = template_cost(_sends(start, end, template_ids))
    templates = MessageTemplate.objects.select_related("channel")
    if template_ids is not None:
        templates = templates.filter(pk__in=list(template_ids))
    else:
        templates = templates.filter(
            Q(pk__in=set(counts) | set(failures)) | Q(status=TemplateStatus.APPROVED)
        )
    rows = []
    for template in templates:
        c = counts.get(template.pk, {"sent": 0, "delivered": 0, "read": 0})
        errors = [
            {
                "code": code,
                "title": error_code_info(code).title,
                "meaning": error_code_info(code).meaning,
                "count": n,
            }
            for code, n in sorted(
                failures.get(template.pk, {}).items(), key=lambda kv: (-kv[1], kv[0] or 0)
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
                "cost": costs.get(template.pk, ZERO).quantize(Decimal("0.0001")),
                "delivery_rate": _share(c["delivered"], sent),
                "read_rate": _share(c["read"], sent),
            }
        )
    rows.sort(key=lambda r: (-r["sent"], -r["failed"], r["name"], r["language"], r["id"]))
    return rows


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
