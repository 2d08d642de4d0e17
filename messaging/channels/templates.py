"""Keep `MessageTemplate` rows in line with what the provider has approved: the periodic
pull (`templates_sync`) and Meta's template webhooks: `message_template_status_update`
(`templates_status_event_apply`), `message_template_quality_update`
(`templates_quality_event_apply`) and `template_category_update`
(`templates_category_event_apply`). Every change is recorded in the template's history."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from core.queueing import task
from messaging.channels.clients import provider_for_channel
from messaging.channels.models import (
    Channel,
    MessageTemplate,
    TemplateCategory,
    TemplateEventKind,
    TemplateEventSource,
    TemplateStatus,
)
from messaging.channels.opt_out import template_opt_out_buttons
from messaging.channels.selectors import channels_active
from messaging.channels.template_history import template_event_record, template_status_set
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
            before = {k: getattr(template, k) for k in ("status", "quality_score", "category")}
            changed = [k for k, v in values.items() if getattr(template, k) != v]
            for k in changed:
                setattr(template, k, values[k])
            template.synced_at = now
            # `status_changed_at` is left alone: Graph's list carries no time and may lag
            # Meta's webhooks, so a sync never makes a webhook's verdict look stale.
            template.save(update_fields=[*changed, "synced_at", "updated_at"])
            _sync_history(template, before)
            result.updated += bool(changed)
            result.unchanged += not changed
        # Drafts were never at the provider: its list says nothing about them.
        gone = [
            t
            for k, t in existing.items()
            if k not in seen and t.status not in (TemplateStatus.DELETED, TemplateStatus.DRAFT)
        ]
        for template in gone:
            template_status_set(
                template=template,
                status=TemplateStatus.DELETED,
                source=TemplateEventSource.SYNC,
                reason="no longer listed by the provider",
                extra_fields={"synced_at": now},
            )
        result.removed = len(gone)
    logger.info("templates synced for channel %s: %s", channel.pk, result.summary())
    return result


def _sync_history(template: MessageTemplate, before: dict[str, str]) -> None:
    """Record what a sync changed of a template's status, quality and category."""
    if template.status != before["status"]:
        template_event_record(
            template=template, kind=TemplateEventKind.STATUS, source=TemplateEventSource.SYNC,
            status_from=before["status"], status_to=template.status,
            reason=template.rejected_reason,
        )  # fmt: skip
    for key, kind in (("quality_score", TemplateEventKind.QUALITY), ("category", "category")):
        if getattr(template, key) != before[key] and before[key]:
            template_event_record(
                template=template, kind=kind, source=TemplateEventSource.SYNC,
                detail={"previous": before[key], "new": getattr(template, key)},
            )  # fmt: skip


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


def templates_matching(
    *, channels: list[Channel], name: str, language: str | None, external_id: str | None = None
):
    """The templates a webhook event names: by Meta's template id when it is known here,
    else by name (and language, when the event gives one) on the account's numbers."""
    if external_id:
        by_id = MessageTemplate.objects.filter(channel__in=channels, external_id=external_id)
        if by_id.exists():
            return by_id
    templates = MessageTemplate.objects.filter(channel__in=channels, name=name)
    if language:
        templates = templates.filter(language=language)
    return templates


def _stale(template: MessageTemplate, at: dt.datetime | None) -> bool:
    """Whether an event from `at` is older than the template's latest status change (Meta
    timestamps in whole seconds, so the same second still applies)."""
    if at is None or template.status_changed_at is None:
        return False
    return at < template.status_changed_at.replace(microsecond=0)


def templates_status_event_apply(
    *,
    channels: list[Channel],
    name: str,
    language: str | None,
    event: str,
    reason: str | None,
    external_id: str | None = None,
    at: dt.datetime | None = None,
    detail: dict | None = None,
) -> int:
    """Apply one `message_template_status_update` event to the matching templates.

    Returns the rows changed. Idempotent (the same event again changes nothing) and
    monotonic (an event older than the template's latest status change is ignored). When the
    event leaves the status unknown (UNARCHIVED), a template sync is queued after commit
    instead, so the real status arrives in seconds.
    """
    status = template_status_for_event(event)
    if status is None:
        logger.info("template %s [%s] %s: syncing to learn its status", name, language, event)
        transaction.on_commit(templates_sync_enqueue)
        return 0
    changed = 0
    matching = templates_matching(
        channels=channels, name=name, language=language, external_id=external_id
    )
    for template in matching.select_for_update():
        if _stale(template, at):
            logger.info("template %s: %s from %s is older than its status; ignored", template.pk,
                        event, at)  # fmt: skip
            continue
        cleaned = rejected_reason_clean(reason, status=status)
        extra = {"external_id": external_id} if external_id and not template.external_id else {}
        changed += template_status_set(
            template=template, status=status, source=TemplateEventSource.WEBHOOK,
            rejected_reason=cleaned, reason=cleaned or (detail or {}).get("reason", ""),
            detail=detail, at=at, extra_fields=extra,
        )  # fmt: skip
    return changed


def templates_quality_event_apply(
    *,
    channels: list[Channel],
    name: str,
    language: str | None,
    quality: str,
    previous: str | None = None,
    external_id: str | None = None,
) -> int:
    """Meta's `message_template_quality_update`: the template's new quality rating."""
    quality = (quality or "").strip().upper()[:16]
    if not quality:
        raise ValueError("template quality update without a new quality score")
    changed = 0
    matching = templates_matching(
        channels=channels, name=name, language=language, external_id=external_id
    )
    for template in matching.select_for_update():
        if template.quality_score == quality:
            continue
        before = template.quality_score
        template.quality_score = quality
        template.save(update_fields=["quality_score", "updated_at"])
        template_event_record(
            template=template, kind=TemplateEventKind.QUALITY, source=TemplateEventSource.WEBHOOK,
            detail={"previous": before or (previous or ""), "new": quality},
        )  # fmt: skip
        changed += 1
    return changed


def templates_category_event_apply(
    *,
    channels: list[Channel],
    name: str,
    language: str | None,
    new_category: str | None,
    previous: str | None = None,
    correct_category: str | None = None,
    external_id: str | None = None,
) -> int:
    """Meta's `template_category_update`: Meta re-categorised the template (`new_category`),
    or announces that it will (`correct_category` alone: recorded, nothing changed yet)."""
    new = (new_category or "").strip().upper()
    upcoming = (correct_category or "").strip().upper()
    if not new and not upcoming:
        raise ValueError("template category update without a new or correct category")
    if new and new not in TemplateCategory.values:
        raise ValueError(f"unknown template category {new[:40]!r}")
    changed = 0
    matching = templates_matching(
        channels=channels, name=name, language=language, external_id=external_id
    )
    for template in matching.select_for_update():
        if new and template.category != new:
            before = template.category
            template.category = new
            template.save(update_fields=["category", "updated_at"])
            template_event_record(
                template=template, kind=TemplateEventKind.CATEGORY,
                source=TemplateEventSource.WEBHOOK,
                detail={"previous": before or (previous or ""), "new": new},
            )  # fmt: skip
            changed += 1
        elif (
            not new
            and not template.events.filter(
                kind=TemplateEventKind.CATEGORY, detail__correct_category=upcoming
            ).exists()
        ):
            template_event_record(
                template=template, kind=TemplateEventKind.CATEGORY,
                source=TemplateEventSource.WEBHOOK,
                reason=f"Meta will re-categorise it as {upcoming}",
                detail={"previous": template.category, "correct_category": upcoming},
            )  # fmt: skip
    return changed


def templates_sync_enqueue() -> None:
    """Queue a sync of every channel's templates (call it through `transaction.on_commit`)."""
    try:
        task("messaging.sync_templates").delay()
    except Exception:
        logger.warning("could not enqueue a template sync")


def templates_sync_all() -> dict[str, str]:
    return {
        channel.name: templates_sync(channel=channel).summary() for channel in channels_active()
    }
