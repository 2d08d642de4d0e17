"""Erasure that keeps the proof, and the delete that refuses to lose it.

`contact_erase` removes everything Parley holds about a person and keeps the contact row as
the pseudonymous record of their consent: every personal field emptied, the identifiers
replaced by keyed hashes (`crm.identity`), the consent events untouched (they are append-only,
down to the database). The row, not a new one, is the record: consent events keep pointing at
it, nothing of the history has to move, and "is this number known to have opted out" is one
indexed query over contacts. The record is blocked, so nothing is ever sent to it.

Other apps erase what they hold through `crm.extensions.personal_data_register` (messages and
their media, conversation notes, link clicks, raw webhooks, conversions...).
"""

from __future__ import annotations

import logging

from auditlog.context import disable_auditlog
from django.db import transaction
from django.utils import timezone

from core.audit import audit_events_redact, audit_record
from core.errors import Conflict
from core.models import AuditAction
from crm.extensions import personal_data_sections
from crm.identity import identity_hashes
from crm.models import Advisor, Contact, ContactNumberChange
from crm.retention import import_traces_erase
from crm.services.contacts import phone_spelled
from crm.signals import contact_erased

logger = logging.getLogger(__name__)

# What an erased record keeps: its id, consent and consent history, its times, and the flags
# that keep it unreachable. Everything else on the row is emptied.
ERASED_FIELDS = {
    "phone": None, "wa_id": None, "bsuid": None, "name": "", "profile_name": "",
    "language": "", "attributes": {}, "pinned": False, "undeliverable_reason": "",
    "unread_count": 0, "blocked": True,
}  # fmt: skip


def contact_erase(*, contact: Contact, actor=None) -> dict[str, int]:
    """Erase `contact`'s personal data everywhere; returns counts of what was removed.

    One transaction: all of it or none. Files (message media, import files) are deleted once
    it commits. Raises Conflict if the contact was already erased.
    """
    # The erasure's own writes are not field-by-field audit events (those would keep the very
    # values it removes): one `erase` event names it, and past events about the person's rows
    # lose their values.
    with transaction.atomic(), disable_auditlog():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        if locked.erased_at is not None:
            raise Conflict("This contact was already erased.", code="already_erased")
        counts: dict[str, int] = {}
        for section in personal_data_sections():
            for key, value in section.erase(locked).items():
                counts[key] = counts.get(key, 0) + value
        phone = locked.phone or (phone_spelled(locked.wa_id) if locked.wa_id else None)
        for key, value in import_traces_erase(phone=phone).items():
            counts[key] = counts.get(key, 0) + value
        # The numbers it had before a change are forgotten (they may be someone else's now).
        counts["number_changes"], _ = ContactNumberChange.objects.filter(contact=locked).delete()
        advisors = list(Advisor.objects.filter(contact=locked).values_list("pk", flat=True))
        audit_events_redact(Advisor, advisors, label=f"Advisor of erased contact #{locked.pk}")
        counts["advisor_profile"], _ = Advisor.objects.filter(contact=locked).delete()
        counts["tags"] = locked.tags.count()
        locked.tags.clear()
        hashes = identity_hashes(phone=phone, wa_id=locked.wa_id, bsuid=locked.bsuid)
        for field, value in ERASED_FIELDS.items():
            setattr(locked, field, value)
        locked.phone_hash = hashes.get("phone_hash")
        locked.wa_id_hash = hashes.get("wa_id_hash")
        locked.bsuid_hash = hashes.get("bsuid_hash")
        locked.erased_at = timezone.now()
        locked.save()
        erased_id = locked.pk
        counts["audit_events_redacted"] = audit_events_redact(
            Contact, [erased_id], label=str(locked)
        )
        audit_record(AuditAction.ERASE, obj=locked, actor=actor, details=counts)
        transaction.on_commit(
            lambda: contact_erased.send(sender=Contact, contact_id=erased_id, actor=actor)
        )
    logger.info("contact %s erased: %s", erased_id, counts)
    contact.refresh_from_db()
    return counts


def contact_delete(*, contact: Contact) -> None:
    """Delete a contact that has no consent history. One with consent history is refused: its
    opt-outs are proof to keep, so it is erased instead (`contact_erase`)."""
    if contact.consent_events.exists():
        raise Conflict(
            "This contact has consent history, which must be kept: erase the contact instead "
            f"(POST /api/v1/contacts/{contact.pk}/erase/, or Erase on its staff page).",
            code="consent_history",
            details={"erase": f"/api/v1/contacts/{contact.pk}/erase/"},
        )
    contact.delete()
