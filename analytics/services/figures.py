"""The set-based queries behind the rollups (and today's live figures).

Each function reads one day (or one set of campaigns / content items) with a few GROUP BY
queries over that day's rows, never a Python loop over messages. Message figures come from the
per-status timestamps: a message counts as sent on the day of `sent_at` (or, when no "sent"
receipt came, of its delivery or read receipt), delivered on the day of `delivered_at` (or
`read_at`: read implies delivered), read on the day of `read_at`, failed on the day of
`failed_at` (status failed).

Campaign funnel (README "Metrics glossary"): sent >= delivered >= read count messages that reached
at least that status; replied, clicked and converted count distinct contacts of the campaign's
audience, each within ATTRIBUTION_WINDOW_DAYS after that contact's campaign message (one per
contact). Page views are engagement, never conversions: `NOT_PAGE_VIEW` keeps them out of every
conversion count, and `page_view_figures` reports them on their own.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import (
    Avg,
    Count,
    F,
    Q,
    Sum,
)
from django.db.models.functions import Coalesce, ExtractHour, TruncDate
from django.db.models.lookups import GreaterThanOrEqual, LessThan

from analytics.days import analytics_tz
from analytics.models import (
    AttributionSource,
    ButtonClick,
    ButtonDaily,
    ConversionEvent,
    ConversionType,
    QualityRating,
)
from analytics.services.conversions import (
    cost_to_reporting_currency,
    revenue_types,
)
from crm.models import Consent, ConsentEvent, Contact
from messaging.inbox.selectors import inbox_metrics
from messaging.models import (
    Campaign,
    ContentDelivery,
    ContentItem,
    ContentState,
    ContentTransition,
    ConversationEvent,
    ConversationEventKind,
    Direction,
    LinkClick,
    Message,
    MessageType,
    Notification,
    Status,
)
from messaging.sending.engagement import SENT_TIME

DELIVERED_TIME = Coalesce("delivered_at", "read_at")
ZERO = Decimal("0")
# Failed by WhatsApp (or after every retry). A message the send policy refused just before
# sending (`Message.refusal`: the contact opted out, the window closed) was never sent, so it
# is not a failure here, as campaigns count it as excluded.
PROVIDER_FAILED = Q(status=Status.FAILED, refusal="")
# Whole campaigns: a message reached at least that status (read implies delivered implies sent).
EVER_SENT = Q(sent_at__isnull=False) | Q(delivered_at__isnull=False) | Q(read_at__isnull=False)
EVER_DELIVERED = Q(delivered_at__isnull=False) | Q(read_at__isnull=False)
EVER_READ = Q(read_at__isnull=False)
# Page views are stored as ConversionEvent(type=page_view) but are never conversions.
NOT_PAGE_VIEW = ~Q(type=ConversionType.PAGE_VIEW)


def conversion_events() -> Any:
    """Every conversion, page views left out: the one base of every conversion figure."""
    return ConversionEvent.objects.filter(NOT_PAGE_VIEW).order_by()


def _in(column: str, start: datetime, end: datetime) -> Q:
    return Q(**{f"{column}__gte": start, f"{column}__lt": end})


def _between(expression, start: datetime, end: datetime) -> Q:
    return Q(GreaterThanOrEqual(expression, start), LessThan(expression, end))


def touching(start: datetime, end: datetime) -> Q:
    """Messages with any status timestamp in [start, end): each column is indexed (README
    "Analytics", index requests), so PostgreSQL answers with a bitmap OR of four ranges."""
    return (
        _in("sent_at", start, end)
        | _in("delivered_at", start, end)
        | _in("read_at", start, end)
        | _in("failed_at", start, end)
    )


def messages_cost(messages, *, by: str) -> dict[Any, Decimal]:
    """The one definition of cost: the cost Parley stored on each of these messages
    (`Message.cost`, README "Message costs"), summed per `by` (a column: channel_id,
    campaign_id) and per the price card's currency, each sum converted to
    ANALYTICS_CURRENCY. Callers pass the messages a period counts (those sent in it)."""
    out: dict[Any, Decimal] = defaultdict(lambda: ZERO)
    rows = messages.order_by().values_list(by, "cost_currency").annotate(total=cost_sum())
    for key, currency, total in rows:
        cost_add(out, key, currency, total)
    return dict(out)


def cost_sum() -> Sum:
    """The aggregate `messages_cost` sums, for a query that counts other things in the same
    pass (grouped by `cost_currency` as well, its rows given to `cost_add`)."""
    return Sum("cost", filter=Q(cost__gt=0))


def cost_add(out: dict[Any, Decimal], key: Any, currency: str, total: Decimal | None) -> None:
    """Add one (key, currency) sum of `cost_sum()` to `out`, in ANALYTICS_CURRENCY."""
    if total:
        out[key] = out.get(key, ZERO) + cost_to_reporting_currency(Decimal(total), currency)


def roi(attributed_revenue: Decimal, cost: Decimal) -> float | None:
    """(attributed revenue - cost) / cost; None (shown "—") when nothing was spent. Organic
    revenue is never in it: no message earned it."""
    if not cost or cost <= 0:
        return None
    return round(float((Decimal(attributed_revenue) - cost) / cost), 4)


# --- Messages -----------------------------------------------------------------------------------


def messages_by_channel(start: datetime, end: datetime) -> dict[int, dict[str, int]]:
    """Outbound sent/delivered/read/failed, contacts reached and cost (of the messages sent
    in the period), per channel."""

    sent = _between(SENT_TIME, start, end)
    outbound = Message.objects.filter(direction=Direction.OUTBOUND).filter(touching(start, end))
    rows = (
        outbound.order_by()
        .values("channel_id")
        .annotate(
            sent=Count("pk", filter=sent),
            delivered=Count("pk", filter=_between(DELIVERED_TIME, start, end)),
            read=Count("pk", filter=_in("read_at", start, end)),
            failed=Count("pk", filter=PROVIDER_FAILED & _in("failed_at", start, end)),
            contacts_reached=Count("contact_id", distinct=True, filter=sent),
        )
    )
    out = {row.pop("channel_id"): {**row, "cost": ZERO} for row in rows}
    for channel_id, cost in messages_cost(outbound.filter(sent), by="channel_id").items():
        out.setdefault(channel_id, {"cost": ZERO})["cost"] = cost
    return out


def message_counts(start: datetime, end: datetime) -> dict[str, int]:
    """Sent, delivered, read and failed over all channels (today's live tile)."""

    return (
        Message.objects.filter(direction=Direction.OUTBOUND)
        .filter(touching(start, end))
        .aggregate(
            sent=Count("pk", filter=_between(SENT_TIME, start, end)),
            delivered=Count("pk", filter=_between(DELIVERED_TIME, start, end)),
            read=Count("pk", filter=_in("read_at", start, end)),
            failed=Count("pk", filter=PROVIDER_FAILED & _in("failed_at", start, end)),
        )
    )


def contacts_reached(start: datetime, end: datetime) -> int:

    return (
        Message.objects.filter(direction=Direction.OUTBOUND)
        .filter(touching(start, end))
        .filter(_between(SENT_TIME, start, end))
        .aggregate(n=Count("contact_id", distinct=True))["n"]
    )


def inbound_by_channel(start: datetime, end: datetime) -> dict[int, int]:

    rows = (
        Message.objects.filter(direction=Direction.INBOUND, received_at__gte=start)
        .filter(received_at__lt=end)
        .exclude(type__in=[MessageType.REACTION, MessageType.SYSTEM])
        .order_by()
        .values_list("channel_id")
        .annotate(n=Count("pk"))
    )
    return dict(rows)


# --- Events read where they live -----------------------------------------------------------------


def clicks_by_channel(start: datetime, end: datetime) -> tuple[dict, dict]:

    buttons = dict(
        ButtonClick.objects.filter(clicked_at__gte=start, clicked_at__lt=end)
        .order_by()
        .values_list("channel_id")
        .annotate(n=Count("pk"))
    )
    links = dict(
        LinkClick.objects.filter(clicked_at__gte=start, clicked_at__lt=end, is_bot=False)
        .order_by()
        .values_list("link__message__channel_id")
        .annotate(n=Count("pk"))
    )
    return buttons, links


def conversations_opened_by_channel(start: datetime, end: datetime) -> dict[int, int]:

    return dict(
        ConversationEvent.objects.filter(kind=ConversationEventKind.OPENED, at__gte=start)
        .filter(at__lt=end)
        .order_by()
        .values_list("conversation__channel_id")
        .annotate(n=Count("pk"))
    )


def conversions_by_channel(start: datetime, end: datetime) -> dict[int | None, dict[str, Any]]:
    """Conversions and revenue per attributed channel (None: organic), with revenue by
    attribution source."""
    rows = (
        conversion_events()
        .filter(occurred_at__gte=start, occurred_at__lt=end)
        .values("attributed_channel_id", "attribution_source")
        .annotate(
            n=Count("pk"),
            revenue=Sum("value_base", filter=Q(type__in=revenue_types()), default=ZERO),
        )
    )
    out: dict[int | None, dict[str, Any]] = defaultdict(
        lambda: {"conversions": 0, "revenue": ZERO, "by_source": defaultdict(lambda: ZERO)}
    )
    for row in rows:
        entry = out[row["attributed_channel_id"]]
        entry["conversions"] += row["n"]
        entry["revenue"] += Decimal(row["revenue"])
        entry["by_source"][row["attribution_source"]] += Decimal(row["revenue"])
    return out


def revenue_by_label(start: datetime, end: datetime) -> dict[str, dict[str, Any]]:
    """Per the caller's `source` label of the conversions that occurred in the period:
    conversions, attributed revenue (credited to a campaign, content or notification message)
    and organic revenue, in ANALYTICS_CURRENCY. An empty label is kept as ""."""
    revenue = Q(type__in=revenue_types())
    organic = Q(attribution_source=AttributionSource.ORGANIC)
    rows = (
        ConversionEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
        .order_by()
        .values("source")
        .annotate(
            conversions=Count("pk"),
            attributed=Sum("value_base", filter=revenue & ~organic, default=ZERO),
            organic=Sum("value_base", filter=revenue & organic, default=ZERO),
        )
    )
    return {
        row["source"]: {
            "conversions": row["conversions"],
            "attributed": str(Decimal(row["attributed"]).quantize(Decimal("0.01"))),
            "organic": str(Decimal(row["organic"]).quantize(Decimal("0.01"))),
        }
        for row in rows
    }


def people_figures(start: datetime, end: datetime) -> dict[str, int]:
    """New contacts and consent changes (distinct contacts moved to opted in / opted out)."""

    consent = (
        ConsentEvent.objects.filter(created_at__gte=start, created_at__lt=end)
        .exclude(previous=F("consent"))
        .aggregate(
            opt_ins=Count("contact_id", distinct=True, filter=Q(consent=Consent.OPTED_IN)),
            opt_outs=Count("contact_id", distinct=True, filter=Q(consent=Consent.OPTED_OUT)),
        )
    )
    return {
        "new_contacts": Contact.objects.filter(created_at__gte=start, created_at__lt=end).count(),
        **consent,
    }


def content_figures(start: datetime, end: datetime) -> dict[str, int]:

    return {
        "content_created": ContentItem.objects.filter(
            created_at__gte=start, created_at__lt=end
        ).count(),
        "content_approved": ContentTransition.objects.filter(
            to_state=ContentState.APPROVED, created_at__gte=start, created_at__lt=end
        ).count(),
        "content_distributed": ContentItem.objects.filter(
            distributed_at__gte=start, distributed_at__lt=end
        ).count(),
        "advisors_served": ContentDelivery.objects.filter(
            created_at__gte=start, created_at__lt=end, message__isnull=False
        )
        .values("contact_id")
        .distinct()
        .count(),
        "notifications_sent": Notification.objects.filter(
            created_at__gte=start, created_at__lt=end, message__isnull=False
        ).count(),
    }


def quality_figures(start: datetime, end: datetime) -> dict[str, Any]:
    row = QualityRating.objects.filter(rated_at__gte=start, rated_at__lt=end).aggregate(
        ratings=Count("pk"), average=Avg("rating")
    )
    average = row["average"]
    return {"ratings": row["ratings"], "average_rating": round(average, 2) if average else None}


def inbox_figures(day: date) -> dict[str, Any]:
    """The inbox engineer's day figures (messaging.inbox.selectors.inbox_metrics)."""

    metrics = inbox_metrics(day=day, tz=settings.ANALYTICS_TIME_ZONE)
    return {
        "conversations_opened": metrics["conversations_opened"],
        "conversations_closed": metrics["conversations_closed"],
        "first_response_median_seconds": metrics["first_response"]["median_seconds"],
        "automated_share": metrics["answered_automatically_share"],
        "automated_answers": metrics["automated_answers"],
        "topics": metrics["topics"],
    }


# --- Campaigns -----------------------------------------------------------------------------------


def campaigns_info(ids) -> dict[int, dict[str, Any]]:

    return {
        row["pk"]: row
        for row in Campaign.objects.filter(pk__in=list(ids)).values("pk", "channel_id")
    }


def _campaign_messages(campaign_ids=None):
    """Outbound messages of these campaigns; without ids, every outbound message (a day's
    queries group by campaign and drop the rows without one: a "campaign IS NOT NULL" filter
    would lead PostgreSQL to walk the whole campaign index instead of the day's timestamps)."""

    messages = Message.objects.filter(direction=Direction.OUTBOUND).order_by()
    if campaign_ids is not None:
        messages = messages.filter(campaign_id__in=list(campaign_ids))
    return messages


def campaign_status_figures(
    *, start: datetime | None = None, end: datetime | None = None, campaign_ids=None
) -> dict[int, dict[str, Any]]:
    """Per campaign: targeted, sent, delivered, read, failed, errors by code, cost of the
    messages sent, and (for a day) sends by local hour. With `start`/`end`: that day; else
    whole campaigns."""

    messages = _campaign_messages(campaign_ids)
    if start is not None:
        messages = messages.filter(touching(start, end) | _in("created_at", start, end))
        targeted = _in("created_at", start, end)
        sent = _between(SENT_TIME, start, end)
        delivered = _between(DELIVERED_TIME, start, end)
        read = _in("read_at", start, end)
        failed = PROVIDER_FAILED & _in("failed_at", start, end)
    else:
        targeted = Q()
        sent, delivered, read, failed = EVER_SENT, EVER_DELIVERED, EVER_READ, PROVIDER_FAILED
    out: dict[int, dict[str, Any]] = {}
    for row in messages.values("campaign_id").annotate(
        targeted=Count("pk", filter=targeted),
        sent=Count("pk", filter=sent),
        delivered=Count("pk", filter=delivered),
        read=Count("pk", filter=read),
        failed=Count("pk", filter=failed),
    ):
        campaign_id = row.pop("campaign_id")
        if campaign_id is not None:
            out[campaign_id] = {**row, "cost": ZERO, "errors": {}, "hourly_sent": [0] * 24}
    for campaign_id, cost in messages_cost(messages.filter(sent), by="campaign_id").items():
        if campaign_id in out:
            out[campaign_id]["cost"] = cost
    for campaign_id, code, n in (
        messages.filter(failed).values_list("campaign_id", "error_code").annotate(n=Count("pk"))
    ):
        if campaign_id in out:
            out[campaign_id]["errors"][str(code if code is not None else "none")] = n
    if start is not None:
        hours = (
            messages.filter(sent)
            .annotate(hour=ExtractHour(SENT_TIME, tzinfo=analytics_tz()))
            .values_list("campaign_id", "hour")
            .annotate(n=Count("pk"))
        )
        for campaign_id, hour, n in hours:
            if campaign_id in out and hour is not None:
                out[campaign_id]["hourly_sent"][int(hour)] = n
    return out


def _contacts_by_campaign(messages) -> dict[int, int]:
    rows = messages.values_list("campaign_id").annotate(n=Count("contact_id", distinct=True))
    return {campaign_id: n for campaign_id, n in rows if campaign_id is not None}


def _engaged(column: str, start: datetime | None, end: datetime | None, campaign_ids):
    """The campaign messages with `column` (replied_at, clicked_at: the first reply or click
    within its attribution window, `messaging.sending.engagement`); for a day, whose first one
    came that day (so a campaign's day rows add up to its total)."""
    messages = _campaign_messages(campaign_ids)
    if start is None:
        return messages.filter(**{f"{column}__isnull": False})
    return messages.filter(_in(column, start, end))


def campaign_replied_messages(
    *, start: datetime | None = None, end: datetime | None = None, campaign_ids=None
):
    """The campaign messages `campaign_replies` counts the contacts of (the campaign page
    lists who replied from these)."""
    return _engaged("replied_at", start, end, campaign_ids)


def campaign_clicked_messages(
    *, start: datetime | None = None, end: datetime | None = None, campaign_ids=None
):
    """The campaign messages `campaign_clicks` counts the contacts of."""
    return _engaged("clicked_at", start, end, campaign_ids)


def campaign_replies(
    *, start: datetime | None = None, end: datetime | None = None, campaign_ids=None
) -> dict[int, int]:
    """Distinct contacts who wrote (reactions and system notes left out) within
    ATTRIBUTION_WINDOW_DAYS after their campaign message was sent (for a day: whose first
    reply came that day)."""
    return _contacts_by_campaign(
        campaign_replied_messages(start=start, end=end, campaign_ids=campaign_ids)
    )


def campaign_clicks(
    *, start: datetime | None = None, end: datetime | None = None, campaign_ids=None
) -> dict[int, int]:
    """Distinct contacts who tapped a button of, or clicked a tracked link in, their campaign
    message within ATTRIBUTION_WINDOW_DAYS after it was sent (link-preview fetchers left out;
    for a day: whose first click came that day)."""
    return _contacts_by_campaign(
        campaign_clicked_messages(start=start, end=end, campaign_ids=campaign_ids)
    )


def campaign_conversions(
    *, start: datetime | None = None, end: datetime | None = None, campaign_ids=None
) -> dict[int, dict[str, Any]]:
    """Per campaign: conversions (events, page views left out), converted (distinct contacts)
    and revenue. A conversion belongs to a campaign when its message was the last touch
    (services.conversions), so it came within ATTRIBUTION_WINDOW_DAYS after the contact's
    campaign message was delivered."""
    rows = conversion_events().filter(attributed_campaign__isnull=False)
    if start is not None:
        rows = rows.filter(occurred_at__gte=start, occurred_at__lt=end)
    if campaign_ids is not None:
        rows = rows.filter(attributed_campaign_id__in=list(campaign_ids))
    return {
        row.pop("attributed_campaign_id"): row
        for row in rows.values("attributed_campaign_id").annotate(
            conversions=Count("pk"),
            converted=Count("contact_id", distinct=True),
            revenue=Sum("value_base", filter=Q(type__in=revenue_types()), default=ZERO),
        )
    }


def campaign_converted_contacts(*, campaign_ids):
    """The contacts `campaign_conversions` counts as converted (a values queryset of ids)."""
    return (
        conversion_events()
        .filter(attributed_campaign_id__in=list(campaign_ids))
        .values("contact_id")
    )


def campaign_figures(
    *, start: datetime | None = None, end: datetime | None = None, campaign_ids=None
) -> dict[int, dict[str, Any]]:
    """Everything CampaignPerformance holds, per campaign with any activity (in the day)."""
    kwargs = {"start": start, "end": end, "campaign_ids": campaign_ids}
    statuses = campaign_status_figures(**kwargs)
    replies = campaign_replies(**kwargs)
    clicks = campaign_clicks(**kwargs)
    conversions = campaign_conversions(**kwargs)
    ids = set(statuses) | set(replies) | set(clicks) | set(conversions)
    info = campaigns_info(ids)
    out = {}
    for campaign_id in ids:
        if campaign_id not in info:
            continue
        row = statuses.get(campaign_id) or {
            "targeted": 0, "sent": 0, "delivered": 0, "read": 0, "failed": 0,
            "cost": ZERO, "errors": {}, "hourly_sent": [0] * 24,
        }  # fmt: skip
        money = conversions.get(campaign_id, {})
        cost = row.pop("cost").quantize(Decimal("0.0001"))
        revenue = Decimal(money.get("revenue") or ZERO).quantize(Decimal("0.01"))
        if start is None:
            row["hourly_sent"] = []
        out[campaign_id] = {
            **row,
            "replied": replies.get(campaign_id, 0),
            "clicked": clicks.get(campaign_id, 0),
            "converted": money.get("converted", 0),
            "conversions": money.get("conversions", 0),
            "revenue": revenue,
            "cost": cost,
            "roi": roi(revenue, cost),
            "channel_id": info[campaign_id]["channel_id"],
        }
    return out


# --- Buttons and content --------------------------------------------------------------------------

DELAY_EDGES = ((60, "under_1m"), (300, "under_5m"), (3600, "under_1h"), (86400, "under_1d"))


def button_figures(start: datetime, end: datetime) -> dict[str, dict[str, Any]]:
    clicks = ButtonClick.objects.filter(clicked_at__gte=start, clicked_at__lt=end).order_by()
    buckets: dict[str, Q] = {}
    lower = None
    for edge, name in DELAY_EDGES:
        q = Q(delay_seconds__lt=edge)
        buckets[name] = q if lower is None else q & Q(delay_seconds__gte=lower)
        lower = edge
    buckets["over_1d"] = Q(delay_seconds__gte=lower)
    buckets["unknown"] = Q(delay_seconds__isnull=True)
    out: dict[str, dict[str, Any]] = {}
    for row in clicks.values("label").annotate(
        clicks=Count("pk"),
        contacts=Count("contact_id", distinct=True),
        average_delay_seconds=Avg("delay_seconds"),
        **{f"bucket_{name}": Count("pk", filter=q) for name, q in buckets.items()},
    ):
        label = row.pop("label")
        out[label] = {
            "clicks": row["clicks"],
            "contacts": row["contacts"],
            "average_delay_seconds": row["average_delay_seconds"],
            "delay_buckets": {name: row[f"bucket_{name}"] for name in ButtonDaily.DELAY_BUCKETS},
            "hourly": [0] * 24,
        }
    hours = (
        clicks.annotate(hour=ExtractHour("clicked_at", tzinfo=analytics_tz()))
        .values_list("label", "hour")
        .annotate(n=Count("pk"))
    )
    for label, hour, n in hours:
        if label in out and hour is not None:
            out[label]["hourly"][int(hour)] = n
    return out


def content_item_figures(item_ids) -> dict[int, dict[str, Any]]:

    ids = list(item_ids)
    reached = Q(message__delivered_at__isnull=False) | Q(message__read_at__isnull=False)
    out = {}
    for row in (
        ContentDelivery.objects.filter(content_item_id__in=ids)
        .order_by()
        .values("content_item_id")
        .annotate(
            announced=Count("pk", filter=Q(message__isnull=False)),
            delivered=Count("pk", filter=reached),
            read=Count("pk", filter=Q(message__read_at__isnull=False)),
            unlocked=Count("pk", filter=Q(unlocked_at__isnull=False)),
        )
    ):
        item_id = row.pop("content_item_id")
        out[item_id] = {**row, "link_clicks": 0}
    for item_id, n in (
        LinkClick.objects.filter(link__content_item_id__in=ids, is_bot=False)
        .order_by()
        .values_list("link__content_item_id")
        .annotate(n=Count("pk"))
    ):
        out.setdefault(
            item_id, {"announced": 0, "delivered": 0, "read": 0, "unlocked": 0, "link_clicks": 0}
        )["link_clicks"] = n
    for row in out.values():
        row["delivery_rate"] = _rate(row["delivered"], row["announced"])
        row["unlock_rate"] = _rate(row["unlocked"], row["delivered"])
    return out


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# --- Page views -----------------------------------------------------------------------------------


def page_views(start: datetime, end: datetime):
    """Page views of [start, end): ConversionEvent(type=page_view) by `occurred_at`, found
    through the (type, occurred_at) index."""
    return ConversionEvent.objects.filter(
        type=ConversionType.PAGE_VIEW, occurred_at__gte=start, occurred_at__lt=end
    ).order_by()


def page_view_figures(start: datetime, end: datetime, *, limit: int = 500) -> dict[str, Any]:
    """Views and distinct contacts over [start, end): in all, by page, by the caller's
    `source` label and by local day (a contact counts once per row, so the day rows add up to
    contact-days, not contacts). At most `limit` pages and sources, most viewed first."""

    views = page_views(start, end)
    counts = {"views": Count("pk"), "contacts": Count("contact_id", distinct=True)}
    totals = views.aggregate(**counts)
    pages = list(
        views.values("page_name").annotate(**counts).order_by("-views", "page_name")[:limit]
    )
    sources = list(views.values("source").annotate(**counts).order_by("-views", "source")[:limit])
    days = list(
        views.annotate(day=TruncDate("occurred_at", tzinfo=analytics_tz()))
        .values("day")
        .annotate(**counts)
        .order_by("day")
    )
    return {
        "views": totals["views"],
        "contacts": totals["contacts"],
        "pages": [{"page": r["page_name"], "views": r["views"], "contacts": r["contacts"]}
                  for r in pages],
        "sources": [{"source": r["source"], "views": r["views"], "contacts": r["contacts"]}
                    for r in sources],
        "days": days,
    }  # fmt: skip
