"""Reads over messaging, with their joins decided here."""

from django.db.models import QuerySet

from messaging.sending.models import Message


def message_list() -> QuerySet[Message]:
    return Message.objects.select_related(
        "channel", "contact", "resent_from", "resent_as"
    ).order_by("-created_at", "-id")
