"""Reads over content items, with their joins decided here: lists, readiness and figures."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Min, Q, QuerySet

from core.ssrf import UnsafeUrl, url_check_public
from messaging.content.models import (
    ContentDelivery,
    ContentItem,
    ContentState,
    ContentTarget,
    ContentUnlock,
    UnlockKind,
)
from messaging.content.rules import (
    ContentNotReady,
    header_format,
    quick_reply_buttons,
    unlock_buttons_clean,
)
from messaging.links.models import LinkClick
from messaging.sending.models import Status
from messaging.sending.policy import send_kind, send_policy_check_number, send_policy_check_template


def content_item_list() -> QuerySet[ContentItem]:
    return ContentItem.objects.select_related(
        "template", "template__channel", "target_segment", "created_by", "reviewed_by"
    ).order_by("-created_at", "-id")


def content_review_queue() -> QuerySet[ContentItem]:
    """Items waiting for a reviewer, oldest submission first."""
    return (
        content_item_list()
        .filter(state=ContentState.PENDING_REVIEW)
        .select_related("submitted_by")
        .order_by("submitted_at", "id")
    )


def content_problems(item: ContentItem) -> list[str]:
    """What stops `item` from being submitted, approved or distributed (empty: ready)."""
    problems = []
    if not item.title.strip() or not item.body.strip():
        problems.append("Give a title and a body.")
    if item.send_on is None:
        problems.append("Choose the date it goes out.")
    if item.target == ContentTarget.TIER and not item.target_tier:
        problems.append("Choose the tier.")
    if item.target == ContentTarget.REGION and not item.target_region.strip():
        problems.append("Name the region.")
    if item.target == ContentTarget.SEGMENT and not item.target_segment_id:
        problems.append("Choose the segment.")
    if item.media_url:
        try:
            url_check_public(item.media_url)
        except UnsafeUrl as exc:
            problems.append(f"Media link refused: {exc.message}")
    template = item.template
    if template is None:
        problems.append("Choose the template that announces it.")
        return problems
    unsendable = send_policy_check_template(template=template)
    if unsendable is not None:
        problems.append(unsendable.message)
    # The number's state only: its budget is weighed per send when distribution queues.
    number = send_policy_check_number(channel=template.channel, kind=send_kind(template), count=0)
    if number is not None:
        problems.append(number.message)
    buttons = quick_reply_buttons(template)
    try:
        unlock = unlock_buttons_clean(item.unlock_buttons)
    except ContentNotReady as exc:
        unlock = []
        problems.append(exc.message)
    if not buttons:
        problems.append(f"Template {template.name} has no quick-reply buttons to unlock with.")
    elif not unlock:
        problems.append("Choose what at least one button unlocks.")
    elif len(unlock) > len(buttons):
        problems.append(
            f"Template {template.name} has {len(buttons)} quick-reply button(s), not {len(unlock)}."
        )
    if header_format(template) in {"IMAGE", "VIDEO", "DOCUMENT"} and not item.media_url:
        problems.append(f"Template {template.name} shows media in its header: add a media link.")
    named = (template.parameter_format or "") == "named"
    if not named and len((template.parameters or {}).get("body") or []) > 4:
        problems.append(f"Template {template.name} has more body parameters than Parley fills.")
    if (template.parameters or {}).get("buttons"):
        problems.append(f"Template {template.name} has URL buttons with parameters.")
    return problems


def content_stats(item: ContentItem) -> dict[str, Any]:
    """Delivery and unlock figures of one item in three queries."""
    reached = [Status.DELIVERED, Status.READ]
    figures = ContentDelivery.objects.filter(content_item=item).aggregate(
        total=Count("pk"),
        delivered=Count("pk", filter=Q(message__status__in=reached)),
        read=Count("pk", filter=Q(message__status=Status.READ)),
        failed=Count("pk", filter=Q(message__status=Status.FAILED)),
        unlocked=Count("pk", filter=Q(unlocked_at__isnull=False)),
    )
    by_kind = dict(
        ContentUnlock.objects.filter(delivery__content_item=item)
        .values_list("kind")
        .annotate(n=Count("pk"))
        .order_by()
    )
    clicks = LinkClick.objects.filter(link__content_item=item, is_bot=False).aggregate(
        clicks=Count("pk"), clickers=Count("link__contact", distinct=True)
    )
    total = figures["total"]

    def rate(n: int) -> float:
        return round(100 * n / total, 1) if total else 0.0

    return {
        **figures,
        **clicks,
        "delivered_rate": rate(figures["delivered"]),
        "read_rate": rate(figures["read"]),
        "unlocked_rate": rate(figures["unlocked"]),
        "unlocks_by_kind": [
            {"kind": kind, "label": UnlockKind(kind).label, "count": by_kind[kind]}
            for kind in UnlockKind.values
            if kind in by_kind
        ],
    }


def content_review_summary(*, limit: int = 5) -> dict[str, Any]:
    """The review queue at a glance: how many wait, since when, and the first few (oldest
    submission first). Two queries."""
    queue = content_review_queue()
    totals = queue.order_by().aggregate(count=Count("pk"), oldest=Min("submitted_at"))
    return {
        "count": totals["count"],
        "oldest_submitted_at": totals["oldest"],
        "items": list(queue[:limit]),
    }
