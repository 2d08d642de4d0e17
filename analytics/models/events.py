"""Discrete analytics events that have no other home.

Everything else analytics reports is read where it already lives: message statuses from the
per-status timestamps on `messaging.Message`, link clicks from `messaging.LinkClick`, consent
changes from `crm.ConsentEvent`, conversation cycles from `messaging.ConversationEvent`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ButtonClick(models.Model):
    """A quick-reply button or list reply, with what it answered (one per inbound reply).

    Written by the `button_clicked` signal handler; `campaign`, `content_item` and
    `notification` come from the message replied to, `delay_seconds` is the time from that
    message's delivery (or read receipt, if no delivery receipt came) to the tap.
    """

    class Kind(models.TextChoices):
        BUTTON = "button", "Quick-reply button"
        LIST = "list", "List or interactive reply"

    message = models.OneToOneField(
        "messaging.Message", on_delete=models.CASCADE, related_name="+", help_text="The reply."
    )
    replied_to = models.ForeignKey(
        "messaging.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    channel = models.ForeignKey(
        "messaging.Channel", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    contact = models.ForeignKey("crm.Contact", on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(
        "messaging.Campaign", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    content_item = models.ForeignKey(
        "messaging.ContentItem", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    notification = models.ForeignKey(
        "messaging.Notification", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.BUTTON)
    payload = models.CharField(max_length=256, blank=True)
    title = models.CharField(max_length=256, blank=True)
    label = models.CharField(
        max_length=256, blank=True, help_text="What dashboards group by: the title, else the "
        "payload up to its first ':' (unlock payloads carry a delivery id after it).",
    )  # fmt: skip
    clicked_at = models.DateTimeField(default=timezone.now)
    delay_seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-clicked_at", "-id"]
        indexes = [
            models.Index(fields=["clicked_at"], name="buttonclick_clicked"),
            models.Index(fields=["campaign", "clicked_at"], name="buttonclick_campaign"),
            models.Index(fields=["content_item", "clicked_at"], name="buttonclick_content"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.label or self.payload} by {self.contact_id} at {self.clicked_at:%Y-%m-%d %H:%M}"
        )


class ConversionType(models.TextChoices):
    PAGE_VIEW = "page_view", "Page view"
    ORDER = "order", "Order"
    PAYMENT = "payment", "Payment"
    SIGNUP = "signup", "Sign-up"
    SUBSCRIPTION = "subscription", "Subscription"
    CUSTOM = "custom", "Custom"


class AttributionSource(models.TextChoices):
    CAMPAIGN = "campaign", "Campaign"
    CONTENT = "content", "Content"
    NOTIFICATION = "notification", "Notification"
    ORGANIC = "organic", "Organic"


class ConversionEvent(models.Model):
    """Something a contact did that is worth something, reported by another system through
    `POST /api/v1/conversions/`, once per `reference_id`.

    Attribution (README "Analytics"): the latest campaign, content or notification message
    delivered (or read) to the contact within ATTRIBUTION_WINDOW_DAYS before `occurred_at`;
    none is `organic`. It is computed on arrival and again whenever the conversion's day is
    rolled up, so a delivery receipt that arrives late still counts.
    """

    reference_id = models.CharField(max_length=200, unique=True)
    type = models.CharField(max_length=20, choices=ConversionType.choices)
    name = models.CharField(max_length=100, blank=True, help_text="Custom events: their name.")
    page_name = models.CharField(max_length=200, blank=True)
    session_id = models.CharField(max_length=200, blank=True)
    value = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, blank=True)
    value_base = models.DecimalField(
        max_digits=14, decimal_places=2, default=0, help_text="In ANALYTICS_CURRENCY."
    )
    occurred_at = models.DateTimeField()
    contact = models.ForeignKey("crm.Contact", on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=100, blank=True, help_text="The caller's own label.")
    attribution_source = models.CharField(
        max_length=12, choices=AttributionSource.choices, default=AttributionSource.ORGANIC
    )
    attributed_message = models.ForeignKey(
        "messaging.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    attributed_campaign = models.ForeignKey(
        "messaging.Campaign", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    attributed_content_item = models.ForeignKey(
        "messaging.ContentItem", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    attributed_notification = models.ForeignKey(
        "messaging.Notification", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    attributed_channel = models.ForeignKey(
        "messaging.Channel", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    touched_at = models.DateTimeField(
        null=True, blank=True, help_text="When the attributed message was delivered."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["occurred_at"], name="conversion_occurred"),
            models.Index(fields=["contact", "occurred_at"], name="conversion_contact"),
            models.Index(fields=["attributed_campaign", "occurred_at"], name="conversion_campaign"),
            # Page views are read on their own (the page-views dashboard and report).
            models.Index(fields=["type", "occurred_at"], name="conversion_type_occurred"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.reference_id} ({self.value} {self.currency})"


class QualityRating(models.Model):
    """An agent's rating of an automated answer, as it happened (a later rating of the same
    answer is a new row; the answer itself keeps only the latest)."""

    answer = models.ForeignKey(
        "messaging.AutomatedAnswer", on_delete=models.CASCADE, related_name="+"
    )
    responder = models.CharField(max_length=32, blank=True)
    topic = models.CharField(max_length=64, blank=True)
    rating = models.PositiveSmallIntegerField()
    previous = models.PositiveSmallIntegerField(null=True, blank=True)
    rated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    rated_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-rated_at", "-id"]

    def __str__(self) -> str:
        return f"{self.rating}/5 for answer {self.answer_id}"
