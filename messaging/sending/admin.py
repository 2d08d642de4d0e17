from django.contrib import admin

from core.admin import ReadOnlyModelAdmin
from messaging.sending.models import Message, MessageStatusEvent


class StatusEventInline(admin.TabularInline):
    model = MessageStatusEvent
    fields = ["status", "timestamp", "errors", "applied", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["timestamp"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Message)
class MessageAdmin(ReadOnlyModelAdmin):
    """Read-only: messages change only through the send and webhook paths."""

    list_display = [
        "uuid", "direction", "type", "contact", "channel", "status", "error_code", "created_at",
    ]  # fmt: skip
    list_filter = ["direction", "status", "type", "lane", "channel", "created_at"]
    search_fields = ["uuid", "wamid", "contact__phone", "contact__name", "error_title"]
    list_select_related = ["contact", "channel"]
    date_hierarchy = "created_at"
    inlines = [StatusEventInline]
