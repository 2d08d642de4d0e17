"""A template's history (`TemplateEvent`) and the one function that changes its status.

Every status change, from the builder, the sync or Meta's webhooks, goes through
`template_status_set`, so each one is recorded with its source and reason, and a status that
does not change records nothing (a duplicate webhook leaves no trace).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from messaging.channels.models import (
    MessageTemplate,
    TemplateEvent,
    TemplateEventKind,
    TemplateStatus,
)


def template_event_record(
    *,
    template: MessageTemplate,
    kind: str,
    source: str,
    status_from: str = "",
    status_to: str = "",
    reason: str = "",
    detail: dict[str, Any] | None = None,
    actor=None,
    at: dt.datetime | None = None,
) -> TemplateEvent:
    return TemplateEvent.objects.create(
        template=template,
        kind=kind,
        source=source,
        status_from=status_from or "",
        status_to=status_to or "",
        reason=(reason or "")[:500],
        detail=detail or {},
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        created_at=at or timezone.now(),
    )


def template_status_set(
    *,
    template: MessageTemplate,
    status: str,
    source: str,
    rejected_reason: str = "",
    reason: str = "",
    detail: dict[str, Any] | None = None,
    actor=None,
    at: dt.datetime | None = None,
    extra_fields: dict[str, Any] | None = None,
    kind: str = TemplateEventKind.STATUS,
) -> bool:
    """Set `template`'s status (and Meta's rejection reason, which only a REJECTED template
    keeps) and record the change. Returns False, recording nothing, when nothing changed."""
    rejected_reason = rejected_reason if status == TemplateStatus.REJECTED else ""
    extra_fields = extra_fields or {}
    if (
        template.status == status
        and template.rejected_reason == rejected_reason
        and all(getattr(template, k) == v for k, v in extra_fields.items())
    ):
        return False
    previous = template.status
    template.status = status
    template.rejected_reason = rejected_reason
    template.status_changed_at = at or timezone.now()
    for key, value in extra_fields.items():
        setattr(template, key, value)
    template.save(
        update_fields=[
            "status",
            "rejected_reason",
            "status_changed_at",
            "updated_at",
            *extra_fields,
        ]
    )
    if previous != status or rejected_reason:
        template_event_record(
            template=template,
            kind=kind,
            source=source,
            status_from=previous,
            status_to=status,
            reason=reason or rejected_reason,
            detail=detail,
            actor=actor,
        )
    return True
