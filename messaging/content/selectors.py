"""Reads over content items, with their joins decided here."""

from django.db.models import QuerySet

from messaging.models import ContentItem, ContentState


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
