"""A campaign's figures as staff should see them while it runs and just after it finished.

Rollups are at most five minutes old, which is too old for a campaign someone is watching: the
campaign page (`messaging.campaigns.selectors.campaign_progress`) counts its messages live, so
an analytics summary read from rollups alone disagreed with it. Here a *live* campaign's rows
are the rollup rows of the settled days merged with rows computed now for the days since the
last final rollup (`live_since`), through the same definitions the rollup uses
(`analytics.services.figures.campaign_figures`), so the two can never define a figure apart:

* message counts (targeted, sent, delivered, read, failed, failures by code, cost, sends by
  hour) are counted on the day each event happened, so the whole campaign's are the sum of its
  day rows: rollups for the settled days, live reads for the others. The live reads are bounded
  by the live days' rows on the indexed status timestamps and the campaign's own index;
* distinct-contact figures (replied, clicked, converted) cannot be summed over days (a contact
  who clicked on two days is one contact), and neither can conversions and revenue once their
  attribution moves, so a live campaign's are computed now over the whole campaign: its
  messages' `replied_at` and `clicked_at` (`campaign_id` index; messaging.sending.engagement)
  and the conversions attributed to it (`conversion_campaign`).

A campaign is live while it is running or paused, and until the attribution window
(ATTRIBUTION_WINDOW_DAYS, in which replies, clicks and conversions count) after it finished has
passed the first live day; after that nothing it counts changes but through late webhooks,
which the rollup picks up within minutes.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone

from analytics.days import day_bounds, days_between, today
from analytics.db import analytics_queries
from analytics.models import CampaignPerformance, DailySnapshot, RollupDirtyDay
from analytics.services import figures
from messaging.campaigns.models import Campaign, CampaignState

_FIELDS = {
    f.name
    for f in CampaignPerformance._meta.concrete_fields
    if f.name not in {"id", "day", "campaign", "computed_at"}
}
# Counted on the day each event happened: the whole campaign's is the sum of its days.
SUMMED = ("targeted", "sent", "delivered", "read", "failed", "cost")
# Distinct contacts, or money whose attribution may move: computed over the whole campaign.
WHOLE = ("replied", "clicked", "converted", "conversions", "revenue")


def live_since() -> date:
    """The first day read live: today, or the earliest of the last ANALYTICS_ROLLUP_RECENT_DAYS
    whose rollup is not final yet (no pass after its midnight, or marked changed since)."""
    current = today()
    recent = [
        current - timedelta(days=n) for n in range(1, settings.ANALYTICS_ROLLUP_RECENT_DAYS + 1)
    ]
    computed = dict(
        DailySnapshot.objects.filter(channel__isnull=True, day__in=recent).values_list(
            "day", "computed_at"
        )
    )
    dirty = set(RollupDirtyDay.objects.filter(day__in=recent).values_list("day", flat=True))
    first = current
    for day in recent:
        if day in dirty or day not in computed or computed[day] < day_bounds(day)[1]:
            first = min(first, day)
    return first


def campaign_is_live(campaign: Campaign, *, since: date) -> bool:
    """Running or paused, or finished less than the attribution window before the first live
    day (replies, clicks and conversions may still arrive)."""
    if campaign.launched_at is None:
        return False
    if campaign.state in (CampaignState.RUNNING, CampaignState.PAUSED):
        return True
    # A final state without its time (imported, or written by hand) counts from the launch.
    finished = campaign.completed_at or campaign.cancelled_at or campaign.launched_at
    window = timedelta(days=settings.ATTRIBUTION_WINDOW_DAYS)
    return finished >= day_bounds(since)[0] - window


def campaign_rows(
    campaign: Campaign,
) -> tuple[CampaignPerformance | None, list[CampaignPerformance], bool]:
    """(whole-campaign row, day rows oldest first, live?) of a campaign.

    A settled campaign's rows are its rollup rows. A live campaign's are unsaved
    `CampaignPerformance` rows built as the module docstring says; `computed_at` is now.
    """
    days = list(
        CampaignPerformance.objects.filter(campaign=campaign, day__isnull=False).order_by("day")
    )
    since = live_since()
    if not campaign_is_live(campaign, since=since):
        total = CampaignPerformance.objects.filter(campaign=campaign, day__isnull=True).first()
        return total, days, False
    now = timezone.now()
    days = [row for row in days if row.day < since]
    with analytics_queries():
        for day in days_between(since, today()):
            start, end = day_bounds(day)
            values = figures.campaign_figures(start=start, end=end, campaign_ids=[campaign.pk])
            if campaign.pk in values:
                days.append(_row(campaign, day, values[campaign.pk], now))
        whole = _whole(campaign)
    if not days and not any(whole[key] for key in WHOLE):
        return None, [], True
    total = CampaignPerformance(campaign=campaign, day=None, computed_at=now, hourly_sent=[])
    errors: dict[str, int] = {}
    for row in days:
        for key in SUMMED:
            setattr(total, key, getattr(total, key) + getattr(row, key))
        for code, n in (row.errors or {}).items():
            errors[code] = errors.get(code, 0) + n
    total.errors = errors
    for key in WHOLE:
        setattr(total, key, whole[key])
    total.roi = figures.roi(total.revenue, total.cost)
    return total, days, True


def _row(campaign: Campaign, day: date | None, values: dict[str, Any], now) -> CampaignPerformance:
    fields = {k: v for k, v in values.items() if k in _FIELDS}
    return CampaignPerformance(campaign=campaign, day=day, computed_at=now, **fields)


def _whole(campaign: Campaign) -> dict[str, Any]:
    """The whole campaign's distinct-contact figures and attributed money, read now."""
    ids = [campaign.pk]
    money = figures.campaign_conversions(campaign_ids=ids).get(campaign.pk, {})
    return {
        "replied": figures.campaign_replies(campaign_ids=ids).get(campaign.pk, 0),
        "clicked": figures.campaign_clicks(campaign_ids=ids).get(campaign.pk, 0),
        "converted": money.get("converted", 0),
        "conversions": money.get("conversions", 0),
        "revenue": Decimal(money.get("revenue") or 0).quantize(Decimal("0.01")),
    }
