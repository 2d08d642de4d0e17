from django.contrib import admin, messages
from django.db import models

from core.admin import ReadOnlyModelAdmin
from messaging.channels.models import (
    Channel,
    MessageTemplate,
    PriceCard,
    PriceRate,
    RateLimitState,
    TemplateEvent,
)
from messaging.channels.secrets import MISSING, NOT_ALLOWED, SET, channel_secret_states
from messaging.channels.services import channel_resume
from messaging.channels.templates import templates_sync


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    """Secrets are never entered or shown here: a channel names the settings that hold them."""

    list_display = [
        "name",
        "provider",
        "display_phone_number",
        "phone_number_id",
        "throughput_mps",
        "quality_rating",
        "messaging_tier",
        "number_status",
        "is_active",
        "paused_reason",
    ]
    list_filter = ["provider", "is_active", "quality_rating", "number_status"]
    search_fields = ["name", "phone_number_id", "display_phone_number", "waba_id"]
    # Health comes from Meta (webhooks, `sync_channels`) and is never typed in.
    HEALTH_FIELDS = [
        "quality_rating", "quality_updated_at", "quality_source",
        "messaging_tier", "tier_updated_at", "tier_source",
        "number_status", "status_detail", "status_updated_at", "status_source", "name_status",
    ]  # fmt: skip
    readonly_fields = ["paused_reason", "created_at", "secrets_configured", *HEALTH_FIELDS]
    actions = ["sync_templates", "resume_sending"]
    fieldsets = [
        (None, {"fields": ["name", "provider", "is_active", "paused_reason"]}),
        (
            "WhatsApp number",
            {
                "fields": [
                    "phone_number_id",
                    "waba_id",
                    "display_phone_number",
                    "base_url",
                    "throughput_mps",
                ]
            },
        ),
        ("Number health (from Meta)", {"fields": HEALTH_FIELDS}),
        ("Inbox", {"fields": ["satisfaction_survey"]}),
        (
            "Secrets (by setting name)",
            {
                "fields": [
                    "token_setting",
                    "app_secret_setting",
                    "company_id_setting",
                    "secrets_configured",
                ],
                "description": "Secrets live in the environment; enter the variable names.",
            },
        ),
    ]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.URLField):
            kwargs.setdefault("assume_scheme", "https")  # Django 6's default, without a warning
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    @admin.display(description="secrets set in the environment")
    def secrets_configured(self, obj: Channel) -> str:
        states = {SET: "set", MISSING: "MISSING", NOT_ALLOWED: "NOT ALLOWED (read as empty)"}
        return "; ".join(
            f"{s['setting']}: {states[s['state']]}" for s in channel_secret_states(obj)
        )

    @admin.action(description="Sync templates from the provider")
    def sync_templates(self, request, queryset):
        if not request.user.has_perm("messaging.sync_messagetemplate"):
            self.message_user(request, "You may not sync templates.", messages.ERROR)
            return
        for channel in queryset:
            result = templates_sync(channel=channel)
            self.message_user(request, f"{channel.name}: {result.summary()}")

    @admin.action(description="Resume sending (after fixing credentials)", permissions=["change"])
    def resume_sending(self, request, queryset):
        for channel in queryset:
            channel_resume(channel=channel)
        self.message_user(request, f"Resumed {queryset.count()} channel(s).")


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    """Read-only: templates are made in Meta's manager; staff see why one may not be sent
    (its status and Meta's rejection reason) and which buttons opt out of marketing."""

    list_display = [
        "name",
        "language",
        "category",
        "status",
        "rejected_reason",
        "channel",
        "synced_at",
    ]
    list_filter = ["status", "category", "language", "channel"]
    search_fields = ["name"]
    readonly_fields = [
        "channel",
        "external_id",
        "name",
        "language",
        "category",
        "status",
        "rejected_reason",
        "components",
        "parameter_format",
        "parameters",
        "opt_out_buttons",
        "synced_at",
        "updated_at",
    ]
    actions = ["sync"]

    def has_add_permission(self, request):
        return False  # templates are created in Meta's manager and synced here

    @admin.action(description="Sync templates of these channels from the provider")
    def sync(self, request, queryset):
        if not request.user.has_perm("messaging.sync_messagetemplate"):
            self.message_user(request, "You may not sync templates.", messages.ERROR)
            return
        for channel in {t.channel for t in queryset.select_related("channel")}:
            result = templates_sync(channel=channel)
            self.message_user(request, f"{channel.name}: {result.summary()}")


@admin.register(TemplateEvent)
class TemplateEventAdmin(ReadOnlyModelAdmin):
    """A template's history (README "Template builder"): what Parley did with it and every
    change Meta reported; written by the system only."""

    list_display = ["template", "kind", "source", "status_from", "status_to", "reason", "actor",
                    "created_at"]  # fmt: skip
    list_filter = ["kind", "source", "status_to"]
    search_fields = ["template__name", "reason"]
    list_select_related = ["template", "actor"]
    date_hierarchy = "created_at"


@admin.register(RateLimitState)
class RateLimitStateAdmin(ReadOnlyModelAdmin):
    """The rate limiter's state in embedded mode (no Redis): for diagnosis only."""

    list_display = ["key", "tat"]
    search_fields = ["key"]


class PriceRateInline(admin.TabularInline):
    model = PriceRate
    extra = 0
    fields = ["market", "category", "rate"]


@admin.register(PriceCard)
class PriceCardAdmin(admin.ModelAdmin):
    """Meta's per-message rates (README "Message costs"). Editing needs the model's change
    permission, which only Admins hold; when Meta publishes new rates, add a card with its
    effective date rather than editing the old one, so past messages keep their price."""

    list_display = ["name", "effective_from", "currency", "source"]
    date_hierarchy = "effective_from"
    search_fields = ["name", "source"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [PriceRateInline]


@admin.register(PriceRate)
class PriceRateAdmin(admin.ModelAdmin):
    list_display = ["card", "market", "category", "rate"]
    list_filter = ["card", "category", "market"]
    search_fields = ["market"]
