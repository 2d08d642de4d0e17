"""The cost Parley stores on each outbound message (README "Message costs").

A message is priced when Meta reports it sent (or delivered, or read: whichever status
arrives first), with the price card in effect on that (UTC) day, Meta's `pricing.category`
when the webhook carried one (else the template's category; a free-form message is service)
and the recipient's country. `pricing.type` `free_customer_service` / `free_entry_point` costs
0; a failed message costs 0. The status path (`statuses`) prices a whole batch with one query
for the recipients and one price book; `messages_cost_backfill` prices rows written before
costs were stored (or after a card was corrected), in batches.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Q

from core.bulk import update_from_values
from messaging.channels.pricing import (
    Price,
    PriceBook,
    price_book_load,
    pricing_category,
    recipient_market,
)
from messaging.sending.models import Direction, Message, Status

logger = logging.getLogger(__name__)

ZERO = Decimal("0")
BACKFILL_BATCH = 2000
_CHUNK = 1000


@dataclass(frozen=True)
class CostInput:
    """What pricing one message needs beyond its row: Meta's pricing object (the newest one
    the batch carried, or the stored one) and when it was sent."""

    pk: int
    pricing: dict[str, Any]
    sent_at: datetime


def messages_price(
    items: Iterable[CostInput], *, book: PriceBook | None = None
) -> dict[int, Price]:
    """Price these messages: {pk: Price}. Messages sent before the first price card get
    no price (they are left empty)."""
    items = list(items)
    if not items:
        return {}
    book = book if book is not None else price_book_load()
    if not book.cards:
        return {}
    recipients: dict[int, tuple[str | None, str, str | None]] = {}
    for start in range(0, len(items), _CHUNK):
        chunk = [item.pk for item in items[start : start + _CHUNK]]
        for pk, phone, wa_id, category in Message.objects.filter(pk__in=chunk).values_list(
            "pk", "contact__phone", "wa_id", "template__category"
        ):
            recipients[pk] = (phone, wa_id, category)
    out: dict[int, Price] = {}
    for item in items:
        if item.pk not in recipients:
            continue
        phone, wa_id, template_category = recipients[item.pk]
        price = book.price(
            category=pricing_category(pricing=item.pricing, template_category=template_category),
            market=recipient_market(phone=phone, wa_id=wa_id),
            day=item.sent_at.astimezone(UTC).date(),
            pricing_type=str(item.pricing.get("type") or ""),
        )
        if price is not None:
            out[item.pk] = price
    return out


def _sent_moment(row: dict[str, Any]) -> datetime | None:
    return row.get("sent_at") or row.get("delivered_at") or row.get("read_at")


def messages_cost_backfill(
    *, recompute: bool = False, since: datetime | None = None, batch_size: int = BACKFILL_BATCH
) -> int:
    """Store the cost of outbound messages that have none yet (`recompute`: of every message,
    e.g. after a price card was corrected), in batches by id. `since`: only messages created
    from then. Returns how many messages got a cost."""
    rows = Message.objects.filter(direction=Direction.OUTBOUND).filter(
        Q(sent_at__isnull=False)
        | Q(delivered_at__isnull=False)
        | Q(read_at__isnull=False)
        | Q(status=Status.FAILED)
    )
    if not recompute:
        rows = rows.filter(cost__isnull=True)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    book = price_book_load()
    done, last = 0, 0
    fields = ("pk", "status", "pricing", "sent_at", "delivered_at", "read_at")
    while True:
        batch = list(rows.filter(pk__gt=last).order_by("pk").values(*fields)[:batch_size])
        if not batch:
            return done
        last = batch[-1]["pk"]
        failed = [row["pk"] for row in batch if row["status"] == Status.FAILED]
        prices = messages_price(
            (
                CostInput(row["pk"], row["pricing"] or {}, _sent_moment(row))
                for row in batch
                if row["status"] != Status.FAILED and _sent_moment(row) is not None
            ),
            book=book,
        )
        updates = [(pk, {"cost": ZERO, "cost_currency": ""}) for pk in failed]
        updates += [
            (pk, {"cost": price.amount, "cost_currency": price.currency})
            for pk, price in prices.items()
        ]
        update_from_values(Message, updates, fields=("cost", "cost_currency"))
        done += len(updates)
        logger.info("message costs: %s stored (to id %s)", done, last)
