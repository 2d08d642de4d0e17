"""Admin for conversations."""

from django.contrib import admin

from messaging.sending.models import Conversation


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["contact", "channel", "is_open", "assignee", "last_activity_at"]
    list_filter = ["is_open", "channel"]
    search_fields = ["contact__name", "contact__phone"]
    list_select_related = ["contact", "channel", "assignee"]
    raw_id_fields = ["contact"]
