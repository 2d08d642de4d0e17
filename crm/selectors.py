"""Reads over crm: querysets with their joins and scoping decided here, not in views."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from django.db import IntegrityError
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from core.errors import DomainError
from crm.extensions import MessageRow, contact_messaging, personal_data_sections
from crm.identity import erased_opt_out_find  # noqa: F401 (the rule's home; public here too)
from crm.models import (  # noqa: F401 (public here too)
    WINDOW,
    Advisor,
    AttributeDefinition,
    ConsentEvent,
    Contact,
    ContactNumberChange,
    ImportJob,
    ImportRowError,
    Segment,
    StaffProfile,
    Tag,
)
from crm.segment_filters import segment_filter_q
from crm.services.contacts import (
    InvalidPhone,
    contact_identity_record,
    phone_normalize,
    phone_spelled,
)


class ContactUnresolved(DomainError):
    """A request names no contact (`contact_unknown`), or two (`contact_ambiguous`)."""

    code = "contact_unknown"


# Our ids are positive 64-bit integers; anything else names nobody (and must not reach SQL).
_MAX_ID = 2**63 - 1


def contact_resolve(
    *,
    phone: str | None = None,
    wa_id: str | None = None,
    bsuid: str | None = None,
    contact_id: int | None = None,
    create: bool = False,
    profile_name: str = "",
) -> Contact:
    """The contact a request names, however it names them: a phone in any format (read as
    `phone_normalize` reads it), a WhatsApp id, a BSUID (users who hide their number) or our id.

    Every API body, form and webhook that names a contact comes through here, so they agree on
    what matches and on the errors: InvalidPhone for a phone that cannot be one, and
    ContactUnresolved when nobody matches or when two identifiers match two different contacts
    (a body naming one person by id and another by phone is a mistake to report, not to guess).

    A WhatsApp id is matched as such, then as the phone it spells, because contacts imported by
    phone have no wa_id until they write.

    `create=True` is for a WhatsApp identity (an inbound message, an API send to a new BSUID):
    the identifiers are one person's, so the first match wins in the order wa_id, phone, BSUID;
    the identifiers it lacks are filled in, and nobody matching means a new contact, all
    written by `crm.services.contact_identity_record`. Safe under concurrent webhooks.
    """
    if create and contact_id is not None:
        raise ValueError("create needs a phone, wa_id or BSUID, not a contact id")
    wa_id = (wa_id or "").strip() or None
    bsuid = (bsuid or "").strip() or None
    spelled = phone_spelled(wa_id) if wa_id else None
    if phone is not None:
        phone = phone_normalize(phone)
    names = _names(contact_id=contact_id, wa_id=wa_id, spelled=spelled, phone=phone, bsuid=bsuid)
    phone = phone or spelled
    if not names:
        raise ContactUnresolved("Name the contact: a phone, a WhatsApp id, a BSUID or an id.")
    for attempt in range(2):
        contact = _contact_named(names, first_wins=create)
        if not create:
            if contact is None:
                raise _unknown(contact_id=contact_id, wa_id=wa_id, phone=phone, bsuid=bsuid)
            return contact
        try:
            return contact_identity_record(
                contact=contact, wa_id=wa_id, phone=phone, bsuid=bsuid, profile_name=profile_name
            )
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def contact_number_left(*, wa_id: str, before: datetime) -> Contact | None:
    """The contact that moved away from WhatsApp id `wa_id` after `before`, if any.

    A message the user sent from their old number before changing it may reach us after the
    change notice (webhooks are not ordered): it is still theirs. One sent later is not; the
    old number may be someone else's by then.
    """
    change = (
        ContactNumberChange.objects.filter(old_wa_id=wa_id, changed_at__gt=before)
        .select_related("contact")
        .order_by("changed_at", "pk")
        .first()
    )
    return change.contact if change is not None else None


def contacts_resolve(*, phones: Sequence[str]) -> list[Contact | DomainError]:
    """`contact_resolve(phone=...)` for many phones in one query (bulk sends): item i is the
    contact `phones[i]` names, or the error `contact_resolve` would have raised for it."""
    normalized: list[str | DomainError] = []
    for raw in phones:
        try:
            normalized.append(phone_normalize(raw))
        except InvalidPhone as exc:
            normalized.append(exc)
    wanted = {item for item in normalized if isinstance(item, str)}
    found = {c.phone: c for c in Contact.objects.filter(phone__in=wanted)} if wanted else {}
    return [
        item if isinstance(item, DomainError) else found.get(item) or _unknown(phone=item)
        for item in normalized
    ]


# (field, value) pairs; each identifier the caller gave is one list, tried in order.
_Name = list[tuple[str, object]]


def _names(*, contact_id, wa_id, spelled, phone, bsuid) -> list[_Name]:
    names: list[_Name] = []
    if contact_id is not None:
        try:
            pk = int(contact_id)
        except (TypeError, ValueError):
            pk = 0
        names.append([("pk", pk if 0 < pk <= _MAX_ID else None)])
    if wa_id:
        names.append([("wa_id", wa_id), ("phone", spelled)])
    if phone:
        names.append([("phone", phone)])
    if bsuid:
        names.append([("bsuid", bsuid)])
    return names


def _contact_named(names: list[_Name], *, first_wins: bool) -> Contact | None:
    """The contact the names match, in ONE query: the first match when `first_wins`, else the
    only one (ContactUnresolved when they match different contacts)."""
    pairs = [(field, value) for name in names for field, value in name if value is not None]
    if not pairs:
        return None
    query = Q()
    for field, value in pairs:
        query |= Q(**{field: value})
    candidates = list(Contact.objects.filter(query))

    def first(name: _Name) -> Contact | None:
        for field, value in name:
            for contact in candidates:
                if value is not None and getattr(contact, field) == value:
                    return contact
        return None

    if first_wins:
        return next((c for c in map(first, names) if c is not None), None)
    matched = {c.pk: c for c in map(first, names) if c is not None}
    if len(matched) > 1:
        ids = sorted(matched)
        raise ContactUnresolved(
            f"The identifiers given name different contacts ({', '.join(map(str, ids))}).",
            code="contact_ambiguous", details={"contacts": ids},
        )  # fmt: skip
    return next(iter(matched.values()), None)


def _unknown(*, contact_id=None, wa_id=None, phone=None, bsuid=None) -> ContactUnresolved:
    named = {"contact": contact_id, "wa_id": wa_id, "phone": phone, "bsuid": bsuid}
    named = {key: value for key, value in named.items() if value is not None}
    words = {"contact": "id", "wa_id": "WhatsApp id", "phone": "phone", "bsuid": "BSUID"}
    described = " or ".join(f"{words[key]} {value}" for key, value in named.items())
    # An id can only name a contact that exists; the other identifiers may be new people.
    hint = "." if "contact" in named else ": create the contact first."
    return ContactUnresolved(f"No contact with {described}{hint}", details=named)


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


def contact_number_history(contact: Contact) -> QuerySet[ContactNumberChange]:
    """The numbers the contact had before, newest change first."""
    return contact.number_changes.order_by("-changed_at", "-id")


def contact_consent_history(contact: Contact, *, limit: int = 50) -> QuerySet[ConsentEvent]:
    return contact.consent_events.select_related("actor").order_by("-created_at", "-id")[:limit]


def contact_recent_messages(contact: Contact, *, limit: int = 30) -> list[MessageRow]:
    """The latest messages with this contact, newest first (empty without messaging)."""
    return contact_messaging().recent_messages(contact, limit=limit)


def contact_conversation_count(contact: Contact) -> int:
    return contact_messaging().conversation_count(contact)


def tag_list() -> QuerySet[Tag]:
    return Tag.objects.annotate(contact_count=Count("contacts")).order_by("name")


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


# --- The right of access ----------------------------------------------------------------------

EXPORT_FORMAT = "parley.contact-export/1"
_IMPORT_NOTE = re.compile(r"import job #(\d+)")


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def contact_data_export(contact: Contact) -> dict:
    """Everything Parley holds about one person, JSON-ready: the contact, its tags and
    attributes, consent history, former numbers, advisor profile, the imports that set its
    consent, and what other apps registered (`crm.extensions.personal_data_register`: messages
    with their statuses, conversations and notes, notifications, link clicks, conversions...).
    """
    contact = Contact.objects.select_related("advisor").prefetch_related("tags").get(pk=contact.pk)
    consent = [
        {
            "at": _iso(e.created_at), "previous": e.previous, "consent": e.consent,
            "source": e.source, "actor": e.actor.get_username() if e.actor else None,
            "note": e.note,
        }
        for e in contact.consent_events.select_related("actor").order_by("created_at", "id")
    ]  # fmt: skip
    job_ids = sorted({int(m) for e in consent for m in _IMPORT_NOTE.findall(e["note"])})
    imports = [
        {
            "id": job.pk, "file": job.original_name, "created_at": _iso(job.created_at),
            "finished_at": _iso(job.finished_at), "advisors": job.as_advisors,
        }
        for job in ImportJob.objects.filter(pk__in=job_ids).order_by("pk")
    ]  # fmt: skip
    advisor = getattr(contact, "advisor", None)
    data: dict = {
        "format": EXPORT_FORMAT,
        "exported_at": _iso(timezone.now()),
        "contact": {
            "id": contact.pk, "phone": contact.phone, "wa_id": contact.wa_id,
            "bsuid": contact.bsuid, "name": contact.name, "profile_name": contact.profile_name,
            "language": contact.language, "consent": contact.consent,
            "consent_updated_at": _iso(contact.consent_updated_at),
            "blocked": contact.blocked, "undeliverable": contact.undeliverable,
            "undeliverable_reason": contact.undeliverable_reason,
            "last_inbound_at": _iso(contact.last_inbound_at),
            "last_outbound_at": _iso(contact.last_outbound_at),
            "created_at": _iso(contact.created_at), "erased_at": _iso(contact.erased_at),
        },
        "tags": [t.name for t in contact.tags.all()],
        "attributes": contact.attributes or {},
        "consent_history": consent,
        "number_changes": [
            {
                "at": _iso(c.changed_at), "old_phone": c.old_phone, "old_wa_id": c.old_wa_id,
                "new_phone": c.new_phone, "new_wa_id": c.new_wa_id, "source": c.source,
            }
            for c in contact_number_history(contact)
        ],
        "advisor": None if advisor is None else {
            "firm": advisor.firm, "region": advisor.region, "tier": advisor.tier,
            "active": advisor.is_active, "content_preferences": advisor.content_preferences,
            "onboarded_on": _iso(advisor.onboarded_on),
        },
        "imports": imports,
    }  # fmt: skip
    for section in personal_data_sections():
        data.update(section.export(contact))
    return data


def staff_profile_for(user) -> StaffProfile | None:
    """The staff member's own details (None until they save some)."""
    if not getattr(user, "is_authenticated", False):
        return None
    return StaffProfile.objects.filter(user=user).first()


def attribute_choices() -> list[tuple[str, str]]:
    """(key, label) of every custom attribute a contact may carry, by key."""
    return [(d.key, d.label or d.key) for d in AttributeDefinition.objects.order_by("key")]
