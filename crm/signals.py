"""Signals crm sends for others to listen to (analytics); crm itself never imports them."""

from django.dispatch import Signal

# sender=Contact, contact=..., event=ConsentEvent
consent_changed = Signal()
