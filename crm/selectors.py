"""Reads over crm: querysets with their joins and scoping decided here, not in views."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from crm.extensions import MessageRow, contact_messaging
from crm.models import (  # noqa: F401 (public here too)
    WINDOW,
    Advisor,
    AttributeDefinition,
    ConsentEvent,
    Contact,
    ImportJob,
    ImportRowError,
    Segment,
    Tag,
    window_expires_at,
)
from crm.segment_filters import segment_filter_q


def contact_find_by_wa_id(wa_id: str) -> Contact | None:
    return Contact.objects.filter(wa_id=wa_id).first()


def contact_list() -> QuerySet[Contact]:
    return Contact.objects.prefetch_related("tags")


def contact_search(
    *,
    search: str = "",
    tag: str = "",
    consent: str = "",
    blocked: bool | None = None,
    advisor: bool | None = None,
    segment: Segment | None = None,
) -> QuerySet[Contact]:
    """Contacts for the staff list, the export and the API: filters combine with AND."""
    queryset = Contact.objects.all()
    if segment is not None:
        queryset = queryset.filter(segment_filter_q(segment.filter))
    if search:
        term = search.strip()
        q = Q(name__icontains=term) | Q(profile_name__icontains=term) | Q(phone__contains=term)
        digits = "".join(ch for ch in term if ch.isdigit())
        if digits and digits != term:
            q |= Q(phone__contains=digits)
        queryset = queryset.filter(q)
    if tag:
        queryset = queryset.filter(tags__name=tag.strip().lower())
    if consent:
        queryset = queryset.filter(consent=consent)
    if blocked is not None:
        queryset = queryset.filter(blocked=blocked)
    if advisor is not None:
        queryset = queryset.filter(advisor__isnull=not advisor)
    return (
        queryset.select_related("advisor").prefetch_related("tags").order_by("-created_at", "-id")
    )


def contact_detail(pk: int) -> Contact:
    return Contact.objects.select_related("advisor").prefetch_related("tags").get(pk=pk)


def contact_consent_history(contact: Contact, *, limit: int = 50) -> QuerySet[ConsentEvent]:
    return contact.consent_events.select_related("actor").order_by("-created_at", "-id")[:limit]


def contact_recent_messages(contact: Contact, *, limit: int = 30) -> list[MessageRow]:
    """The latest messages with this contact, newest first (empty without messaging)."""
    return contact_messaging().recent_messages(contact, limit=limit)


def contact_conversation_count(contact: Contact) -> int:
    return contact_messaging().conversation_count(contact)


def tag_list() -> QuerySet[Tag]:
    return Tag.objects.annotate(contact_count=Count("contacts")).order_by("name")


def attribute_definition_list() -> QuerySet[AttributeDefinition]:
    return AttributeDefinition.objects.order_by("key")


# --- Segments -----------------------------------------------------------------------------


def segment_queryset(segment: Segment) -> QuerySet[Contact]:
    """The contacts a segment matches: ONE queryset (EXISTS subqueries, no Python loops)."""
    return Contact.objects.filter(segment_filter_q(segment.filter or {}))


def segment_contacts(segment: Segment) -> QuerySet[Contact]:
    """What campaigns iterate: the segment's contacts in a stable order (by id).

    Only the segment's own filter applies: consent, blocking and deliverability are the
    send path's rules and stay there.
    """
    return segment_queryset(segment).order_by("pk")


def segment_count(segment: Segment) -> int:
    return segment_queryset(segment).count()


def segment_counts(segments) -> dict[int, int]:
    """Live counts of many segments in ONE query (a filtered COUNT per segment)."""
    segments = list(segments)
    if not segments:
        return {}
    aggregates = {
        f"s{s.pk}": Count("pk", filter=segment_filter_q(s.filter or {})) for s in segments
    }
    row = Contact.objects.aggregate(**aggregates)
    return {s.pk: row[f"s{s.pk}"] for s in segments}


def segment_list() -> QuerySet[Segment]:
    return Segment.objects.select_related("created_by").order_by("name")


# --- Advisors -------------------------------------------------------------------------------


def advisor_search(
    *, search: str = "", region: str = "", tier: str = "", active: bool | None = None
) -> QuerySet[Advisor]:
    queryset = Advisor.objects.select_related("contact")
    if search:
        term = search.strip()
        queryset = queryset.filter(
            Q(contact__name__icontains=term)
            | Q(contact__phone__contains=term)
            | Q(firm__icontains=term)
        )
    if region:
        queryset = queryset.filter(region=region)
    if tier:
        queryset = queryset.filter(tier=tier)
    if active is not None:
        queryset = queryset.filter(is_active=active)
    return queryset.order_by("contact__name", "pk")


def advisor_regions() -> list[str]:
    return list(
        Advisor.objects.exclude(region="")
        .values_list("region", flat=True)
        .distinct()
        .order_by("region")
    )


def advisor_detail(pk: int) -> Advisor:
    return Advisor.objects.select_related("contact", "disabled_by").get(pk=pk)


def advisor_received(advisor: Advisor, *, limit: int = 50) -> list[MessageRow]:
    """Messages the advisor was sent (content, campaigns, replies), newest first."""
    return contact_messaging().sent_messages(advisor.contact, limit=limit)


def advisor_clicked(advisor: Advisor, *, limit: int = 50) -> list[MessageRow]:
    """Button taps and interactive replies from the advisor, newest first."""
    return contact_messaging().clicks(advisor.contact, limit=limit)


def advisor_activity_counts(advisor: Advisor) -> dict[str, int]:
    activity = contact_messaging().activity(advisor.contact)
    return {"received": activity.received, "clicked": activity.clicked}


# --- Imports --------------------------------------------------------------------------------


def import_job_list() -> QuerySet[ImportJob]:
    return ImportJob.objects.select_related("created_by").order_by("-created_at", "-id")


def import_job_errors(job: ImportJob) -> QuerySet[ImportRowError]:
    return job.row_errors.order_by("line", "id")


def channel_choices() -> list[tuple[int, str]]:
    """(id, label) of the channels a segment can filter by (empty without messaging)."""
    return contact_messaging().channel_choices()
