"""Conversions: record them once per reference, and attribute them to the message that last
touched the contact.

The attribution rule (README "Analytics"): among the contact's outbound messages that are a
campaign message, a content message (an announcement or what an unlock sent) or a
notification, and that are delivered or read (failed ones never count), take those whose
delivery time (`delivered_at`, or `read_at` when no delivery receipt came) lies within
ATTRIBUTION_WINDOW_DAYS before the conversion, the conversion's own instant included; the
latest one wins (ties: the newer message). None: `organic`. It is computed in SQL for a whole
queryset, on arrival and again when the conversion's day is rolled up.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import (
    Case,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from analytics.models import AttributionSource, ConversionEvent, ConversionType
from analytics.services.events import moment_mark_changed
from core.errors import DomainError
from messaging.hooks_out.services import event_emit, event_wanted
from messaging.models import (
    ContentDelivery,
    ContentUnlock,
    Direction,
    HookEvent,
    Message,
    Notification,
    Status,
)

logger = logging.getLogger(__name__)

FUTURE_TOLERANCE = timedelta(hours=1)
CENTS = Decimal("0.01")
COST_PLACES = Decimal("0.0001")


class ConversionInvalid(DomainError):
    code = "invalid_conversion"


def exchange_rate(currency: str) -> Decimal:
    """Units of ANALYTICS_CURRENCY per unit of `currency`; DomainError when unknown."""
    currency = (currency or settings.ANALYTICS_CURRENCY).upper()
    if currency == settings.ANALYTICS_CURRENCY.upper():
        return Decimal(1)
    rates = {k.upper(): v for k, v in (settings.ANALYTICS_EXCHANGE_RATES or {}).items()}
    try:
        return Decimal(str(rates[currency]))
    except (KeyError, InvalidOperation):
        raise ConversionInvalid(
            f"No exchange rate from {currency} to {settings.ANALYTICS_CURRENCY}: set "
            "ANALYTICS_EXCHANGE_RATES or send the value in the reporting currency.",
            code="unsupported_currency",
            details={"currency": currency},
        ) from None


def to_reporting_currency(amount: Decimal, currency: str) -> Decimal:
    """A conversion's value in ANALYTICS_CURRENCY; ConversionInvalid without a rate."""
    return (Decimal(amount) * exchange_rate(currency)).quantize(CENTS, rounding=ROUND_HALF_UP)


def cost_to_reporting_currency(amount: Decimal, currency: str) -> Decimal:
    """A message cost (the price card's currency) in ANALYTICS_CURRENCY, with the rates
    conversions use; four decimals, as costs are fractions of a cent. A currency without a
    rate counts one to one, with a warning (README "Message costs": set the rate)."""
    return (Decimal(amount) * _rate_or_one(currency)).quantize(COST_PLACES, rounding=ROUND_HALF_UP)


def _rate_or_one(currency: str) -> Decimal:
    try:
        return exchange_rate(currency)
    except ConversionInvalid:
        logger.warning(
            "no exchange rate for %s; counted as %s", currency, settings.ANALYTICS_CURRENCY
        )
        return Decimal(1)


def conversion_record(
    *,
    reference_id: str,
    type: str,
    contact,
    occurred_at: datetime | None = None,
    value: Decimal | int | str = 0,
    currency: str = "",
    name: str = "",
    page_name: str = "",
    session_id: str = "",
    source: str = "",
    created_by=None,
) -> tuple[ConversionEvent, bool]:
    """Record a conversion once per `reference_id` and attribute it.

    Returns (conversion, created): a repeated reference returns the first conversion unchanged,
    whatever the repeat carried. Raises ConversionInvalid for what the caller must fix.
    """
    reference_id = (reference_id or "").strip()
    if not reference_id:
        raise ConversionInvalid("reference_id is required.", details={"reference_id": "required"})
    existing = ConversionEvent.objects.filter(reference_id=reference_id).first()
    if existing is not None:
        return existing, False
    fields = _clean(
        type=type, occurred_at=occurred_at, value=value, currency=currency, name=name,
        page_name=page_name, session_id=session_id, source=source,
    )  # fmt: skip
    try:
        with transaction.atomic():
            conversion = ConversionEvent.objects.create(
                reference_id=reference_id[:200], contact=contact, created_by=_user(created_by),
                **fields,
            )  # fmt: skip
            conversions_attribute(ConversionEvent.objects.filter(pk=conversion.pk))
            _conversion_event(conversion)
    except IntegrityError:  # the same reference recorded concurrently: theirs is the first
        return ConversionEvent.objects.get(reference_id=reference_id), False
    conversion.refresh_from_db()
    moment_mark_changed(conversion.occurred_at)
    return conversion, True


def _user(user):
    return user if getattr(user, "pk", None) else None


def _clean(*, type, occurred_at, value, currency, name, page_name, session_id, source) -> dict:
    problems = {}
    if type not in ConversionType.values:
        problems["type"] = f"one of {', '.join(ConversionType.values)}"
    if type == ConversionType.PAGE_VIEW and not (page_name or "").strip():
        problems["page_name"] = "required for page_view"
    if type == ConversionType.CUSTOM and not (name or "").strip():
        problems["name"] = "required for custom events"
    try:
        amount = Decimal(str(value if value not in (None, "") else 0))
        if not amount.is_finite() or amount < 0:
            raise InvalidOperation
        amount = amount.quantize(CENTS, rounding=ROUND_HALF_UP)
        if amount >= Decimal("1e12"):
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        problems["value"] = "a non-negative amount below 10^12"
        amount = Decimal(0)
    currency = (currency or settings.ANALYTICS_CURRENCY).strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        problems["currency"] = "a three-letter ISO 4217 code"
    now = timezone.now()
    occurred_at = occurred_at or now
    if timezone.is_naive(occurred_at):
        problems["occurred_at"] = "needs a time zone (e.g. 2026-11-20T10:15:00+05:30)"
    elif occurred_at > now + FUTURE_TOLERANCE:
        problems["occurred_at"] = "is in the future"
    if problems:
        raise ConversionInvalid("The conversion is invalid; see details.", details=problems)
    return {
        "type": type,
        "name": (name or "").strip()[:100],
        "page_name": (page_name or "").strip()[:200],
        "session_id": (session_id or "").strip()[:200],
        "value": amount,
        "currency": currency,
        "value_base": to_reporting_currency(amount, currency),
        "occurred_at": occurred_at,
        "source": (source or "").strip()[:100],
    }


def _touches():
    """The attributable touches of OuterRef's contact, latest first."""

    window = timedelta(days=settings.ATTRIBUTION_WINDOW_DAYS)
    message = OuterRef("pk")
    return (
        Message.objects.filter(
            contact_id=OuterRef("contact_id"),
            direction=Direction.OUTBOUND,
            status__in=[Status.DELIVERED, Status.READ],
        )
        .annotate(touch=Coalesce("delivered_at", "read_at"))
        .annotate(
            touch_end=ExpressionWrapper(F("touch") + Value(window), output_field=DateTimeField())
        )
        .filter(touch__lte=OuterRef("occurred_at"), touch_end__gte=OuterRef("occurred_at"))
        .filter(
            Q(campaign__isnull=False)
            | Exists(ContentDelivery.objects.filter(message_id=message))
            | Exists(ContentUnlock.objects.filter(message_id=message))
            | Exists(Notification.objects.filter(message_id=message))
        )
        .order_by("-touch", "-pk")
    )


def conversions_attribute(conversions: QuerySet[ConversionEvent]) -> int:
    """(Re)compute the attribution of `conversions` in three UPDATE statements."""

    updated = conversions.update(attributed_message=Subquery(_touches().values("pk")[:1]))
    if not updated:
        return 0
    attributed = OuterRef("attributed_message_id")
    message = Message.objects.filter(pk=attributed)
    conversions.update(
        attributed_campaign=Subquery(message.values("campaign_id")[:1]),
        attributed_channel=Subquery(message.values("channel_id")[:1]),
        touched_at=Subquery(
            message.annotate(touch=Coalesce("delivered_at", "read_at")).values("touch")[:1]
        ),
        attributed_content_item=Coalesce(
            Subquery(
                ContentDelivery.objects.filter(message_id=attributed).values("content_item_id")[:1]
            ),
            Subquery(
                ContentUnlock.objects.filter(message_id=attributed).values(
                    "delivery__content_item_id"
                )[:1]
            ),
        ),
        attributed_notification=Subquery(
            Notification.objects.filter(message_id=attributed).values("pk")[:1]
        ),
    )
    conversions.update(
        attribution_source=Case(
            When(attributed_campaign__isnull=False, then=Value(AttributionSource.CAMPAIGN)),
            When(attributed_content_item__isnull=False, then=Value(AttributionSource.CONTENT)),
            When(attributed_notification__isnull=False, then=Value(AttributionSource.NOTIFICATION)),
            default=Value(AttributionSource.ORGANIC),
        )
    )
    return updated


def revenue_types() -> list[str]:
    """The conversion types whose value is revenue; a page view never is, whatever the setting."""
    return [
        t
        for t in settings.ANALYTICS_REVENUE_TYPES
        if t in ConversionType.values and t != ConversionType.PAGE_VIEW
    ]


def _conversion_event(conversion: ConversionEvent) -> None:
    """The `conversion.created` event webhook, in the transaction that records it (after the
    attribution, which it reports)."""
    if not event_wanted(HookEvent.CONVERSION_CREATED):
        return
    conversion.refresh_from_db()
    message_uuid = (
        Message.objects.filter(pk=conversion.attributed_message_id)
        .values_list("uuid", flat=True)
        .first()
        if conversion.attributed_message_id
        else None
    )
    event_emit(
        event_type=HookEvent.CONVERSION_CREATED,
        data={
            "conversion": {
                "id": conversion.pk,
                "reference_id": conversion.reference_id,
                "type": conversion.type,
                "name": conversion.name,
                "value": str(conversion.value),
                "currency": conversion.currency,
                "occurred_at": conversion.occurred_at.isoformat(),
                "contact_id": conversion.contact_id,
                "source": conversion.source,
                "attribution": {
                    "source": conversion.attribution_source,
                    "message_id": str(message_uuid) if message_uuid else None,
                    "campaign_id": conversion.attributed_campaign_id,
                    "content_item_id": conversion.attributed_content_item_id,
                    "notification_id": conversion.attributed_notification_id,
                },
            }
        },
        ordering_key=f"contact:{conversion.contact_id}",
    )
