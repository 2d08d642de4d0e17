from django.contrib import admin

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
class MessageAdmin(admin.ModelAdmin):
    """Read-only: messages change only through the send and webhook paths."""

    list_display = [
        "uuid", "direction", "type", "contact", "channel", "status", "error_code", "created_at",
    ]  # fmt: skip
    list_filter = ["direction", "status", "type", "lane", "channel", "created_at"]
    search_fields = ["uuid", "wamid", "contact__phone", "contact__name", "error_title"]
    list_select_related = ["contact", "channel"]
    date_hierarchy = "created_at"
    inlines = [StatusEventInline]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
