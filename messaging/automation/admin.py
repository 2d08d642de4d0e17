"""Admin for automation: auto-reply rules (ordered, toggled, tested), FAQ entries, and the
read-only records of what automation did (runs, automated answers)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse

from core.admin import ReadOnlyModelAdmin
from messaging.automation.forms import AutoReplyTryForm
from messaging.automation.models import AutomatedAnswer, AutoReplyRule, AutoReplyRun, FaqEntry
from messaging.automation.office_hours import office_hours_describe
from messaging.automation.services import autoreply_preview, autoreply_rules_enable
from messaging.channels.selectors import templates_sendable


@admin.register(AutoReplyRule)
class AutoReplyRuleAdmin(admin.ModelAdmin):
    """Rules run lowest `order` first; edit the order and the toggle right in the list."""

    list_display = [
        "order", "name", "enabled", "trigger", "trigger_value", "action", "stop_processing",
        "fallback", "updated_at",
    ]  # fmt: skip
    list_display_links = ["name"]
    list_editable = ["order", "enabled"]
    list_filter = ["enabled", "trigger", "action", "fallback"]
    search_fields = ["name", "trigger_value", "text", "content_payload"]
    ordering = ["order", "id"]
    actions = ["enable_rules", "disable_rules"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "order",
                    "enabled",
                    "stop_processing",
                    "fallback",
                    "cooldown_minutes",
                ]
            },
        ),
        ("When", {"fields": ["trigger", "trigger_value"]}),
        (
            "Then",
            {
                "fields": [
                    "action",
                    "text",
                    "template",
                    "template_parameters",
                    "content_payload",
                    "assign_to",
                    "tag",
                ],
                "description": "Fill in what the chosen action needs.",
            },
        ),
    ]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "template":
            kwargs["queryset"] = templates_sendable()
        elif db_field.name == "assign_to":
            kwargs["queryset"] = get_user_model().objects.filter(is_active=True, is_staff=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.action(description="Enable selected rules", permissions=["change"])
    def enable_rules(self, request, queryset):
        enabled, problems = autoreply_rules_enable(rule_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"{enabled} rule(s) enabled.")
        for name, found in problems.items():
            self.message_user(
                request, f"{name} left as it was: {' '.join(found.values())}", messages.WARNING
            )

    @admin.action(description="Disable selected rules", permissions=["change"])
    def disable_rules(self, request, queryset):
        self.message_user(request, f"{queryset.update(enabled=False)} rule(s) disabled.")

    def get_urls(self):
        test = path(
            "test/",
            self.admin_site.admin_view(self.test_view),
            name="messaging_autoreplyrule_test",
        )
        return [test, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "office_hours": office_hours_describe()}
        return super().changelist_view(request, extra_context)

    def test_view(self, request):
        """Type a sample inbound message and see which rules fire and what they would send.
        Nothing is sent and nothing is written."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = AutoReplyTryForm(request.POST or None)
        preview = None
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            preview = autoreply_preview(
                kind=data["kind"], text=data["text"], payload=data["payload"],
                reply_id=data["reply_id"], at=data["at"], contact=None,
            )  # fmt: skip
            if not preview:
                messages.info(request, "No rule matches and no responder would answer.")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Test auto-reply rules",
            "form": form,
            "preview": preview,
            "office_hours": office_hours_describe(),
            "changelist_url": reverse("admin:messaging_autoreplyrule_changelist"),
        }
        return TemplateResponse(request, "admin/messaging/autoreplyrule/test.html", context)


@admin.register(FaqEntry)
class FaqEntryAdmin(admin.ModelAdmin):
    list_display = ["question", "topic", "keywords", "enabled", "updated_at"]
    list_editable = ["enabled"]
    list_filter = ["enabled", "topic"]
    search_fields = ["question", "keywords", "answer", "topic"]


@admin.register(AutomatedAnswer)
class AutomatedAnswerAdmin(ReadOnlyModelAdmin):
    """Rated by agents in the inbox (and the API); read-only here."""

    list_display = ["message", "responder", "topic", "confidence", "rating", "rated_by",
                    "created_at"]  # fmt: skip
    list_filter = ["responder", "rating", "topic"]
    search_fields = ["topic", "message__contact__name", "message__contact__phone"]
    list_select_related = ["message", "rated_by"]
    date_hierarchy = "created_at"
    raw_id_fields = ["message", "question"]


@admin.register(AutoReplyRun)
class AutoReplyRunAdmin(ReadOnlyModelAdmin):
    list_display = ["created_at", "rule_key", "rule", "outcome", "detail", "message", "reply"]
    list_filter = ["outcome", "rule"]
    search_fields = ["rule_key", "detail"]
    list_select_related = ["rule", "message", "reply"]
    date_hierarchy = "created_at"
    raw_id_fields = ["message", "reply"]
