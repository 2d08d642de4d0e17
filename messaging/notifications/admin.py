"""Admin for notification types, the notification log and preference changes."""

from django.contrib import admin

from core.admin import ReadOnlyModelAdmin
from messaging.notifications.models import (
    Notification,
    NotificationPreference,
    NotificationPreferenceEvent,
    NotificationType,
)
from messaging.notifications.services import notification_required_variables


@admin.register(NotificationType)
class NotificationTypeAdmin(admin.ModelAdmin):
    """Map each event type to a template (by name and language) and switch it on or off."""

    list_display = ["code", "name", "template_name", "template_language", "enabled", "needs"]
    list_editable = ["enabled"]
    list_filter = ["enabled"]
    search_fields = ["code", "name", "template_name"]
    actions = ["enable", "disable"]
    readonly_fields = ["created_at", "updated_at"]

    @admin.display(description="variables needed")
    def needs(self, event_type):
        return ", ".join(notification_required_variables(event_type)) or "—"

    @admin.action(description="Enable selected types", permissions=["change"])
    def enable(self, request, queryset):
        self.message_user(request, f"Enabled {queryset.update(enabled=True)} type(s).")

    @admin.action(description="Disable selected types", permissions=["change"])
    def disable(self, request, queryset):
        self.message_user(request, f"Disabled {queryset.update(enabled=False)} type(s).")


@admin.register(Notification)
class NotificationAdmin(ReadOnlyModelAdmin):
    list_display = [
        "reference_id",
        "event_type",
        "contact",
        "attempt",
        "shown_status",
        "created_at",
    ]
    list_filter = ["event_type", "refusal_code", "created_at"]
    search_fields = ["=reference_id", "contact__phone", "contact__name"]
    list_select_related = ["event_type", "contact", "message"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    @admin.display(description="status")
    def shown_status(self, notification):
        return notification.status


@admin.register(NotificationPreferenceEvent)
class NotificationPreferenceEventAdmin(ReadOnlyModelAdmin):
    list_display = ["contact", "event_type", "opted_out", "source", "actor", "created_at"]
    list_filter = ["source", "opted_out", "event_type"]
    search_fields = ["contact__phone", "contact__name"]
    list_select_related = ["contact", "event_type", "actor"]


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(ReadOnlyModelAdmin):
    """Contacts' current choices; they change on the contact's page or through the API, so
    each change leaves a preference event."""

    list_display = ["contact", "event_type", "opted_out", "updated_at"]
    list_filter = ["opted_out", "event_type"]
    search_fields = ["contact__phone", "contact__name"]
    list_select_related = ["contact", "event_type"]
