"""Admin for event webhooks: browse subscriptions and deliveries. They are managed on the
staff page (/staff/integrations/webhooks/), which shows a secret once and audits changes; the
admin never shows a secret."""

from django.contrib import admin

from core.admin import ReadOnlyModelAdmin
from messaging.hooks_out.models import WebhookDelivery, WebhookSubscription


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ReadOnlyModelAdmin):
    list_display = ["name", "url", "is_active", "failing_since", "last_success_at", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "url"]
    exclude = ["secret"]

    def get_readonly_fields(self, request, obj=None):
        return [name for name in super().get_readonly_fields(request, obj) if name != "secret"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyModelAdmin):
    list_display = [
        "created_at", "subscription", "event_type", "event_id", "state", "attempts",
        "status_code", "latency_ms",
    ]  # fmt: skip
    list_filter = ["state", "event_type"]
    search_fields = ["=event_id", "ordering_key"]
    list_select_related = ["subscription"]
    raw_id_fields = ["subscription", "replay_of"]
