"""Reads over crm: querysets with their joins and scoping decided here, not in views."""

from datetime import timedelta

from django.db.models import QuerySet

from crm.models import Contact

WINDOW = timedelta(hours=24)


def window_expires_at(contact: Contact):
    """When the 24-hour customer-service window closes (None if the contact never wrote).

    Only the user's own messages open the window; our outbound messages never extend it.
    """
    if contact.last_inbound_at is None:
        return None
    return contact.last_inbound_at + WINDOW


def contact_find_by_wa_id(wa_id: str) -> Contact | None:
    return Contact.objects.filter(wa_id=wa_id).first()


def contact_list() -> QuerySet[Contact]:
    return Contact.objects.prefetch_related("tags")
