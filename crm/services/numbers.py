"""A contact who changes number.

WhatsApp tells a business when a user moves their account to a new number (the
`user_changed_number` system message). It is the same person: the contact keeps its history,
conversations, consent and tags and takes the new number; the old one stays in
`ContactNumberChange`. A contact that already holds the new number (the person wrote from it
before the notice arrived, or staff imported it) is the same person too, and is merged in.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.errors import DomainError
from crm.models import Contact, ContactNumberChange, NumberChangeSource
from crm.services.contacts import contact_erased_opt_out_apply, phone_normalize, phone_spelled
from crm.services.merge import contact_merge

logger = logging.getLogger(__name__)


def contact_number_change(
    *,
    contact: Contact,
    new_phone: str | None,
    new_wa_id: str | None,
    source: str,
    at: datetime | None = None,
    note: str = "",
) -> Contact:
    """Give `contact` a new number, keep the old one in its history, merge the holder of the
    new one. Returns the contact with its new identifiers.

    `new_phone` is read as `phone_normalize` reads it (InvalidPhone when it cannot be a phone);
    None means the phone `new_wa_id` spells, or no phone at all when the WhatsApp id is not a
    number phonenumbers knows (the old phone no longer reaches the person either way). Without
    `new_wa_id` the new phone's digits are used. Changing to the number the contact already has
    does nothing, so a redelivered notice is harmless.
    """
    if source not in NumberChangeSource.values:
        raise DomainError(f"Unknown number change source {source!r}.", code="invalid_source")
    wa_id = (new_wa_id or "").strip() or None
    phone = phone_normalize(new_phone) if new_phone else (phone_spelled(wa_id) if wa_id else None)
    if wa_id is None and phone is None:
        raise DomainError("A number change needs the new phone or WhatsApp id.", code="invalid")
    wa_id = wa_id or phone.lstrip("+")
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        if locked.wa_id == wa_id and (phone is None or locked.phone == phone):
            return locked
        old_phone, old_wa_id = locked.phone or "", locked.wa_id or ""
        holders = Q(wa_id=wa_id) | (Q(phone=phone) if phone else Q())
        merged = []
        for holder in Contact.objects.filter(holders).exclude(pk=locked.pk).order_by("pk"):
            contact_merge(keep=locked, duplicate=holder)
            merged.append(holder.pk)
        locked.refresh_from_db()
        ContactNumberChange.objects.create(
            contact=locked,
            old_phone=old_phone,
            old_wa_id=old_wa_id,
            new_phone=phone or "",
            new_wa_id=wa_id,
            source=source,
            merged_contact_ids=merged,
            note=note[:500],
            changed_at=at or timezone.now(),
        )
        locked.phone, locked.wa_id = phone, wa_id
        locked.save(update_fields=["phone", "wa_id", "updated_at"])
        contact_erased_opt_out_apply(contact=locked)
    logger.info("contact %s changed number (merged %s)", locked.pk, merged or "none")
    contact.phone, contact.wa_id = locked.phone, locked.wa_id
    return locked
