"""Redacting messages: the one way a message's body and media go, for retention and erasure.

A redacted message keeps what analytics and billing read (direction, type, status and its
times, template, campaign, pricing, error code) and loses what the person said or was sent:
the content and its edit history, the reaction, the media (file deleted from storage once the
transaction commits), the provider's error detail, the sender's WhatsApp id, and the raw
provider payloads of its statuses. `redacted_at` marks it, so retention never reads it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.storage import files_delete_on_commit
from messaging.sending.models import Message, MessageStatusEvent

REDACTED = {
    "content": {}, "edit_history": [], "reaction": "", "media_id": "", "media_file": "",
    "media_error": "", "error_detail": "", "wa_id": "",
}  # fmt: skip


@dataclass
class Redacted:
    messages: int = 0
    media_files: int = 0

    def add(self, other: Redacted) -> None:
        self.messages += other.messages
        self.media_files += other.media_files


def messages_redact(*, message_ids: list[int]) -> Redacted:
    """Redact the messages `message_ids` (already redacted ones are skipped): one transaction,
    the caller bounds the batch. Files go after commit."""
    with transaction.atomic():
        todo = Message.objects.filter(pk__in=message_ids, redacted_at__isnull=True)
        files = list(todo.exclude(media_file="").values_list("media_file", flat=True))
        ids = list(todo.values_list("pk", flat=True))
        if not ids:
            return Redacted()
        count = Message.objects.filter(pk__in=ids).update(**REDACTED, redacted_at=timezone.now())
        MessageStatusEvent.objects.filter(message_id__in=ids).update(raw={})
        files_delete_on_commit(files)
    return Redacted(messages=count, media_files=len(files))


def messages_redact_queryset(queryset: QuerySet[Message], *, batch: int | None = None) -> Redacted:
    """Redact every message of `queryset`, `batch` (RETENTION_BATCH) at a time."""
    size = batch or settings.RETENTION_BATCH
    pending = queryset.filter(redacted_at__isnull=True).order_by("pk")
    total = Redacted()
    last = 0
    while True:
        ids = list(pending.filter(pk__gt=last).values_list("pk", flat=True)[:size])
        if not ids:
            return total
        total.add(messages_redact(message_ids=ids))
        last = ids[-1]


def messages_retention_apply(
    *, older_than_days: int | None = None, batch: int | None = None
) -> Redacted:
    """Redact messages older than MESSAGE_RETENTION_DAYS (0 keeps them forever)."""
    days = settings.MESSAGE_RETENTION_DAYS if older_than_days is None else older_than_days
    if not days:
        return Redacted()
    cutoff = timezone.now() - timedelta(days=days)
    return messages_redact_queryset(Message.objects.filter(created_at__lt=cutoff), batch=batch)
