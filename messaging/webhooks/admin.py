"""Webhook events (the raw bodies, their state, replay) and the provider status history."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from core.json_display import json_pretty
from messaging.sending.models import MessageStatusEvent
from messaging.webhooks.models import WebhookEvent
from messaging.webhooks.services import webhook_events_replay


class HasErrorFilter(admin.SimpleListFilter):
    title = "error"
    parameter_name = "has_error"

    def lookups(self, request, model_admin):
        return [("yes", "With an error"), ("no", "Without")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(error="")
        if self.value() == "no":
            return queryset.filter(error="")
        return queryset


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    """Read-only. Replaying puts events back to pending and enqueues them; processing is
    idempotent, so replaying a processed event changes nothing that was already applied."""

    list_display = [
        "id", "provider", "state", "received_at", "processed_at", "attempts", "error_summary",
    ]  # fmt: skip
    list_filter = ["state", "provider", HasErrorFilter, "received_at"]
    search_fields = ["=id", "=body_sha256", "error"]
    date_hierarchy = "received_at"
    actions = ["replay"]
    show_full_result_count = False
    fields = [
        "provider", "state", "received_at", "processed_at", "attempts", "error", "body_sha256",
        "raw_link", "pretty_body",
    ]  # fmt: skip
    readonly_fields = fields

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        # Bodies can be megabytes: the list never loads them.
        if request.resolver_match and request.resolver_match.url_name.endswith("changelist"):
            queryset = queryset.defer("body")
        return queryset

    def get_urls(self):
        raw = path(
            "<int:event_id>/raw/",
            self.admin_site.admin_view(self.raw_view),
            name="messaging_webhookevent_raw",
        )
        return [raw, *super().get_urls()]

    def raw_view(self, request, event_id: int):
        """The body exactly as stored, for copying or re-posting."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        event = get_object_or_404(WebhookEvent, pk=event_id)
        response = HttpResponse(event.body, content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = f'inline; filename="webhook-{event.pk}.json"'
        return response

    @admin.display(description="error")
    def error_summary(self, obj):
        return (obj.error or "").splitlines()[0][:120] if obj.error else ""

    @admin.display(description="raw body")
    def raw_link(self, obj):
        if obj.pk is None:
            return ""
        url = reverse("admin:messaging_webhookevent_raw", args=[obj.pk])
        return format_html('<a href="{}">{} bytes as received</a>', url, len(obj.body.encode()))

    @admin.display(description="body")
    def pretty_body(self, obj):
        """Indented when shallow enough; a body nested past the limit is shown as received
        (pretty-printing it would recurse past Python's limit and crash the page)."""
        shown = json_pretty(obj.body)
        notes = []
        if shown.as_received and shown.depth:
            notes.append(f"nested {shown.depth} levels deep; shown as received")
        if shown.truncated:
            notes.append("truncated; see the raw body")
        note = f"\n… ({'; '.join(notes)})" if notes else ""
        return format_html('<pre style="white-space: pre-wrap">{}{}</pre>', shown.text, note)

    @admin.action(description="Replay selected webhook events", permissions=["replay"])
    def replay(self, request, queryset):
        count = webhook_events_replay(event_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} webhook event(s) queued for processing.")

    def has_replay_permission(self, request):
        return request.user.has_perm("messaging.replay_webhookevent")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the record of what arrived; WEBHOOK_RETENTION_DAYS purges old ones


@admin.register(MessageStatusEvent)
class MessageStatusEventAdmin(admin.ModelAdmin):
    """The append-only history of provider statuses (parked ones have applied = no)."""

    list_display = ["wamid", "status", "timestamp", "applied", "message_link", "created_at"]
    list_filter = ["status", "applied", "timestamp"]
    search_fields = ["=wamid", "=callback_data"]
    date_hierarchy = "timestamp"
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    @admin.display(description="message")
    def message_link(self, obj):
        if obj.message_id is None:
            return "-"
        url = reverse("admin:messaging_message_change", args=[obj.message_id])
        return format_html('<a href="{}">{}</a>', url, obj.message_id)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
