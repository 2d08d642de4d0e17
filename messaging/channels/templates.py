"""Keep `MessageTemplate` rows in line with what the provider has approved."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

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
            values = {
                "external_id": info.external_id or "",
                "category": (info.category or "").upper(),
                "status": (info.status or TemplateStatus.PENDING).upper(),
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


def templates_sync_all() -> dict[str, str]:
    return {
        channel.name: templates_sync(channel=channel).summary() for channel in channels_active()
    }
