from django.contrib import admin, messages

from core.admin import ReadOnlyModelAdmin
from messaging.sending.models import UNCONFIRMED, ConversationEvent, Message, MessageStatusEvent
from messaging.sending.unconfirmed import messages_resend


class StatusEventInline(admin.TabularInline):
    model = MessageStatusEvent
    fields = ["status", "timestamp", "errors", "applied", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["timestamp"]

    def has_add_permission(self, request, obj=None):
        return False


class ConfirmationFilter(admin.SimpleListFilter):
    """Unknown sends no webhook settled in time, and what staff did about them."""

    title = "confirmation"
    parameter_name = "confirmation"

    def lookups(self, request, model_admin):
        return [
            ("unconfirmed", "Unconfirmed (may have arrived)"),
            ("resent", "Unconfirmed, sent again"),
            ("resend", "Sent again (the new message)"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "unconfirmed":
            return queryset.filter(UNCONFIRMED)
        if self.value() == "resent":
            return queryset.filter(resent_as__isnull=False)
        if self.value() == "resend":
            return queryset.filter(resent_from__isnull=False)
        return queryset


@admin.register(Message)
class MessageAdmin(ReadOnlyModelAdmin):
    """Read-only: messages change only through the send and webhook paths. The one action is a
    person's decision to send unconfirmed messages again (each as a new message).

    Bodies are shown to the roles that read conversations in the inbox; the reporting
    permission on messages alone (Content reviewer) does not open them here."""

    staff_permissions = ("messaging.view_conversation",)

    list_display = [
        "uuid", "direction", "type", "contact", "channel", "status", "unconfirmed", "error_code",
        "created_at",
    ]  # fmt: skip
    list_filter = [
        ConfirmationFilter, "direction", "status", "type", "lane", "channel", "created_at",
    ]  # fmt: skip
    search_fields = ["uuid", "wamid", "contact__phone", "contact__name", "error_title"]
    list_select_related = ["contact", "channel"]
    date_hierarchy = "created_at"
    inlines = [StatusEventInline]
    actions = ["resend_unconfirmed"]

    @admin.display(boolean=True, description="unconfirmed")
    def unconfirmed(self, message):
        return message.unconfirmed

    def has_resend_permission(self, request):
        return request.user.has_perm("messaging.resend_message")

    @admin.action(description="Send again (unconfirmed messages only)", permissions=["resend"])
    def resend_unconfirmed(self, request, queryset):
        report = messages_resend(messages=queryset.order_by("pk"), actor=request.user)
        if report.resent:
            self.message_user(request, f"{len(report.resent)} message(s) sent again.")
        if report.already:
            self.message_user(
                request, f"{report.already} had already been sent again.", messages.WARNING
            )
        for message, reason in report.refused[:10]:
            self.message_user(request, f"{message.uuid}: {reason}", messages.ERROR)
        if len(report.refused) > 10:
            self.message_user(
                request, f"... and {len(report.refused) - 10} more refused.", messages.ERROR
            )


@admin.register(ConversationEvent)
class ConversationEventAdmin(ReadOnlyModelAdmin):
    """Append-only history of conversations (openings, first responses, closes, assignments)."""

    list_display = ["at", "conversation", "kind", "actor", "assignee", "automated", "seconds"]
    list_filter = ["kind", "automated", "at"]
    list_select_related = ["conversation", "actor", "assignee"]
    raw_id_fields = ["conversation"]
    date_hierarchy = "at"
