"""Reads over channels and templates: which channel a request means, which templates may go.

Every view, serializer, form, admin, command and service asks these instead of filtering
`is_active` or `status` itself, so "the one active channel" and "a template one may send"
mean the same thing on every page and in every API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.errors import DomainError
from messaging.channels.health import BLOCKED_STATUSES, tier_limit
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


# --- Number health -----------------------------------------------------------------------------

RECIPIENT_WINDOW = timedelta(hours=24)
# Message is sending's model (a room above): reached through the relation, never imported.
_TEMPLATE = "template"  # sending.models.MessageType.TEMPLATE


def _recipients_query(channel: Channel | OuterRef, since: datetime) -> QuerySet:
    """Distinct contacts sent a template that the provider accepted since `since`.

    A template is how a business opens a conversation, so this is what Meta's messaging
    limit counts. Only outbound messages are ever accepted, and `accepted_at >= since` implies
    it is set, so the partial index `message_template_accepted` (channel, accepted_at,
    contact) answers it alone. A message accepted and later failed still counts: Meta may
    have counted it, and a budget must not be overspent.
    """
    message = Channel._meta.get_field("messages").related_model
    return message.objects.filter(channel=channel, type=_TEMPLATE, accepted_at__gte=since)


def channel_recipients_24h(channel: Channel) -> int:
    """Unique recipients of business-initiated messages on `channel` in the moving 24 hours
    (the annotation of `channels_with_health` when the channel came from there)."""
    annotated = getattr(channel, "recipients_24h", None)
    if annotated is not None:
        return annotated
    since = timezone.now() - RECIPIENT_WINDOW
    return _recipients_query(channel, since).values("contact_id").distinct().count()


def channels_with_health(queryset: QuerySet[Channel] | None = None) -> QuerySet[Channel]:
    """Channels with `recipients_24h` annotated: one correlated count per channel, each
    answered from the index, so a list of numbers costs one query."""
    since = timezone.now() - RECIPIENT_WINDOW
    counts = (
        _recipients_query(OuterRef("pk"), since)
        .order_by()
        .values("channel_id")
        .annotate(n=Count("contact_id", distinct=True))
        .values("n")
    )
    queryset = Channel.objects.all() if queryset is None else queryset
    return queryset.annotate(
        recipients_24h=Coalesce(Subquery(counts, output_field=IntegerField()), 0)
    ).order_by("name", "pk")


def channel_unique_recipient_limit(channel: Channel) -> int | None:
    """The number's messaging limit; None when unlimited. While Meta has not told us the
    tier, MESSAGING_UNIQUE_RECIPIENT_LIMIT stands in (0: no limit)."""
    if channel.messaging_tier:
        try:
            return tier_limit(channel.messaging_tier)
        except ValueError:
            pass  # not a tier we can read: as if unknown
    return settings.MESSAGING_UNIQUE_RECIPIENT_LIMIT or None


def channel_budget_left(channel: Channel) -> int | None:
    """How many more people the number may reach with business-initiated messages now:
    the limit less the unique recipients of the moving 24 hours, never below 0; 0 while
    Meta restricts or bans the number; None when the limit is unlimited.

    The send policy asks this before a template outside the window is queued; campaigns ask
    it before a launch and while a campaign spread over the budget runs.
    """
    return _budget(channel, lambda: channel_recipients_24h(channel))


def _budget(channel: Channel, recipients: Callable[[], int]) -> int | None:
    if channel.number_status in BLOCKED_STATUSES:
        return 0
    limit = channel_unique_recipient_limit(channel)
    if limit is None:
        return None
    return max(0, limit - recipients())


@dataclass(frozen=True)
class ChannelHealth:
    """A number's health as staff and the API see it."""

    name: str
    phone_number_id: str
    display_phone_number: str
    quality: str
    quality_updated_at: datetime | None
    quality_source: str
    tier: str
    limit: int | None
    tier_updated_at: datetime | None
    tier_source: str
    status: str
    status_detail: str
    status_updated_at: datetime | None
    status_source: str
    recipients_24h: int
    budget_left: int | None
    updated_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def channel_health(channel: Channel) -> ChannelHealth:
    """Quality, tier and limit, status, each with when and from where, the unique recipients
    of the moving 24 hours and the budget left. One query (none for a channel from
    `channels_with_health`)."""
    recipients = channel_recipients_24h(channel)
    stamps = [channel.quality_updated_at, channel.tier_updated_at, channel.status_updated_at]
    return ChannelHealth(
        name=channel.name,
        phone_number_id=channel.phone_number_id,
        display_phone_number=channel.display_phone_number,
        quality=channel.quality_rating,
        quality_updated_at=channel.quality_updated_at,
        quality_source=channel.quality_source,
        tier=channel.messaging_tier,
        limit=channel_unique_recipient_limit(channel),
        tier_updated_at=channel.tier_updated_at,
        tier_source=channel.tier_source,
        status=channel.number_status,
        status_detail=channel.status_detail,
        status_updated_at=channel.status_updated_at,
        status_source=channel.status_source,
        recipients_24h=recipients,
        budget_left=_budget(channel, lambda: recipients),
        updated_at=max((s for s in stamps if s is not None), default=None),
    )


# Template statuses Meta is still deciding on: what staff wait for after submitting one.
AWAITING_REVIEW_STATUSES = (TemplateStatus.PENDING, TemplateStatus.IN_APPEAL)


def templates_awaiting_review() -> QuerySet[MessageTemplate]:
    """Templates Meta has not approved or rejected yet (submitted or appealed), on active
    channels, oldest change first."""
    return (
        MessageTemplate.objects.filter(status__in=AWAITING_REVIEW_STATUSES, channel__is_active=True)
        .select_related("channel")
        .order_by("updated_at", "pk")
    )


def template_list(
    *, q: str = "", status: str = "", category: str = "", channel: str | int = ""
) -> QuerySet[MessageTemplate]:
    """Templates for the staff page, with their channel, by name and language."""
    templates = MessageTemplate.objects.select_related("channel")
    if q:
        templates = templates.filter(name__icontains=q)
    if status:
        templates = templates.filter(status=status)
    if category:
        templates = templates.filter(category=category)
    if channel:
        templates = templates.filter(channel_id=channel)
    return templates.order_by("name", "language", "pk")


def template_status_counts() -> dict[str, int]:
    """How many templates are in each status (one query)."""
    rows = MessageTemplate.objects.order_by().values_list("status").annotate(n=Count("pk"))
    return dict(rows)


def template_events(template: MessageTemplate, *, limit: int = 50) -> list:
    """The template's history (`TemplateEvent`), newest first, with who acted."""
    return list(template.events.select_related("actor")[:limit])
