"""A staff member's own details: the WhatsApp number their campaign tests go to."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.db.models import Q

from core.errors import DomainError
from crm.models import Consent, ConsentSource, Contact, StaffProfile
from crm.services.contacts import consent_set, contact_identity_record, phone_normalize

logger = logging.getLogger(__name__)

TEST_CONSENT_NOTE = "Staff member's own number: agreed to receive campaign tests."


def staff_phone_set(*, user, phone: str, consent: bool = False) -> StaffProfile:
    """Set (or, with an empty `phone`, clear) the staff member's own WhatsApp number.

    The number becomes a contact if it is not one yet (the send path sends to contacts), and
    `consent` (the staff member ticked that they agree to receive tests, marketing included)
    records their opt-in on it, unless the number opted out: a STOP sent from it stands,
    and the send policy will say so at the next test. Raises InvalidPhone for a bad number,
    DomainError when a new number comes without the consent.
    """
    profile, _ = StaffProfile.objects.get_or_create(user=user)
    text = (phone or "").strip()
    if not text:
        if profile.phone:
            profile.phone = ""
            profile.save(update_fields=["phone", "updated_at"])
        return profile
    normalized = phone_normalize(text)
    if not consent:
        message = "Tick that you agree to receive test messages on this number."
        raise DomainError(message, code="consent_required", details={"consent": [message]})
    with transaction.atomic():
        contact = _contact_for(normalized)
        if contact.consent == Consent.UNKNOWN:
            consent_set(
                contact=contact, consent=Consent.OPTED_IN, source=ConsentSource.STAFF,
                actor=user, note=TEST_CONSENT_NOTE,
            )  # fmt: skip
        profile.phone = normalized
        profile.save(update_fields=["phone", "updated_at"])
    logger.info("staff %s set their test number", user.pk)
    return profile


def _contact_for(phone: str) -> Contact:
    """The contact of an E.164 number (by phone, else by the WhatsApp id it spells), created
    when nobody has it."""
    match = Q(phone=phone) | Q(wa_id=phone.lstrip("+"))
    contact = Contact.objects.filter(match).order_by("pk").first()
    if contact is not None:
        return contact
    try:
        with transaction.atomic():
            return contact_identity_record(contact=None, phone=phone)
    except IntegrityError:  # written meanwhile by an inbound message from the same number
        return Contact.objects.filter(match).order_by("pk").get()
