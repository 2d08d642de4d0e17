"""What a permanent failure means for the contact, whichever way it arrived.

Used for synchronous errors (the send response) and asynchronous ones (a failed status).
"""

from __future__ import annotations

from crm.models import Consent, ConsentSource, Contact
from crm.services import consent_set
from messaging.models import Message

UNDELIVERABLE = 131026  # not on WhatsApp, old client, terms not accepted, or blocked us
MARKETING_STOPPED = 131050  # the user stopped marketing messages
WINDOW_CLOSED = 131047  # more than 24 hours since the user last wrote

WINDOW_CLOSED_TITLE = "Outside the 24-hour window: send an approved template"


def failure_side_effects(*, messages: list[Message]) -> None:
    """Mark undeliverable contacts and record marketing opt-outs Meta reported."""
    undeliverable = {m.contact_id for m in messages if m.error_code == UNDELIVERABLE}
    if undeliverable:
        Contact.objects.filter(pk__in=undeliverable, undeliverable=False).update(
            undeliverable=True,
            undeliverable_reason="WhatsApp reported the number undeliverable (131026)",
        )
    for message in messages:
        if message.error_code == WINDOW_CLOSED:
            Message.objects.filter(pk=message.pk).update(error_title=WINDOW_CLOSED_TITLE)
    opted_out = {m.contact_id for m in messages if m.error_code == MARKETING_STOPPED}
    for contact in Contact.objects.filter(pk__in=opted_out).exclude(consent=Consent.OPTED_OUT):
        consent_set(
            contact=contact,
            consent=Consent.OPTED_OUT,
            source=ConsentSource.PROVIDER_ERROR,
            note="WhatsApp reported that the user stopped marketing messages (131050).",
        )
