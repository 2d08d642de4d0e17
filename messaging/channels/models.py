"""Channels (one WhatsApp number each) and the templates approved for them."""

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from messaging.channels.secrets import (
    base_url_problem,
    secret_setting_allowed,
    validate_secret_setting,
)

logger = logging.getLogger(__name__)


class Provider(models.TextChoices):
    META_CLOUD = "meta_cloud", "Meta WhatsApp Cloud API"
    MYOPERATOR = "myoperator", "MyOperator"


class QualityRating(models.TextChoices):
    """Meta's quality rating of a number (Graph `quality_rating`)."""

    GREEN = "GREEN", "High (green)"
    YELLOW = "YELLOW", "Medium (yellow)"
    RED = "RED", "Low (red)"
    UNKNOWN = "UNKNOWN", "Unknown"


class MessagingTier(models.TextChoices):
    """Meta's messaging limit: unique users a number may reach outside a customer-service
    window in a moving 24 hours. Meta names further tiers the same way (`TIER_<n>[K]`);
    `messaging.channels.health.tier_limit` reads any of them. Empty: not known yet."""

    TIER_50 = "TIER_50", "50"
    TIER_250 = "TIER_250", "250"
    TIER_1K = "TIER_1K", "1,000"
    TIER_2K = "TIER_2K", "2,000"
    TIER_10K = "TIER_10K", "10,000"
    TIER_100K = "TIER_100K", "100,000"
    TIER_UNLIMITED = "TIER_UNLIMITED", "Unlimited"


class NumberStatus(models.TextChoices):
    """The number's status as Meta reports it (Graph `status`, account webhooks)."""

    CONNECTED = "CONNECTED", "Connected"
    FLAGGED = "FLAGGED", "Flagged"
    RESTRICTED = "RESTRICTED", "Restricted"
    RATE_LIMITED = "RATE_LIMITED", "Rate limited"
    BANNED = "BANNED", "Banned"
    DISCONNECTED = "DISCONNECTED", "Disconnected"
    PENDING = "PENDING", "Pending"
    MIGRATED = "MIGRATED", "Migrated"
    UNVERIFIED = "UNVERIFIED", "Unverified"
    DELETED = "DELETED", "Deleted"
    UNKNOWN = "UNKNOWN", "Unknown"


class HealthSource(models.TextChoices):
    """Where a number's health figure last came from."""

    WEBHOOK = "webhook", "Webhook"
    GRAPH = "graph", "Graph API"
    MANUAL = "manual", "Set by hand"


class Channel(models.Model):
    """One WhatsApp business number.

    Secrets are never stored here: each channel names the settings that hold its access token
    and app secret (environment variables in production), so the database, the admin and
    backups never contain them. Only names matching CHANNEL_SECRET_SETTING_PATTERNS may be
    named (`messaging.channels.secrets`).
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
        validators=[validate_secret_setting],
        help_text="Name of the setting (environment variable) that holds the access token: "
        "WHATSAPP_* or MYOPERATOR_*.",
    )
    app_secret_setting = models.CharField(
        max_length=64,
        default="WHATSAPP_APP_SECRET",
        validators=[validate_secret_setting],
        help_text="Name of the setting that holds the app secret for webhook signatures: "
        "WHATSAPP_* or MYOPERATOR_*.",
    )
    company_id_setting = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_secret_setting],
        help_text="MyOperator only: the setting with the company id (MYOPERATOR_*).",
    )
    throughput_mps = models.PositiveIntegerField(
        "throughput (messages/second)",
        default=80,
        help_text="Meta allows 80 by default, up to 1,000 after automatic upgrade.",
    )
    # Number health (README "Number health"): written only by `channel_health_apply`, from
    # Meta's webhooks and the Graph API; each figure keeps when and from where it came.
    quality_rating = models.CharField(
        max_length=16, choices=QualityRating.choices, default=QualityRating.UNKNOWN
    )
    quality_updated_at = models.DateTimeField(null=True, blank=True)
    quality_source = models.CharField(max_length=16, choices=HealthSource.choices, blank=True)
    messaging_tier = models.CharField(
        max_length=32, choices=MessagingTier.choices, blank=True,
        help_text="Empty: not known yet (MESSAGING_UNIQUE_RECIPIENT_LIMIT applies).",
    )  # fmt: skip
    tier_updated_at = models.DateTimeField(null=True, blank=True)
    tier_source = models.CharField(max_length=16, choices=HealthSource.choices, blank=True)
    number_status = models.CharField(
        max_length=16, choices=NumberStatus.choices, default=NumberStatus.UNKNOWN
    )
    status_detail = models.CharField(
        max_length=300, blank=True, help_text="Why: the event, restriction or ban Meta reported."
    )
    status_updated_at = models.DateTimeField(null=True, blank=True)
    status_source = models.CharField(max_length=16, choices=HealthSource.choices, blank=True)
    name_status = models.CharField("display name status", max_length=32, blank=True)
    is_active = models.BooleanField(default=True)
    satisfaction_survey = models.BooleanField(
        "ask for a rating after closing",
        default=False,
        help_text="After an agent closes a conversation, ask the customer to rate it from 1 "
        "to 5 (a WhatsApp list message; only while the 24-hour window is open).",
    )
    paused_reason = models.CharField(
        max_length=300, blank=True, help_text="Set when sending stopped (auth failure, lock)."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.display_phone_number or self.phone_number_id})"

    def clean(self) -> None:
        super().clean()
        # The SSRF guard: private and loopback hosts only where PROVIDER_URL_ALLOW_PRIVATE is on.
        if problem := base_url_problem(self.base_url):
            raise ValidationError({"base_url": problem[0].upper() + problem[1:]})

    def secret(self, setting_name: str) -> str:
        """The value of a setting this channel names; "" for a name that is not a channel
        secret setting (stored before the rule or written around validation), so such a
        channel has no credentials and refuses to send or verify."""
        if not setting_name:
            return ""
        if not secret_setting_allowed(setting_name):
            logger.error(
                "channel %s names %r as a secret setting, which is not allowed; read as empty",
                self.pk,
                setting_name,
            )
            return ""
        return str(getattr(settings, setting_name, "") or "")


class TemplateCategory(models.TextChoices):
    MARKETING = "MARKETING", "Marketing"
    UTILITY = "UTILITY", "Utility"
    AUTHENTICATION = "AUTHENTICATION", "Authentication"


class TemplateStatus(models.TextChoices):
    # Written in Parley and not submitted yet: Meta has never seen it (README "Template
    # builder"). Every other status is Meta's.
    DRAFT = "DRAFT", "Draft"
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
    # Meta's quality rating of the template (GREEN, YELLOW, RED, UNKNOWN), from sync; empty
    # until Meta rates it. Template analytics show it beside what the template achieved.
    quality_score = models.CharField(max_length=16, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    # Made in Parley's template builder (or the API) rather than only synced from Meta.
    authored_in_parley = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(
        null=True, blank=True, help_text="When it (or its latest edit) was last sent to Meta."
    )
    # When Meta's latest status change took effect: a webhook event older than this is stale
    # and is not applied (status events may arrive late or out of order).
    status_changed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "name", "language"], name="template_unique_per_channel"
            )
        ]
        permissions = [
            ("sync_messagetemplate", "Can sync templates from the provider"),
            ("submit_messagetemplate", "Can submit templates to Meta for review"),
        ]

    def __str__(self) -> str:
        return f"{self.name} [{self.language}] {self.status}"

    @property
    def at_provider(self) -> bool:
        """Whether the provider knows this template (it was submitted or synced)."""
        return self.status != TemplateStatus.DRAFT


class TemplateEventKind(models.TextChoices):
    CREATED = "created", "Created in Parley"
    CHANGED = "changed", "Draft changed"
    SUBMITTED = "submitted", "Submitted to Meta"
    EDIT_SUBMITTED = "edit_submitted", "Edit submitted to Meta"
    SUBMIT_FAILED = "submit_failed", "Submission refused"
    STATUS = "status", "Status changed"
    QUALITY = "quality", "Quality changed"
    CATEGORY = "category", "Category changed"
    DELETED = "deleted", "Deleted"


class TemplateEventSource(models.TextChoices):
    STAFF = "staff", "Staff"
    API = "api", "API"
    WEBHOOK = "webhook", "Meta webhook"
    SYNC = "sync", "Sync"


class TemplateEvent(models.Model):
    """Append-only history of a template: what Parley did with it (created, submitted,
    edited, deleted) and every status, quality and category change Meta reported, with the
    reason. The staff page and the API show it."""

    template = models.ForeignKey(MessageTemplate, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=TemplateEventKind.choices)
    source = models.CharField(max_length=10, choices=TemplateEventSource.choices)
    status_from = models.CharField(max_length=20, blank=True)
    status_to = models.CharField(max_length=20, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["template", "-created_at"], name="template_event_recent")]

    def __str__(self) -> str:
        return f"{self.template_id} {self.kind} {self.status_to}".strip()


class RateLimitState(models.Model):
    """GCRA state of a send-rate key when no Redis is configured (embedded mode)."""

    key = models.CharField(max_length=200, primary_key=True)
    tat = models.FloatField(default=0.0)

    def __str__(self) -> str:
        return self.key


class PricingCategory(models.TextChoices):
    """Meta's pricing categories (the `pricing.category` of a status webhook, lower case)."""

    MARKETING = "marketing", "Marketing"
    UTILITY = "utility", "Utility"
    AUTHENTICATION = "authentication", "Authentication"
    SERVICE = "service", "Service"


class PriceCard(models.Model):
    """Meta's per-message rates in effect from a date (README "Message costs").

    A message is priced with the card in effect on the (UTC) day it was sent: the latest card
    whose `effective_from` is on or before that day. Rates are per delivered template message
    by category and recipient country; a country without its own rate pays the card's
    "Rest of World" rate (the rate with `market` empty). Operators add a new card when Meta
    publishes new rates, so past messages keep the price they were sent at.
    """

    name = models.CharField(max_length=100)
    effective_from = models.DateField(unique=True)
    currency = models.CharField(max_length=3, default="USD", help_text="ISO 4217, e.g. USD.")
    source = models.CharField(
        max_length=300, blank=True, help_text="Where the rates come from (Meta's rate card URL)."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-effective_from"]

    def __str__(self) -> str:
        return f"{self.name} (from {self.effective_from:%Y-%m-%d}, {self.currency})"

    def clean(self) -> None:
        currency = (self.currency or "").strip().upper()
        if len(currency) != 3 or not currency.isalpha():
            raise ValidationError({"currency": "A three-letter ISO 4217 code, e.g. USD."})
        self.currency = currency


class PriceRate(models.Model):
    """One rate of a price card: a category in a market (a country, or Rest of World)."""

    card = models.ForeignKey(PriceCard, on_delete=models.CASCADE, related_name="rates")
    market = models.CharField(
        max_length=2, blank=True,
        help_text="ISO 3166 country code of the recipient's number (IN, BR, US...); empty: "
        "Rest of World, for every country without its own rate.",
    )  # fmt: skip
    category = models.CharField(max_length=20, choices=PricingCategory.choices)
    rate = models.DecimalField(
        max_digits=12, decimal_places=6, help_text="Per message, in the card's currency."
    )

    class Meta:
        ordering = ["card", "market", "category"]
        constraints = [
            models.UniqueConstraint(
                fields=["card", "market", "category"], name="price_rate_one_per_market_category"
            ),
            models.CheckConstraint(condition=models.Q(rate__gte=0), name="price_rate_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.market or 'Rest of World'} {self.category}: {self.rate}"

    def clean(self) -> None:
        self.market = (self.market or "").strip().upper()
        if self.market and (len(self.market) != 2 or not self.market.isalpha()):
            raise ValidationError({"market": "A two-letter country code, or empty."})
