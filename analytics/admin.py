"""Every analytics table in the admin, read-only (events come from signals and the API, rollups
from `rollup_analytics`), each with filters and a formula-safe CSV export action."""

from __future__ import annotations

from django.contrib import admin
from django.http import StreamingHttpResponse
from django.utils import timezone

from analytics.models import (
    AppError,
    ButtonClick,
    ButtonDaily,
    CampaignPerformance,
    ContentPerformance,
    ConversionEvent,
    CustomerMetrics,
    DailySnapshot,
    HealthSample,
    JobRun,
    QualityRating,
    RollupDirtyDay,
    RollupState,
)
from core.csv_safe import csv_stream


@admin.action(description="Export selected rows as CSV")
def export_csv(modeladmin, request, queryset):
    fields = list(queryset.model._meta.concrete_fields)
    header = [f.attname for f in fields]
    rows = ([getattr(obj, f.attname) for f in fields] for obj in queryset.order_by("pk").iterator())
    name = queryset.model._meta.model_name
    response = StreamingHttpResponse(csv_stream(header, rows), content_type="text/csv")
    response["Content-Disposition"] = (
        f'attachment; filename="{name}-{timezone.now():%Y%m%d-%H%M}.csv"'
    )
    return response


class ReadOnlyAdmin(admin.ModelAdmin):
    actions = [export_csv]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ButtonClick)
class ButtonClickAdmin(ReadOnlyAdmin):
    list_display = ["clicked_at", "label", "payload", "contact", "campaign", "content_item",
                    "delay_seconds"]  # fmt: skip
    list_filter = ["kind", "clicked_at", "campaign"]
    search_fields = ["payload", "title", "label", "contact__phone"]
    list_select_related = ["contact", "campaign", "content_item"]
    raw_id_fields = ["message", "replied_to", "contact"]
    date_hierarchy = "clicked_at"


@admin.register(ConversionEvent)
class ConversionEventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "reference_id", "type", "value", "currency", "contact",
                    "attribution_source", "attributed_campaign"]  # fmt: skip
    list_filter = ["type", "attribution_source", "currency", "occurred_at"]
    search_fields = ["reference_id", "contact__phone", "contact__name"]
    list_select_related = ["contact", "attributed_campaign"]
    date_hierarchy = "occurred_at"


@admin.register(QualityRating)
class QualityRatingAdmin(ReadOnlyAdmin):
    list_display = ["rated_at", "answer", "rating", "previous", "responder", "topic", "rated_by"]
    list_filter = ["rating", "responder", "rated_at"]
    search_fields = ["topic"]
    list_select_related = ["answer", "rated_by"]


@admin.register(DailySnapshot)
class DailySnapshotAdmin(ReadOnlyAdmin):
    list_display = ["day", "channel", "sent", "delivered", "read", "failed", "inbound",
                    "conversions", "revenue", "cost", "computed_at"]  # fmt: skip
    list_filter = ["channel", "day"]
    list_select_related = ["channel"]
    date_hierarchy = "day"


@admin.register(CampaignPerformance)
class CampaignPerformanceAdmin(ReadOnlyAdmin):
    list_display = ["campaign", "day", "targeted", "sent", "delivered", "read", "failed",
                    "replied", "clicked", "converted", "revenue", "cost", "roi"]  # fmt: skip
    list_filter = [("day", admin.EmptyFieldListFilter), "day", "campaign"]
    list_select_related = ["campaign"]
    search_fields = ["campaign__name"]


@admin.register(ButtonDaily)
class ButtonDailyAdmin(ReadOnlyAdmin):
    list_display = ["day", "label", "clicks", "contacts", "average_delay_seconds"]
    list_filter = ["day"]
    search_fields = ["label"]
    date_hierarchy = "day"


@admin.register(ContentPerformance)
class ContentPerformanceAdmin(ReadOnlyAdmin):
    list_display = ["content_item", "announced", "delivered", "read", "unlocked", "link_clicks",
                    "delivery_rate", "unlock_rate", "computed_at"]  # fmt: skip
    list_select_related = ["content_item"]
    list_filter = ["content_item__state"]
    search_fields = ["content_item__title"]


@admin.register(CustomerMetrics)
class CustomerMetricsAdmin(ReadOnlyAdmin):
    list_display = ["contact", "lifetime_value", "orders", "last_order_at", "recency_score",
                    "frequency_score", "monetary_score", "segment", "churn_risk", "tier",
                    "read_rate"]  # fmt: skip
    list_filter = ["segment", "tier", "churn_risk"]
    search_fields = ["contact__phone", "contact__name"]
    list_select_related = ["contact"]
    raw_id_fields = ["contact"]


@admin.register(RollupDirtyDay)
class RollupDirtyDayAdmin(ReadOnlyAdmin):
    list_display = ["day", "marked_at"]
    list_filter = ["marked_at"]


@admin.register(RollupState)
class RollupStateAdmin(ReadOnlyAdmin):
    list_display = ["name", "computed_at", "watermark"]
    list_filter = ["name"]


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    list_display = ["name", "state", "trigger", "started_by", "created_at", "finished_at"]
    list_filter = ["name", "state", "trigger", "created_at"]
    list_select_related = ["started_by"]


@admin.register(AppError)
class AppErrorAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "level", "logger", "message", "request_id"]
    list_filter = ["level", "created_at"]
    search_fields = ["message", "logger", "request_id"]


@admin.register(HealthSample)
class HealthSampleAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "ok"]
    list_filter = ["ok", "created_at"]
