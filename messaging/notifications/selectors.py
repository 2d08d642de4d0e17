"""Reads over notifications and notification preferences."""

from typing import Any

from django.db.models import Case, Count, Q, QuerySet, Value, When

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


# --- Statistics ----------------------------------------------------------------------------------

# Where each notification of a period stands now, one bucket each (they add up to `total`):
# the six integrators poll (`queued`, `sent`, `delivered`, `read`, `failed`, and `retried`,
# which overlaps the others) and the three that complete the picture.
STATISTICS_BUCKETS: dict[str, tuple[int, ...]] = {
    "queued": (Status.QUEUED, Status.PAUSED, Status.SENDING),
    "sent": (Status.ACCEPTED, Status.SENT),
    "delivered": (Status.DELIVERED,),
    "read": (Status.READ,),
    "failed": (Status.FAILED,),
    "unknown": (Status.UNKNOWN,),
    "cancelled": (Status.CANCELLED,),
}
STATISTICS_KEYS = [*STATISTICS_BUCKETS, "refused", "retried", "total"]
_BUCKET_OF = {status: name for name, statuses in STATISTICS_BUCKETS.items() for status in statuses}


def notification_statistics(
    *, start, end, event_type: NotificationType | None = None
) -> dict[str, dict[str, int]]:
    """Counts of the notifications requested in `[start, end)`, per event type code.

    Each notification (each attempt: a resend counts again) is in one status bucket, its
    message's status now (`queued` includes paused and sending; `sent` includes accepted,
    i.e. WhatsApp took it), or `refused` when the rules said no. `retried` counts those
    that took more than one try: a resend (attempt 2 and later) or a message the send path
    had to try again (a temporary provider error). Every type is listed, zeros included.
    Two grouped queries, whatever the volume (the `created_at` index bounds the scan).
    """
    types = NotificationType.objects.order_by("code")
    if event_type is not None:
        types = types.filter(pk=event_type.pk)
    counts = {
        code: dict.fromkeys(STATISTICS_KEYS, 0) for code in types.values_list("code", flat=True)
    }
    period = Notification.objects.filter(created_at__gte=start, created_at__lt=end)
    if event_type is not None:
        period = period.filter(event_type=event_type)
    refused = Q(message__isnull=True) | ~Q(refusal_code="")
    rows = (
        period.annotate(
            refused=Case(When(refused, then=Value(True)), default=Value(False)),
            retried=Case(
                When(Q(attempt__gt=1) | Q(message__attempts__gt=1), then=Value(True)),
                default=Value(False),
            ),
        )
        .values("event_type__code", "message__status", "refused", "retried")
        .order_by()
        .annotate(n=Count("id"))
    )
    for row in rows:
        bucket = counts.setdefault(row["event_type__code"], dict.fromkeys(STATISTICS_KEYS, 0))
        name = "refused" if row["refused"] else _BUCKET_OF.get(row["message__status"], "queued")
        bucket[name] += row["n"]
        bucket["total"] += row["n"]
        if row["retried"]:
            bucket["retried"] += row["n"]
    return counts
