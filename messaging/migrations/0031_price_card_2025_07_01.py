"""Meta's per-message rates of 1 July 2025 (the launch of per-message pricing) for a few
common markets, and the cost of every outbound message already stored, priced with them.

USD per delivered template message. Meta publishes the authoritative card on "Pricing on the
WhatsApp Business Platform" (https://developers.facebook.com/docs/whatsapp/pricing, rate card
download); it could not be fetched when this was written, so these are the launch rates the
issue gave (issue 18), cross-checked in order of magnitude against third-party copies of the
card (e.g. India marketing INR 0.7846, utility and authentication INR 0.115, nextwebi.com
2025). North America is Meta's market for the United States and Canada; every other country
pays "Rest of World". Service messages are free. Operators keep the card current in the admin
(README "Message costs").
"""

from datetime import UTC, date
from decimal import Decimal

from django.db import migrations

SOURCE = (
    "Meta per-message launch rates, 2025-07-01, as given in issue 18; check against "
    "https://developers.facebook.com/docs/whatsapp/pricing"
)
# market: (marketing, utility, authentication); "" is Rest of World.
RATES = {
    "IN": ("0.0107", "0.0014", "0.0014"),
    "BR": ("0.0625", "0.0068", "0.0315"),
    "ID": ("0.0411", "0.0250", "0.0300"),
    "MX": ("0.0305", "0.0085", "0.0239"),
    "US": ("0.0250", "0.0034", "0.0135"),
    "CA": ("0.0250", "0.0034", "0.0135"),
    "GB": ("0.0529", "0.0220", "0.0358"),
    "AE": ("0.0384", "0.0157", "0.0178"),
    "": ("0.0604", "0.0077", "0.0280"),
}
BATCH = 2000


def seed_card(apps, schema_editor):
    PriceCard = apps.get_model("messaging", "PriceCard")
    PriceRate = apps.get_model("messaging", "PriceRate")
    card, created = PriceCard.objects.get_or_create(
        effective_from=date(2025, 7, 1),
        defaults={"name": "Meta per-message rates", "currency": "USD", "source": SOURCE},
    )
    if not created:
        return
    rows = []
    for market, (marketing, utility, authentication) in RATES.items():
        for category, rate in (
            ("marketing", marketing),
            ("utility", utility),
            ("authentication", authentication),
            ("service", "0"),
        ):
            rows.append(PriceRate(card=card, market=market, category=category, rate=Decimal(rate)))
    PriceRate.objects.bulk_create(rows)


def price_existing(apps, schema_editor):
    """Messages stored before costs were: priced like the status path prices them."""
    from messaging.channels.pricing import price_book_build, pricing_category, recipient_market

    PriceCard = apps.get_model("messaging", "PriceCard")
    PriceRate = apps.get_model("messaging", "PriceRate")
    Message = apps.get_model("messaging", "Message")
    book = price_book_build(
        PriceCard.objects.values("pk", "effective_from", "currency"),
        PriceRate.objects.values_list("card_id", "market", "category", "rate"),
    )
    last = 0
    while True:
        batch = list(
            Message.objects.filter(direction="out", pk__gt=last, cost__isnull=True)
            .order_by("pk")
            .values(
                "pk", "status", "pricing", "sent_at", "delivered_at", "read_at", "wa_id",
                "contact__phone", "template__category",
            )[:BATCH]
        )  # fmt: skip
        if not batch:
            return
        last = batch[-1]["pk"]
        updates = []
        for row in batch:
            sent = row["sent_at"] or row["delivered_at"] or row["read_at"]
            if row["status"] == 70:  # failed
                updates.append(Message(pk=row["pk"], cost=Decimal(0), cost_currency=""))
                continue
            if sent is None:
                continue
            pricing = row["pricing"] or {}
            price = book.price(
                category=pricing_category(
                    pricing=pricing, template_category=row["template__category"]
                ),
                market=recipient_market(phone=row["contact__phone"], wa_id=row["wa_id"]),
                day=sent.astimezone(UTC).date(),
                pricing_type=str(pricing.get("type") or ""),
            )
            if price is not None:
                updates.append(
                    Message(pk=row["pk"], cost=price.amount, cost_currency=price.currency)
                )
        Message.objects.bulk_update(updates, ["cost", "cost_currency"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("messaging", "0030_price_card_message_cost")]

    operations = [
        migrations.RunPython(seed_card, migrations.RunPython.noop),
        migrations.RunPython(price_existing, migrations.RunPython.noop),
    ]
