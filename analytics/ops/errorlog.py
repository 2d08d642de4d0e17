"""Selectors of the error log: failed messages, failed webhooks, failed jobs, application errors.

Every list is ordered newest first, bounded by an index where the table is large (messages by
(status, created_at), webhooks by received_at) and paginated by the view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from analytics.ops.models import AppError, JobRun, JobState
from messaging.models import Channel, Direction, Message, Status, WebhookEvent, WebhookState

KINDS = {
    "messages": "Failed messages",
    "webhooks": "Webhook processing",
    "jobs": "Job failures",
    "app": "Application errors",
}


@dataclass(frozen=True)
class ErrorFilters:
    q: str = ""
    date_from: date | None = None
    date_to: date | None = None
    code: int | None = None
    channel_id: int | None = None
    name: str = ""
    logger: str = ""
    level: str = ""

    def start(self) -> datetime | None:
        if self.date_from is None:
            return None
        return timezone.make_aware(datetime.combine(self.date_from, time.min))

    def end(self) -> datetime | None:
        if self.date_to is None:
            return None
        return timezone.make_aware(datetime.combine(self.date_to, time.min)) + timedelta(days=1)


def failed_messages(filters: ErrorFilters) -> QuerySet:
    rows = Message.objects.filter(status=Status.FAILED, direction=Direction.OUTBOUND)
    start, end = filters.start(), filters.end()
    if start is not None:
        # created_at (indexed) bounds the scan; failures come within hours of creation.
        rows = rows.filter(created_at__gte=start - timedelta(days=2), failed_at__gte=start)
    if end is not None:
        rows = rows.filter(created_at__lt=end, failed_at__lt=end)
    if filters.code is not None:
        rows = rows.filter(error_code=filters.code)
    if filters.channel_id is not None:
        rows = rows.filter(channel_id=filters.channel_id)
    if filters.q:
        rows = rows.filter(
            Q(error_title__icontains=filters.q)
            | Q(error_detail__icontains=filters.q)
            | Q(contact__phone__icontains=filters.q)
            | Q(contact__name__icontains=filters.q)
            | Q(wamid=filters.q)
        )
    return rows.select_related("contact", "channel").order_by("-created_at", "-id")


def failed_message_codes(rows: QuerySet, limit: int = 12) -> list[dict]:
    """The most frequent error codes among `rows`."""
    return list(rows.order_by().values("error_code").annotate(n=Count("id")).order_by("-n")[:limit])


def failed_webhooks(filters: ErrorFilters) -> QuerySet:
    rows = WebhookEvent.objects.filter(state=WebhookState.FAILED)
    start, end = filters.start(), filters.end()
    if start is not None:
        rows = rows.filter(received_at__gte=start)
    if end is not None:
        rows = rows.filter(received_at__lt=end)
    if filters.q:
        rows = rows.filter(Q(error__icontains=filters.q) | Q(body__contains=filters.q))
    return rows.defer("body").order_by("-received_at", "-id")


def webhook_event_list() -> QuerySet:
    """Every stored webhook event, body included: the page of one event and its replay."""
    return WebhookEvent.objects.all()


def channel_filter_choices() -> list[tuple[str, str]]:
    """(id, name) of every channel, by name, for the failed-message filter."""
    return [(str(c.pk), str(c)) for c in Channel.objects.order_by("name")]


def failed_jobs(filters: ErrorFilters) -> QuerySet:
    rows = JobRun.objects.filter(state=JobState.FAILED).select_related("started_by")
    start, end = filters.start(), filters.end()
    if start is not None:
        rows = rows.filter(created_at__gte=start)
    if end is not None:
        rows = rows.filter(created_at__lt=end)
    if filters.name:
        rows = rows.filter(name=filters.name)
    if filters.q:
        rows = rows.filter(Q(error__icontains=filters.q) | Q(log__icontains=filters.q))
    return rows.defer("log").order_by("-created_at", "-id")


def app_errors(filters: ErrorFilters) -> QuerySet:
    rows = AppError.objects.all()
    start, end = filters.start(), filters.end()
    if start is not None:
        rows = rows.filter(created_at__gte=start)
    if end is not None:
        rows = rows.filter(created_at__lt=end)
    if filters.logger:
        rows = rows.filter(logger__startswith=filters.logger)
    if filters.level:
        rows = rows.filter(level=filters.level.upper())
    if filters.q:
        rows = rows.filter(
            Q(message__icontains=filters.q)
            | Q(traceback__icontains=filters.q)
            | Q(request_id=filters.q)
            | Q(path__icontains=filters.q)
        )
    return rows.order_by("-created_at", "-id")


def error_summary() -> dict[str, int]:
    """Counts for the tabs: failures in the last day."""
    day_ago = timezone.now() - timedelta(days=1)
    return {
        "messages": Message.objects.filter(
            status=Status.FAILED, direction=Direction.OUTBOUND, created_at__gte=day_ago
        ).count(),
        "webhooks": WebhookEvent.objects.filter(
            state=WebhookState.FAILED, received_at__gte=day_ago
        ).count(),
        "jobs": JobRun.objects.filter(state=JobState.FAILED, created_at__gte=day_ago).count(),
        "app": AppError.objects.filter(created_at__gte=day_ago).count(),
    }
