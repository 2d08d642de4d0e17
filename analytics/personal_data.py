"""What analytics holds about a contact, for erasure and the right of access (registered with
`crm.extensions.personal_data_register` in `AnalyticsConfig.ready()`).

Conversions and button taps stay for revenue and campaign figures (they hang from the
pseudonymous record after an erasure); what could identify the person in them goes: the
caller's session id and the page name of a conversion.
"""

from __future__ import annotations

from typing import Any

from analytics.models import ButtonClick, ConversionEvent, CustomerMetrics
from crm.extensions import personal_data_register
from crm.models import Contact


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def contact_analytics_erase(contact: Contact) -> dict[str, int]:
    conversions = (
        ConversionEvent.objects.filter(contact=contact)
        .exclude(session_id="", page_name="")
        .update(session_id="", page_name="")
    )
    return {"conversions": conversions}


def contact_analytics_export(contact: Contact) -> dict[str, Any]:
    metrics = CustomerMetrics.objects.filter(contact=contact).first()
    return {
        "conversions": [
            {
                "reference_id": c.reference_id, "type": c.type, "name": c.name,
                "page_name": c.page_name, "session_id": c.session_id, "value": str(c.value),
                "currency": c.currency, "occurred_at": _iso(c.occurred_at),
                "source": c.source, "attribution": c.attribution_source,
                "attributed_campaign": c.attributed_campaign_id,
            }
            for c in ConversionEvent.objects.filter(contact=contact).order_by("occurred_at", "id")
        ],
        "button_clicks": [
            {
                "payload": b.payload, "title": b.title, "at": _iso(b.clicked_at),
                "campaign": b.campaign_id, "message": b.message_id,
            }
            for b in ButtonClick.objects.filter(contact=contact).order_by("clicked_at", "id")
        ],
        "customer_metrics": None if metrics is None else {
            field.name: str(getattr(metrics, field.attname))
            for field in CustomerMetrics._meta.concrete_fields
            if field.name not in ("id", "contact")
        },
    }  # fmt: skip


def personal_data_register_analytics() -> None:
    personal_data_register(
        "analytics", erase=contact_analytics_erase, export=contact_analytics_export, order=20
    )
