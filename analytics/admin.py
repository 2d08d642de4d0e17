"""Every analytics table in the admin, read-only (events come from signals and the API, rollups
from `rollup_analytics`), each with filters and a formula-safe CSV export action."""

from __future__ import annotations

from django.contrib import admin

from analytics.models import (
    ButtonClick,
    ButtonDaily,
    CampaignPerformance,
    ContentPerformance,
    ConversionEvent,
    CustomerMetrics,
    DailySnapshot,
    QualityRating,
    RollupDirtyDay,
    RollupState,
    TemplateDaily,
)
from core.admin import ReadOnlyExportAdmin


@admin.register(ButtonClick)
class ButtonClickAdmin(ReadOnlyExportAdmin):
    list_display = ["clicked_at", "label", "payload", "contact", "campaign", "content_item",
                    "delay_seconds"]  # fmt: skip
    list_filter = ["kind", "clicked_at", "campaign"]
    search_fields = ["payload", "title", "label", "contact__phone"]
    list_select_related = ["contact", "campaign", "content_item"]
    raw_id_fields = ["message", "replied_to", "contact"]
    date_hierarchy = "clicked_at"


@admin.register(ConversionEvent)
class ConversionEventAdmin(ReadOnlyExportAdmin):
    list_display = ["occurred_at", "reference_id", "type", "value", "currency", "contact",
                    "attribution_source", "attributed_campaign"]  # fmt: skip
    list_filter = ["type", "attribution_source", "currency", "occurred_at"]
    search_fields = ["reference_id", "contact__phone", "contact__name"]
    list_select_related = ["contact", "attributed_campaign"]
    date_hierarchy = "occurred_at"


@admin.register(QualityRating)
class QualityRatingAdmin(ReadOnlyExportAdmin):
    list_display = ["rated_at", "answer", "rating", "previous", "responder", "topic", "rated_by"]
    list_filter = ["rating", "responder", "rated_at"]
    search_fields = ["topic"]
    list_select_related = ["answer", "rated_by"]


@admin.register(DailySnapshot)
class DailySnapshotAdmin(ReadOnlyExportAdmin):
    list_display = ["day", "channel", "sent", "delivered", "read", "failed", "inbound",
                    "conversions", "revenue", "cost", "computed_at"]  # fmt: skip
    list_filter = ["channel", "day"]
    list_select_related = ["channel"]
    date_hierarchy = "day"


@admin.register(CampaignPerformance)
class CampaignPerformanceAdmin(ReadOnlyExportAdmin):
    list_display = ["campaign", "day", "targeted", "sent", "delivered", "read", "failed",
                    "replied", "clicked", "converted", "revenue", "cost", "roi"]  # fmt: skip
    list_filter = [("day", admin.EmptyFieldListFilter), "day", "campaign"]
    list_select_related = ["campaign"]
    search_fields = ["campaign__name"]


@admin.register(ButtonDaily)
class ButtonDailyAdmin(ReadOnlyExportAdmin):
    list_display = ["day", "label", "clicks", "contacts", "average_delay_seconds"]
    list_filter = ["day"]
    search_fields = ["label"]
    date_hierarchy = "day"


@admin.register(TemplateDaily)
class TemplateDailyAdmin(ReadOnlyExportAdmin):
    list_display = ["day", "template", "sent", "delivered", "read", "failed", "cost"]
    list_filter = ["day"]
    search_fields = ["template__name"]
    list_select_related = ["template"]
    date_hierarchy = "day"


@admin.register(ContentPerformance)
class ContentPerformanceAdmin(ReadOnlyExportAdmin):
    list_display = ["content_item", "announced", "delivered", "read", "unlocked", "link_clicks",
                    "delivery_rate", "unlock_rate", "computed_at"]  # fmt: skip
    list_select_related = ["content_item"]
    list_filter = ["content_item__state"]
    search_fields = ["content_item__title"]


@admin.register(CustomerMetrics)
class CustomerMetricsAdmin(ReadOnlyExportAdmin):
    list_display = ["contact", "lifetime_value", "orders", "last_order_at", "recency_score",
                    "frequency_score", "monetary_score", "segment", "churn_risk", "tier",
                    "read_rate"]  # fmt: skip
    list_filter = ["segment", "tier", "churn_risk"]
    search_fields = ["contact__phone", "contact__name"]
    list_select_related = ["contact"]
    raw_id_fields = ["contact"]


@admin.register(RollupDirtyDay)
class RollupDirtyDayAdmin(ReadOnlyExportAdmin):
    list_display = ["day", "marked_at"]
    list_filter = ["marked_at"]


@admin.register(RollupState)
class RollupStateAdmin(ReadOnlyExportAdmin):
    list_display = ["name", "computed_at", "watermark"]
    list_filter = ["name"]


# The operations centre's tables register themselves.
from analytics.ops import admin as ops_admin  # noqa: E402, F401
