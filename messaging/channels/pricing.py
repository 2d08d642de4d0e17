"""What a message costs, from Meta's price card (README "Message costs").

Meta charges per delivered template message, by the template's category and the recipient's
country calling code (since 1 July 2025, "PMP" pricing); non-template messages (service
replies inside the customer-service window) are free, and so is anything Meta's status
webhook marks `pricing.type` `free_customer_service` or `free_entry_point`. The rules here are
pure: the price book (every card with its rates) is loaded once per batch and asked per
message, so pricing a batch of statuses costs one query for the cards, whatever its size.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import phonenumbers

from messaging.channels.models import PriceCard, PriceRate, PricingCategory

FREE_PRICING_TYPES = frozenset({"free_customer_service", "free_entry_point"})
ZERO = Decimal("0")
# Meta's sub-categories priced like their parent (authentication to another country is a
# separate rate in some markets: give the market an `authentication` rate for it).
_CATEGORY_ALIASES = {
    "authentication_international": PricingCategory.AUTHENTICATION,
    "marketing_lite": PricingCategory.MARKETING,
}


def pricing_category(*, pricing: dict | None, template_category: str | None) -> str:
    """The category a message is priced in: Meta's `pricing.category` when the status webhook
    carried one, else its template's category, else service (a free-form message)."""
    meta = str((pricing or {}).get("category") or "").strip().lower()
    meta = _CATEGORY_ALIASES.get(meta, meta)
    if meta in PricingCategory.values:
        return meta
    template = (template_category or "").strip().lower()
    if template in PricingCategory.values:
        return template
    return PricingCategory.SERVICE


def recipient_market(*, phone: str | None, wa_id: str | None = None) -> str:
    """The recipient's country (ISO 3166 alpha-2) from the E.164 number (or the WhatsApp id,
    which is the number without `+`); empty when unknown, which prices as Rest of World."""
    for raw in (phone, f"+{wa_id}" if wa_id and wa_id.isdigit() else None):
        if not raw:
            continue
        try:
            region = phonenumbers.region_code_for_number(phonenumbers.parse(raw, None))
        except phonenumbers.NumberParseException:
            continue
        if region and region != "ZZ":
            return region
    return ""


@dataclass(frozen=True)
class Price:
    amount: Decimal
    currency: str


@dataclass
class PriceBook:
    """Every price card, oldest first, with its rates by (market, category)."""

    starts: list[date] = field(default_factory=list)
    cards: list[tuple[str, dict[tuple[str, str], Decimal]]] = field(default_factory=list)

    def card_on(self, day: date) -> tuple[str, dict[tuple[str, str], Decimal]] | None:
        index = bisect.bisect_right(self.starts, day) - 1
        return self.cards[index] if index >= 0 else None

    def price(
        self, *, category: str, market: str, day: date, pricing_type: str | None = None
    ) -> Price | None:
        """The price of one message sent on `day`; None when no card was in effect yet."""
        card = self.card_on(day)
        if card is None:
            return None
        currency, rates = card
        if (pricing_type or "") in FREE_PRICING_TYPES:
            return Price(ZERO, currency)
        rate = rates.get((market, category))
        if rate is None:
            rate = rates.get(("", category), ZERO)
        return Price(rate, currency)


def price_book_build(cards, rates) -> PriceBook:
    """A price book from card rows ({pk, effective_from, currency}) and rate tuples (card id,
    market, category, rate); shared with the data migration that prices existing messages."""
    cards = sorted(cards, key=lambda card: card["effective_from"])
    by_card: dict[int, dict[tuple[str, str], Decimal]] = {card["pk"]: {} for card in cards}
    for card_id, market, category, rate in rates:
        if card_id in by_card:
            by_card[card_id][((market or "").upper(), category)] = Decimal(rate)
    return PriceBook(
        starts=[card["effective_from"] for card in cards],
        cards=[(card["currency"].upper(), by_card[card["pk"]]) for card in cards],
    )


def price_book_load() -> PriceBook:
    """The price book as it is now (two queries)."""
    return price_book_build(
        PriceCard.objects.values("pk", "effective_from", "currency"),
        PriceRate.objects.values_list("card_id", "market", "category", "rate"),
    )


def price_card_current(*, on: date) -> PriceCard | None:
    """The card in effect on `on`, with its rates (for the read-only display)."""
    return (
        PriceCard.objects.filter(effective_from__lte=on)
        .prefetch_related("rates")
        .order_by("-effective_from")
        .first()
    )
