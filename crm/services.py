"""Write paths over contacts and consent."""

from __future__ import annotations

import phonenumbers
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import DomainError
from crm.models import Consent, ConsentEvent, ConsentSource, Contact
from crm.signals import consent_changed


class InvalidPhone(DomainError):
    code = "invalid_phone"


def phone_normalize(raw: str, *, region: str | None = None) -> str:
    """E.164 for `raw` (national numbers read in `region`, default PHONE_DEFAULT_REGION).

    Raises InvalidPhone with the reason when the number cannot be a real phone number.
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone("Phone number is empty.")
    if text.isdigit() and len(text) > 10:
        text = "+" + text  # WhatsApp ids are international numbers without the plus
    try:
        number = phonenumbers.parse(text, region or settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"Not a phone number: {raw!r} ({exc}).") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(f"Not a valid phone number: {raw!r}.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def contact_get_or_create_from_whatsapp(
    *, wa_id: str | None, bsuid: str | None, profile_name: str = ""
) -> tuple[Contact, bool]:
    """The contact behind an inbound WhatsApp identity, created on first contact.

    Looks up by wa_id, then by phone, then by BSUID (users who hide their number); fills in
    whichever identifiers were missing. Safe under concurrent webhooks for the same user.
    """
    phone = None
    if wa_id:
        try:
            phone = phone_normalize(wa_id)
        except InvalidPhone:
            phone = None
    for attempt in range(2):
        contact = None
        if wa_id:
            contact = Contact.objects.filter(wa_id=wa_id).first()
        if contact is None and phone:
            contact = Contact.objects.filter(phone=phone).first()
        if contact is None and bsuid:
            contact = Contact.objects.filter(bsuid=bsuid).first()
        if contact is not None:
            changed = []
            if wa_id and contact.wa_id != wa_id:
                contact.wa_id = wa_id
                changed.append("wa_id")
            if phone and not contact.phone:
                contact.phone = phone
                changed.append("phone")
            if bsuid and not contact.bsuid:
                contact.bsuid = bsuid
                changed.append("bsuid")
            if profile_name and contact.profile_name != profile_name:
                contact.profile_name = profile_name
                changed.append("profile_name")
            if changed:
                contact.save(update_fields=[*changed, "updated_at"])
            return contact, False
        try:
            with transaction.atomic():
                contact = Contact.objects.create(
                    wa_id=wa_id or None, phone=phone, bsuid=bsuid or None,
                    profile_name=profile_name or "",
                )  # fmt: skip
            return contact, True
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def consent_set(
    *,
    contact: Contact,
    consent: str,
    source: str,
    actor=None,
    note: str = "",
    at=None,
) -> ConsentEvent | None:
    """Change marketing consent and record why. The only way consent changes.

    Returns the event, or None when the contact already had that consent (nothing to audit).
    """
    if consent not in Consent.values:
        raise DomainError(f"Unknown consent value {consent!r}.", code="invalid_consent")
    if source not in ConsentSource.values:
        raise DomainError(f"Unknown consent source {source!r}.", code="invalid_consent")
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        if locked.consent == consent:
            return None
        event = ConsentEvent.objects.create(
            contact=locked,
            previous=locked.consent,
            consent=consent,
            source=source,
            actor=actor,
            note=note[:500],
            created_at=at or timezone.now(),
        )
        locked.consent = consent
        locked.consent_updated_at = event.created_at
        locked.save(update_fields=["consent", "consent_updated_at", "updated_at"])
    contact.consent = consent
    contact.consent_updated_at = event.created_at
    transaction.on_commit(lambda: consent_changed.send(sender=Contact, contact=locked, event=event))
    return event
