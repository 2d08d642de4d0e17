"""What a permanent failure means for the contact, whichever way it arrived.

Used for synchronous errors (the send response) and asynchronous ones (a failed status).
"""

from __future__ import annotations

from collections import defaultdict

from crm.models import Consent, ConsentSource, Contact
from crm.services import consent_set
from messaging.providers.error_codes import error_code_info
from messaging.sending.models import Message

WINDOW_CLOSED = 131047  # more than 24 hours since the user last wrote

WINDOW_CLOSED_TITLE = "Outside the 24-hour window: send an approved template"


def failure_side_effects(*, messages: list[Message]) -> None:
    """Mark undeliverable contacts and record marketing opt-outs Meta reported (which codes
    do either is the error-code table's to say)."""
    undeliverable: dict[int, set[int]] = defaultdict(set)
    opted_out: dict[int, int] = {}
    for message in messages:
        info = error_code_info(message.error_code)
        if info.marks_undeliverable:
            undeliverable[message.error_code].add(message.contact_id)
        if info.stops_marketing:
            opted_out[message.contact_id] = message.error_code
        if message.error_code == WINDOW_CLOSED:
            Message.objects.filter(pk=message.pk).update(error_title=WINDOW_CLOSED_TITLE)
    for code, contact_ids in undeliverable.items():
        Contact.objects.filter(pk__in=contact_ids, undeliverable=False).update(
            undeliverable=True,
            undeliverable_reason=f"WhatsApp reported the number undeliverable ({code})",
        )
    for contact in Contact.objects.filter(pk__in=opted_out).exclude(consent=Consent.OPTED_OUT):
        consent_set(
            contact=contact,
            consent=Consent.OPTED_OUT,
            source=ConsentSource.PROVIDER_ERROR,
            note="WhatsApp reported that the user stopped marketing messages "
            f"({opted_out[contact.pk]}).",
        )
