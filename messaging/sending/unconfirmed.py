"""Unknown sends end: unconfirmed after a while, and sent again only by a person's decision.

An `unknown` message (the request may have reached WhatsApp, its answer was lost) waits for
the status webhook that carries its UUID. When none came within SEND_UNKNOWN_SETTLE_HOURS it
is marked unconfirmed (`Message.unconfirmed_at`): a flag, not a status, so a webhook arriving
later still settles it. Nothing ever sends it again automatically (it may well have arrived);
staff may, deliberately, which creates a new message linked to it (`resent_from`), at most once
per message and never for one a webhook settled meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from core.errors import DomainError, InvalidTransition
from messaging.sending.models import UNCONFIRMED, Direction, Message, Status
from messaging.sending.send import message_send

logger = logging.getLogger(__name__)


class NotResendable(InvalidTransition):
    code = "not_resendable"


def messages_unconfirmed() -> QuerySet[Message]:
    """Outbound messages still unknown after the settle time (a late webhook takes them out)."""
    return Message.objects.filter(UNCONFIRMED, direction=Direction.OUTBOUND)


def messages_unconfirmed_mark() -> int:
    """Mark `unknown` messages no webhook settled within SEND_UNKNOWN_SETTLE_HOURS of their
    last send attempt as unconfirmed; return how many. One statement; run periodically."""
    now = timezone.now()
    cutoff = now - timedelta(hours=settings.SEND_UNKNOWN_SETTLE_HOURS)
    marked = (
        Message.objects.filter(
            direction=Direction.OUTBOUND, status=Status.UNKNOWN, unconfirmed_at__isnull=True
        )
        .filter(Q(claimed_at__lt=cutoff) | Q(claimed_at__isnull=True, created_at__lt=cutoff))
        .update(unconfirmed_at=now)
    )
    if marked:
        logger.warning("%d unknown message(s) had no status webhook in time: unconfirmed", marked)
    return marked


def message_resend(*, message: Message, actor=None) -> tuple[Message, bool]:
    """Send an unconfirmed message again as a new message linked to it; return it and whether
    it was created now.

    Idempotent: a message already sent again returns that resend (a double submit sends
    nothing more). Refused (NotResendable, 409) for a message that is not unconfirmed: never
    confirmed-unknown, or settled by a late webhook meanwhile. The new message passes every
    send rule again (SendRefused, 422). It keeps the lane, content and recipient, but not the
    campaign: a campaign reaches each contact once (its unique constraint), and a resend is
    a person's decision outside that promise.
    """
    with transaction.atomic():
        # The lock orders a resend against a late status webhook (which locks the row too)
        # and against a second submit.
        old = Message.objects.select_for_update().select_related("channel", "contact")
        old = old.get(pk=message.pk)
        existing = Message.objects.filter(resent_from=old).first()
        if existing is not None:
            return existing, False
        if not old.unconfirmed:
            raise NotResendable(
                "Only an unconfirmed message can be sent again; this one is "
                f"{Status(old.status).label.lower()}"
                + (" (a status webhook settled it)." if old.unconfirmed_at else "."),
                details={"status": Status(old.status).name.lower()},
            )
        try:
            with transaction.atomic():
                new = message_send(
                    channel=old.channel, contact=old.contact, type=old.type,
                    content=old.content, context_wamid=old.context_wamid, lane=old.lane,
                    sent_by=actor, extra={"resent_from": old},
                )  # fmt: skip
        except IntegrityError:
            # A concurrent submit won the race (SQLite does not lock rows for update).
            existing = Message.objects.filter(resent_from=old).first()
            if existing is None:
                raise
            return existing, False
    logger.info("message %s sent again as %s by %s", old.uuid, new.uuid, actor or "the system")
    return new, True


@dataclass
class ResendReport:
    resent: list[Message] = field(default_factory=list)
    already: int = 0  # had been sent again before
    refused: list[tuple[Message, str]] = field(default_factory=list)


def messages_resend(*, messages: Iterable[Message], actor=None) -> ResendReport:
    """`message_resend` for each message, each in its own transaction: one refusal (a
    contact who opted out since, a message settled meanwhile) does not stop the others."""
    report = ResendReport()
    for message in messages:
        try:
            new, created = message_resend(message=message, actor=actor)
        except DomainError as exc:
            report.refused.append((message, exc.message))
            continue
        if created:
            report.resent.append(new)
        else:
            report.already += 1
    return report
