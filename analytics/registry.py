"""What analytics adds to the operations centre: the rollup job and board sections."""

from __future__ import annotations

from django.db.models import Count, Q

from analytics.ops.board import BoardDay, BoardRow, board_register
from analytics.ops.builtins import _url
from analytics.ops.jobs import JobArgument, JobContext, job_register
from analytics.services.rollups import analytics_rollup, rollup_since
from messaging.campaigns.selectors import campaigns_paused_for_health, campaigns_waiting_for_budget
from messaging.channels.health import health_severity
from messaging.channels.selectors import channel_health, channels_active, channels_with_health
from messaging.models import (
    Campaign,
    CampaignState,
    ContentDelivery,
    ContentItem,
    ContentState,
    ContentTransition,
    Direction,
    Message,
    Notification,
)

ROLLUP_JOB = "rollup_analytics"


def rollup_job(
    ctx: JobContext, *, day=None, since=None, mode=None, customers=None, dry_run=None
) -> dict:

    days = [day] if day else (rollup_since(since) if since else None)
    result = analytics_rollup(
        days=days,
        mode=mode or "incremental",
        customers=customers,
        dry_run=bool(dry_run),
        log=ctx.log,
        progress=ctx.progress,
    )
    return result.counts()


def register_rollup_job() -> None:
    job_register(
        ROLLUP_JOB,
        title="Roll up analytics",
        fn=rollup_job,
        permission="analytics.change_dailysnapshot",
        arguments=[
            JobArgument("day", kind="date", help="Recompute only this day"),
            JobArgument("since", kind="date", help="Recompute every day from this one to today"),
            JobArgument(
                "mode",
                kind="choice",
                choices=("incremental", "nightly"),
                help="incremental (default): today and the days that changed; nightly: also "
                "every recent day and the customer metrics",
            ),
            JobArgument("customers", kind="bool", help="Also rebuild the customer metrics"),
            JobArgument("dry_run", kind="bool", help="Compute without writing"),
        ],
        description="Recompute the daily snapshots, campaign, button and content figures and "
        "the customer metrics (every 5 minutes for today, nightly for the recent days).",
    )


# --- Board sections ----------------------------------------------------------------------------


def campaigns_today(day: BoardDay) -> list[BoardRow]:

    running = Campaign.objects.filter(state=CampaignState.RUNNING).count()
    active = (
        Message.objects.filter(
            campaign__isnull=False,
            direction=Direction.OUTBOUND,
            created_at__gte=day.start,
            created_at__lt=day.end,
        )
        .order_by()
        .values("campaign_id")
        .distinct()
        .count()
    )
    launched = Campaign.objects.filter(launched_at__gte=day.start, launched_at__lt=day.end).count()
    return [
        BoardRow("Running now", running, url=_url("analytics:campaigns")),
        BoardRow("Launched today", launched),
        BoardRow("With sends today", active),
    ]


def notifications_today(day: BoardDay) -> list[BoardRow]:

    counts = Notification.objects.filter(
        created_at__gte=day.start, created_at__lt=day.end
    ).aggregate(
        requested=Count("pk"),
        sent=Count("pk", filter=Q(message__isnull=False)),
        refused=Count("pk", filter=Q(message__isnull=True)),
    )
    return [
        BoardRow("Requested", counts["requested"], url=_url("messaging:notification-list")),
        BoardRow("Sent", counts["sent"]),
        BoardRow("Refused", counts["refused"], state="warn" if counts["refused"] else ""),
    ]


def content_today(day: BoardDay) -> list[BoardRow]:

    created = ContentItem.objects.filter(created_at__gte=day.start, created_at__lt=day.end).count()
    pending = ContentItem.objects.filter(state=ContentState.PENDING_REVIEW).count()
    approved = ContentTransition.objects.filter(
        to_state=ContentState.APPROVED, created_at__gte=day.start, created_at__lt=day.end
    ).count()
    distributed = ContentItem.objects.filter(
        distributed_at__gte=day.start, distributed_at__lt=day.end
    ).count()
    advisors = (
        ContentDelivery.objects.filter(
            created_at__gte=day.start, created_at__lt=day.end, message__isnull=False
        )
        .values("contact_id")
        .distinct()
        .count()
    )
    return [
        BoardRow("Generated", created, url=_url("messaging:content-list")),
        BoardRow(
            "Pending review",
            pending,
            state="warn" if pending else "",
            url=_url("messaging:content-review"),
        ),
        BoardRow("Approved", approved),
        BoardRow("Distributed", distributed),
        BoardRow("Advisors served", advisors),
    ]


def numbers_today(day: BoardDay) -> list[BoardRow]:
    """Each active number's health and budget, and the campaigns its health stopped."""
    rows = []
    for channel in channels_with_health(channels_active()):
        health = channel_health(channel)
        budget = (
            "no limit"
            if health.limit is None
            else f"{health.budget_left:,} of {health.limit:,} left"
        )
        value = f"{health.quality}, {health.tier or 'tier unknown'}, {health.status}; {budget}"
        if health.status_detail:
            value += f" ({health.status_detail})"
        severity = health_severity(quality=health.quality, status=health.status)
        if health.budget_left == 0 and severity == "ok":
            severity = "warn"
        rows.append(
            BoardRow(
                channel.name,
                value,
                state="" if severity == "ok" else severity,
                url=_url("admin:messaging_channel_change", "", channel.pk),
            )
        )
    paused = campaigns_paused_for_health(start=day.start, end=day.end).count()
    waiting = campaigns_waiting_for_budget().count()
    rows.append(
        BoardRow(
            "Marketing paused by number health",
            paused,
            state="down" if paused else "",
            url=_url("messaging:campaign-list"),
        )
    )
    rows.append(BoardRow("Waiting for messaging budget", waiting, state="warn" if waiting else ""))
    return rows


def register_board_sections() -> None:
    board_register("numbers", numbers_today, title="Numbers", order=35)
    board_register("campaigns", campaigns_today, title="Campaigns", order=40)
    board_register("notifications", notifications_today, title="Notifications", order=45)
    board_register("content", content_today, title="Content for advisors", order=50)
