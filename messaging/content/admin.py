"""Admin for content items (review actions), notification types, the notification log and
preference audit, and tracked links. Imported by `MessagingConfig.ready`."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.template.response import TemplateResponse
from django.utils.html import format_html

from core.errors import DomainError
from messaging.content import services as content_svc
from messaging.content.forms import media_url_field
from messaging.models import (
    ContentDelivery,
    ContentItem,
    ContentTransition,
    Notification,
    NotificationPreferenceEvent,
    NotificationType,
    TrackedLink,
)
from messaging.notifications.services import notification_required_variables

# --- Content -----------------------------------------------------------------------------------


class ContentTransitionInline(admin.TabularInline):
    model = ContentTransition
    fields = ["created_at", "from_state", "to_state", "actor", "note"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class ContentItemAdminForm(forms.ModelForm):
    media_url = media_url_field()

    class Meta:
        model = ContentItem
        fields = list(content_svc.EDITABLE_FIELDS)

    def clean_unlock_buttons(self):
        try:
            return content_svc.unlock_buttons_clean(self.cleaned_data.get("unlock_buttons"))
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc


class RejectForm(forms.Form):
    note = forms.CharField(max_length=500, label="Why (the author sees this)")


@admin.register(ContentItem)
class ContentItemAdmin(admin.ModelAdmin):
    """Edits go through the workflow services: saving a reviewed item sends it back to
    draft; approve and reject are actions (permission `messaging.review_contentitem`)."""

    form = ContentItemAdminForm
    list_display = ["title", "state", "send_on", "category", "target", "source", "created_by"]
    list_filter = ["state", "source", "target", "category", "send_on"]
    search_fields = ["title", "body", "feed_guid"]
    date_hierarchy = "created_at"
    list_select_related = ["created_by"]
    raw_id_fields = ["target_segment"]
    inlines = [ContentTransitionInline]
    actions = ["approve", "reject"]
    fields = [
        "title", "body", "media_url", "category", "send_on", "target", "target_tier",
        "target_region", "target_segment", "template", "unlock_buttons", "state", "source",
        "feed_guid", "source_url", "created_by", "submitted_by", "reviewed_by", "reviewed_at",
        "review_note", "distributed_at",
    ]  # fmt: skip
    readonly_fields = [
        "state", "source", "feed_guid", "source_url", "created_by", "submitted_by",
        "reviewed_by", "reviewed_at", "review_note", "distributed_at",
    ]  # fmt: skip

    def has_review_permission(self, request):
        return request.user.has_perm("messaging.review_contentitem")

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.state not in content_svc.EDITABLE:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data.get(name) for name in content_svc.EDITABLE_FIELDS}
        fields = {k: ("" if v is None and k in ("target_tier", "target_region") else v)
                  for k, v in fields.items()}  # fmt: skip
        if change:
            item = content_svc.content_update(item=obj, actor=request.user, **fields)
        else:
            item = content_svc.content_create(created_by=request.user, **fields)
        obj.pk, obj.state = item.pk, item.state

    @admin.action(description="Approve selected items", permissions=["review"])
    def approve(self, request, queryset):
        done = 0
        for item in queryset:
            try:
                content_svc.content_approve(item=item, reviewer=request.user, note="in the admin")
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{item.title}: {exc.message}", messages.ERROR)
        if done:
            self.message_user(request, f"Approved {done} item(s).")

    @admin.action(description="Reject selected items (asks why)", permissions=["review"])
    def reject(self, request, queryset):
        form = RejectForm(request.POST if "note" in request.POST else None)
        if form.is_bound and form.is_valid():
            done = 0
            for item in queryset:
                try:
                    content_svc.content_reject(
                        item=item, reviewer=request.user, note=form.cleaned_data["note"]
                    )
                    done += 1
                except DomainError as exc:
                    self.message_user(request, f"{item.title}: {exc.message}", messages.ERROR)
            if done:
                self.message_user(request, f"Rejected {done} item(s).")
            return None
        return TemplateResponse(
            request,
            "admin/messaging/contentitem/reject.html",
            {
                **self.admin_site.each_context(request),
                "items": queryset,
                "form": form,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
                "title": "Reject content items",
            },
        )


@admin.register(ContentDelivery)
class ContentDeliveryAdmin(admin.ModelAdmin):
    list_display = ["content_item", "contact", "message", "unlocked_at", "created_at"]
    list_filter = ["unlocked_at", "created_at"]
    search_fields = ["contact__phone", "contact__name", "content_item__title"]
    list_select_related = ["content_item", "contact", "message"]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# --- Notifications -----------------------------------------------------------------------------


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


class ReadOnlyAdmin(admin.ModelAdmin):
    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
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
class NotificationPreferenceEventAdmin(ReadOnlyAdmin):
    list_display = ["contact", "event_type", "opted_out", "source", "actor", "created_at"]
    list_filter = ["source", "opted_out", "event_type"]
    search_fields = ["contact__phone", "contact__name"]
    list_select_related = ["contact", "event_type", "actor"]


# --- Tracked links -----------------------------------------------------------------------------


@admin.register(TrackedLink)
class TrackedLinkAdmin(ReadOnlyAdmin):
    list_display = ["token", "target", "contact", "campaign", "content_item", "click_count"]
    search_fields = ["=token", "url", "contact__phone"]
    list_select_related = ["contact", "campaign", "content_item"]
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(click_count=Count("clicks"))

    @admin.display(description="clicks", ordering="click_count")
    def click_count(self, link):
        return link.click_count

    @admin.display(description="URL")
    def target(self, link):
        return format_html('<a href="{}" rel="noopener noreferrer">{}</a>', link.url, link.url[:80])
