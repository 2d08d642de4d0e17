"""Reads over channels and templates: which channel a request means, which templates may go.

Every view, serializer, form, admin, command and service asks these instead of filtering
`is_active` or `status` itself, so "the one active channel" and "a template one may send"
mean the same thing on every page and in every API.
"""

from __future__ import annotations

from django.db.models import QuerySet

from core.errors import DomainError
from messaging.channels.models import Channel, MessageTemplate, TemplateStatus

# Meta sends only APPROVED templates; PAUSED, DISABLED, PENDING, REJECTED and the rest are
# refused by the Cloud API, so we refuse them before they cost a message.
SENDABLE_TEMPLATE_STATUSES = frozenset({TemplateStatus.APPROVED})


class ChannelUnknown(DomainError):
    """No active channel matches, or several do and the request named none."""

    code = "channel_unknown"


def channels_active() -> QuerySet[Channel]:
    """The channels one may choose for a send. A paused channel (auth failure, rate lock) is
    still active: it is chosen and its messages wait; an inactive one is switched off."""
    return Channel.objects.filter(is_active=True)


def channel_for(*, phone_number_id: str | None = None) -> Channel:
    """The active channel named by `phone_number_id`, or without a name the only active one.

    Requests may leave the channel out while a business has one number; once it has several,
    guessing would send from the wrong one, so ChannelUnknown asks for a name instead.
    """
    if phone_number_id:
        channel = channels_active().filter(phone_number_id=phone_number_id).first()
        if channel is None:
            raise ChannelUnknown(
                f"No active channel with phone_number_id {phone_number_id!r}.",
                details={"channel": phone_number_id},
            )
        return channel
    channels = list(channels_active().order_by("pk")[:2])
    if not channels:
        raise ChannelUnknown("No active channel is configured.")
    if len(channels) > 1:
        raise ChannelUnknown("Several channels exist: name one by phone_number_id.")
    return channels[0]


def templates_sendable(
    *, channel: Channel | int | None = None, category: str | None = None
) -> QuerySet[MessageTemplate]:
    """Templates one may send now: approved, on an active channel (of `channel` and in
    `category` when given). Pickers, admin choices and demo data list exactly these."""
    templates = MessageTemplate.objects.filter(
        status__in=SENDABLE_TEMPLATE_STATUSES, channel__is_active=True
    ).select_related("channel")
    if channel is not None:
        templates = templates.filter(channel=channel)
    if category:
        templates = templates.filter(category=category)
    return templates.order_by("name", "language")


def template_unsendable_reason(template: MessageTemplate) -> str | None:
    """Why `template` may not be sent, in words a person can act on; None when it may.

    For the checks that explain a refusal (the send path, pre-flights, rule checks).
    """
    if template.status not in SENDABLE_TEMPLATE_STATUSES:
        why = f" ({template.rejected_reason})" if template.rejected_reason else ""
        return (
            f"Template {template.name!r} [{template.language}] is {template.status}{why}, "
            "not APPROVED."
        )
    # A template built in memory (a rule being checked) may have no channel yet.
    if template.channel_id is not None and not template.channel.is_active:
        return (
            f"Template {template.name!r} is on channel {template.channel.name}, which is inactive."
        )
    return None
