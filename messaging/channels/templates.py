"""Keep `MessageTemplate` rows in line with what the provider has approved: the periodic
pull (`templates_sync`) and Meta's `message_template_status_update` events
(`templates_status_event_apply`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from core.queueing import task
from messaging.channels.clients import provider_for_channel
from messaging.channels.models import Channel, MessageTemplate, TemplateStatus
from messaging.channels.opt_out import template_opt_out_buttons
from messaging.channels.selectors import channels_active
from messaging.providers import ProviderError

logger = logging.getLogger(__name__)


@dataclass
class SyncResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"{self.created} new, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.removed} no longer at the provider"
        )
        return text + (f"; errors: {'; '.join(self.errors)}" if self.errors else "")


def templates_sync(*, channel: Channel) -> SyncResult:
    """Pull every template page from the provider and upsert by (name, language).

    Every status is kept (a PAUSED or REJECTED template stays visible with its reason);
    templates the provider no longer lists are marked DELETED rather than removed, so the
    messages that used them keep their link.
    """
    result = SyncResult()
    try:
        infos = list(provider_for_channel(channel).list_templates())
    except ProviderError as exc:
        logger.warning("template sync failed for channel %s: %s", channel.pk, exc)
        result.errors.append(str(exc))
        return result

    now = timezone.now()
    existing = {(t.name, t.language): t for t in MessageTemplate.objects.filter(channel=channel)}
    seen = set()
    with transaction.atomic():
        for info in infos:
            key = (info.name, info.language)
            seen.add(key)
            status = (info.status or TemplateStatus.PENDING).upper()
            values = {
                "external_id": info.external_id or "",
                "category": (info.category or "").upper(),
                "status": status,
                "rejected_reason": rejected_reason_clean(info.rejected_reason, status=status),
                "quality_score": info.quality_score or "",
                "components": info.components,
                "parameter_format": (info.parameter_format or "positional").lower(),
                "parameters": {
                    "header": list(info.header_parameters),
                    "body": list(info.parameters),
                    "buttons": dict(info.button_parameters),
                },
                "opt_out_buttons": template_opt_out_buttons(
                    category=info.category or "", components=info.components
                ),
            }
            template = existing.get(key)
            if template is None:
                MessageTemplate.objects.create(
                    channel=channel,
                    name=info.name,
                    language=info.language,
                    synced_at=now,
                    **values,
                )
                result.created += 1
                continue
            changed = [k for k, v in values.items() if getattr(template, k) != v]
            for k in changed:
                setattr(template, k, values[k])
            template.synced_at = now
            template.save(update_fields=[*changed, "synced_at", "updated_at"])
            result.updated += bool(changed)
            result.unchanged += not changed
        gone = [t.pk for k, t in existing.items() if k not in seen and t.status != "DELETED"]
        result.removed = MessageTemplate.objects.filter(pk__in=gone).update(
            status=TemplateStatus.DELETED, synced_at=now
        )
    logger.info("templates synced for channel %s: %s", channel.pk, result.summary())
    return result


# What Meta's template status events leave a template as. Most events are named after the
# status they set (APPROVED, REJECTED, PAUSED, DISABLED, FLAGGED, ARCHIVED, ...); these are not.
EVENT_STATUS: dict[str, str | None] = {
    # "No longer flagged or disabled and can be sent in template messages again."
    "REINSTATED": TemplateStatus.APPROVED,
    # Back to its status before it was archived (approved or rejected): the event does not say
    # which, so the status is left as it was and the templates are synced again.
    "UNARCHIVED": None,
}


def template_status_for_event(event: str) -> str | None:
    """The status a template has after Meta's `event`; None when the event does not tell.

    Raises ValueError for an event Meta does not document (the webhook item fails with it,
    visible and replayable, rather than storing a status nothing understands).
    """
    event = (event or "").strip().upper()
    if event in EVENT_STATUS:
        return EVENT_STATUS[event]
    if event in TemplateStatus.values:
        return event
    raise ValueError(f"unknown template status event {event[:40]!r}")


def rejected_reason_clean(reason: str | None, *, status: str) -> str:
    """Meta's rejection reason while `status` is REJECTED ("NONE" means none); else ''."""
    if status != TemplateStatus.REJECTED or (reason or "").strip().upper() in ("", "NONE"):
        return ""
    return reason.strip()[:300]


def templates_status_event_apply(
    *, channels: list[Channel], name: str, language: str | None, event: str, reason: str | None
) -> int:
    """Apply one `message_template_status_update` event to the matching templates.

    Returns the rows changed. When the event leaves the status unknown (UNARCHIVED), a
    template sync is queued after commit instead, so the real status arrives in seconds.
    """
    status = template_status_for_event(event)
    if status is None:
        logger.info("template %s [%s] %s: syncing to learn its status", name, language, event)
        transaction.on_commit(_sync_enqueue)
        return 0
    templates = MessageTemplate.objects.filter(channel__in=channels, name=name)
    if language:
        templates = templates.filter(language=language)
    return templates.update(
        status=status,
        rejected_reason=rejected_reason_clean(reason, status=status),
        updated_at=timezone.now(),
    )


def _sync_enqueue() -> None:
    try:
        task("messaging.sync_templates").delay()
    except Exception:
        logger.warning("could not enqueue a template sync")


def templates_sync_all() -> dict[str, str]:
    return {
        channel.name: templates_sync(channel=channel).summary() for channel in channels_active()
    }
