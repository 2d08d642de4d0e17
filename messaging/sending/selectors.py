"""Reads over messaging, with their joins decided here."""

from django.db.models import QuerySet

from messaging.models import Message


def message_list() -> QuerySet[Message]:
    return Message.objects.select_related("channel", "contact").order_by("-created_at", "-id")


def campaign_list():
    from messaging.models import Campaign

    return (
        Campaign.objects.select_related("channel", "template", "segment")
        .prefetch_related("tags")
        .order_by("-created_at")
    )
