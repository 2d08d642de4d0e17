"""Signals crm sends for others to listen to (analytics); crm itself never imports them."""

from django.dispatch import Signal

# sender=Contact, contact=..., event=ConsentEvent
consent_changed = Signal()
# sender=Contact, contact=..., event=ConsentEvent: sent INSIDE the transaction that changed
# consent, for listeners that must write in it (messaging's event webhooks, an outbox)
consent_recorded = Signal()
# sender=Contact, changes=[(contact_id, previous, consent), ...], source="import": the same
# for an import batch, inside its transaction
consent_recorded_bulk = Signal()
# sender=Contact, changes=[(contact_id, previous, consent), ...], source="import": consent
# changed in bulk (one import batch; its ConsentEvents are written)
consent_changed_bulk = Signal()
# sender=Contact, contact=the kept Contact, duplicate_id=the deleted duplicate's id
contact_merged = Signal()
# sender=Contact, contact_id=the erased contact's id, actor=the user who erased it (or None):
# sent after the erasure committed
contact_erased = Signal()
