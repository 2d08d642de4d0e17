"""Channels (one WhatsApp number each) and the templates approved for them."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Provider(models.TextChoices):
    META_CLOUD = "meta_cloud", "Meta WhatsApp Cloud API"
    MYOPERATOR = "myoperator", "MyOperator"


class Channel(models.Model):
    """One WhatsApp business number.

    Secrets are never stored here: each channel names the settings that hold its access token
    and app secret (environment variables in production), so the database, the admin and
    backups never contain them.
    """

    name = models.CharField(max_length=100)
    provider = models.CharField(max_length=20, choices=Provider.choices)
    phone_number_id = models.CharField(max_length=64, unique=True)
    waba_id = models.CharField("WhatsApp Business Account id", max_length=64, blank=True)
    display_phone_number = models.CharField(max_length=32, blank=True)
    base_url = models.URLField(
        blank=True, help_text="Provider API base URL; empty uses WHATSAPP_GRAPH_URL."
    )
    token_setting = models.CharField(
        max_length=64,
        default="WHATSAPP_API_TOKEN",
        help_text="Name of the setting (environment variable) that holds the access token.",
    )
    app_secret_setting = models.CharField(
        max_length=64,
        default="WHATSAPP_APP_SECRET",
        help_text="Name of the setting that holds the app secret for webhook signatures.",
    )
    company_id_setting = models.CharField(
        max_length=64, blank=True, help_text="MyOperator only: the setting with the company id."
    )
    throughput_mps = models.PositiveIntegerField(
        "throughput (messages/second)",
        default=80,
        help_text="Meta allows 80 by default, up to 1,000 after automatic upgrade.",
    )
    messaging_tier = models.CharField(max_length=32, blank=True)
    is_active = models.BooleanField(default=True)
    paused_reason = models.CharField(
        max_length=300, blank=True, help_text="Set when sending stopped (auth failure, lock)."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.display_phone_number or self.phone_number_id})"

    def secret(self, setting_name: str) -> str:
        return str(getattr(settings, setting_name, "") or "") if setting_name else ""


class TemplateCategory(models.TextChoices):
    MARKETING = "MARKETING", "Marketing"
    UTILITY = "UTILITY", "Utility"
    AUTHENTICATION = "AUTHENTICATION", "Authentication"


class TemplateStatus(models.TextChoices):
    APPROVED = "APPROVED", "Approved"
    PENDING = "PENDING", "Pending"
    REJECTED = "REJECTED", "Rejected"
    PAUSED = "PAUSED", "Paused"
    DISABLED = "DISABLED", "Disabled"
    IN_APPEAL = "IN_APPEAL", "In appeal"
    PENDING_DELETION = "PENDING_DELETION", "Pending deletion"
    DELETED = "DELETED", "Deleted"
    FLAGGED = "FLAGGED", "Flagged"
    REINSTATED = "REINSTATED", "Reinstated"
    ARCHIVED = "ARCHIVED", "Archived"
    UNARCHIVED = "UNARCHIVED", "Unarchived"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED", "Limit exceeded"
    LOCKED = "LOCKED", "Locked"
    FAILED = "FAILED", "Failed"


class MessageTemplate(models.Model):
    """A WhatsApp template as the provider knows it, kept in sync by `sync_templates`."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="templates")
    external_id = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=512)
    language = models.CharField(max_length=16)
    category = models.CharField(max_length=20, choices=TemplateCategory.choices)
    status = models.CharField(max_length=20, default=TemplateStatus.PENDING)
    components = models.JSONField(default=list)
    parameter_format = models.CharField(max_length=16, default="positional")
    # {"header": [...], "body": ["1", "2"] or ["first_name"], "buttons": {"0": [...]}}
    parameters = models.JSONField(default=dict)
    # [{"index": "1", "text": "Stop promotions"}]: the marketing opt-out buttons, marked at
    # sync (`messaging.channels.opt_out`); a tap on one opts the contact out of marketing.
    opt_out_buttons = models.JSONField(default=list, blank=True)
    # Meta's reason while the template is REJECTED (INVALID_FORMAT, PROMOTIONAL, ...), from sync
    # and the status webhook; empty otherwise.
    rejected_reason = models.CharField(max_length=300, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "name", "language"], name="template_unique_per_channel"
            )
        ]
        permissions = [("sync_messagetemplate", "Can sync templates from the provider")]

    def __str__(self) -> str:
        return f"{self.name} [{self.language}] {self.status}"


class RateLimitState(models.Model):
    """GCRA state of a send-rate key when no Redis is configured (embedded mode)."""

    key = models.CharField(max_length=200, primary_key=True)
    tat = models.FloatField(default=0.0)

    def __str__(self) -> str:
        return self.key
