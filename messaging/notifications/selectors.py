"""Reads over notifications and notification preferences."""

from typing import Any

from django.db.models import Q, QuerySet

from core.errors import DomainError
from crm.models import Contact
from messaging.notifications.models import (
    Notification,
    NotificationPreference,
    NotificationPreferenceEvent,
    NotificationType,
)
from messaging.sending.models import Status

STATUS_CHOICES = ["refused", *[s.name.lower() for s in Status if s != Status.RECEIVED]]


def notification_list() -> QuerySet[Notification]:
    return Notification.objects.select_related("event_type", "contact", "message").order_by(
        "-created_at", "-id"
    )


def notifications_with_status(queryset: QuerySet[Notification], value: str):
    """Filter by the mirrored status: `refused` or a message status (`delivered`, ...)."""
    value = (value or "").strip().lower()
    if value == "refused":
        return queryset.filter(Q(message__isnull=True) | ~Q(refusal_code=""))
    try:
        return queryset.filter(message__status=Status[value.upper()], refusal_code="")
    except KeyError:
        raise DomainError(
            f"Unknown status {value!r}.", code="invalid", details={"status": STATUS_CHOICES}
        ) from None


def notification_search(queryset: QuerySet[Notification], term: str):
    """By reference id, or by phone (digits anywhere in the number)."""
    term = (term or "").strip()
    if not term:
        return queryset
    q = Q(reference_id__icontains=term) | Q(contact__name__icontains=term)
    digits = "".join(ch for ch in term if ch.isdigit())
    if digits:
        q |= Q(contact__phone__contains=digits)
    return queryset.filter(q)


def notification_preference_history(contact, *, limit: int = 50):
    return (
        NotificationPreferenceEvent.objects.filter(contact=contact)
        .select_related("event_type", "actor")
        .order_by("-created_at", "-id")[:limit]
    )


def notification_type_list() -> QuerySet[NotificationType]:
    """Every event type, by name (filters and preference pages)."""
    return NotificationType.objects.order_by("name")


def notification_preferences(contact: Contact) -> list[dict[str, Any]]:
    """Every event type with whether `contact` opted out of it (two queries)."""
    out = set(
        NotificationPreference.objects.filter(contact=contact, opted_out=True).values_list(
            "event_type_id", flat=True
        )
    )
    return [{"event_type": t, "opted_out": t.pk in out} for t in notification_type_list()]
