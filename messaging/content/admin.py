"""Admin for content items (review actions), notification types, the notification log and
preference audit, and tracked links. Imported by `MessagingConfig.ready`."""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse

from core.admin import ReadOnlyModelAdmin
from core.errors import DomainError
from messaging.content import services as content_svc
from messaging.content.forms import media_url_field
from messaging.content.models import (
    ContentDelivery,
    ContentItem,
    ContentRevision,
    ContentTransition,
    ContentUnlock,
)

# --- Content -----------------------------------------------------------------------------------


class ContentTransitionInline(admin.TabularInline):
    model = ContentTransition
    fields = ["created_at", "from_state", "to_state", "actor", "note"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class ContentRevisionInline(admin.TabularInline):
    """Every edit: who, when, each field before and after (append-only, read-only)."""

    model = ContentRevision
    fields = ["created_at", "editor_name", "state", "changes"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
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
    inlines = [ContentTransitionInline, ContentRevisionInline]
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
class ContentDeliveryAdmin(ReadOnlyModelAdmin):
    list_display = ["content_item", "contact", "message", "unlocked_at", "created_at"]
    list_filter = ["unlocked_at", "created_at"]
    search_fields = ["contact__phone", "contact__name", "content_item__title"]
    list_select_related = ["content_item", "contact", "message"]


@admin.register(ContentTransition)
class ContentTransitionAdmin(ReadOnlyModelAdmin):
    """Append-only history of content items' review states."""

    list_display = ["created_at", "content_item", "from_state", "to_state", "actor", "note"]
    list_filter = ["to_state", "created_at"]
    search_fields = ["content_item__title", "note"]
    list_select_related = ["content_item", "actor"]


@admin.register(ContentRevision)
class ContentRevisionAdmin(ReadOnlyModelAdmin):
    """Append-only record of every edit of a content item: who, in which state, what changed."""

    list_display = ["created_at", "content_item", "editor_name", "state"]
    list_filter = ["state", "created_at"]
    search_fields = ["content_item__title", "editor_name"]
    list_select_related = ["content_item"]


@admin.register(ContentUnlock)
class ContentUnlockAdmin(ReadOnlyModelAdmin):
    """Append-only unlocks of delivered content (Click-to-Unlock taps)."""

    list_display = ["created_at", "delivery", "kind", "message"]
    list_filter = ["kind", "created_at"]
    list_select_related = ["delivery", "message"]
    raw_id_fields = ["delivery", "message"]


# --- Notifications -----------------------------------------------------------------------------


# --- Tracked links -----------------------------------------------------------------------------
