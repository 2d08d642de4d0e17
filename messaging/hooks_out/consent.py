"""`contact.consent` event webhooks. crm never imports messaging: it sends `consent_recorded`
(and `consent_recorded_bulk` for an import batch) inside the transaction that changed consent,
and these receivers write the outbox rows in it. Connected at ready()."""

from __future__ import annotations

from django.utils import timezone

from crm.models import Contact
from crm.signals import consent_recorded, consent_recorded_bulk
from messaging.hooks_out.models import HookEvent
from messaging.hooks_out.services import event_emit, event_wanted, events_emit


def _data(*, contact_id: int, phone, consent: str, previous: str, source: str, at, note=""):
    return {
        "contact": {
            "id": contact_id,
            "phone": phone,
            "consent": consent,
            "previous": previous,
            "source": source,
            "note": note,
            "at": at.isoformat(),
        }
    }


def _recorded(sender, contact=None, event=None, **kwargs) -> None:
    if contact is None or event is None:
        return
    event_emit(
        event_type=HookEvent.CONTACT_CONSENT,
        data=_data(
            contact_id=contact.pk,
            phone=contact.phone,
            consent=event.consent,
            previous=event.previous,
            source=event.source,
            at=event.created_at,
            note=event.note,
        ),
        ordering_key=f"contact:{contact.pk}",
    )


def _recorded_bulk(sender, changes=None, source: str = "import", **kwargs) -> None:
    if not changes or not event_wanted(HookEvent.CONTACT_CONSENT):
        return
    phones = dict(Contact.objects.filter(pk__in=[c[0] for c in changes]).values_list("pk", "phone"))
    now = timezone.now()
    events_emit(
        event_type=HookEvent.CONTACT_CONSENT,
        items=[
            (
                _data(
                    contact_id=contact_id,
                    phone=phones.get(contact_id),
                    consent=consent,
                    previous=previous,
                    source=source,
                    at=now,
                ),
                f"contact:{contact_id}",
            )
            for contact_id, previous, consent in changes
        ],
    )


def consent_events_connect() -> None:
    consent_recorded.connect(_recorded, sender=Contact, dispatch_uid="hooks_out.consent")
    consent_recorded_bulk.connect(
        _recorded_bulk, sender=Contact, dispatch_uid="hooks_out.consent_bulk"
    )
