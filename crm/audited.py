"""Which crm tables the audit log follows (core.audit), and why.

Recorded, field by field, when staff or an API token write them: `Contact` (but not the
counters the inbox and webhooks keep: unread count, last inbound and outbound times, the
update stamp), `Tag`, `AttributeDefinition`, `Segment`, `Advisor`.

Not recorded as rows: `ConsentEvent` and `ContactNumberChange` are append-only histories that
already name their actor; `ImportJob` is recorded as the named action `import` (who started
which file), and its counters and `ImportRowError` rows are written by the worker in bulk.
"""

from __future__ import annotations

from core.audit import audit_register
from crm.models import Advisor, AttributeDefinition, Contact, Segment, Tag


def audit_register_crm() -> None:
    audit_register(
        Contact,
        exclude_fields=["unread_count", "last_inbound_at", "last_outbound_at", "updated_at"],
        m2m_fields={"tags"},
    )
    audit_register(Tag)
    audit_register(AttributeDefinition)
    audit_register(Segment)
    audit_register(Advisor)
