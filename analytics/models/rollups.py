"""Rollups: what the dashboards read. Built by `analytics.services.rollups` (README
"Analytics"); recomputing a day writes the same rows again."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


def _count() -> models.PositiveIntegerField:
    return models.PositiveIntegerField(default=0)


def _money(places: int = 2) -> models.DecimalField:
    return models.DecimalField(max_digits=16, decimal_places=places, default=0)


class DailySnapshot(models.Model):
    """One day's figures, per channel and for all channels (`channel` empty).

    Figures that belong to no channel (new contacts, consent changes, conversations' first
    response, content, notifications, ratings, organic conversions) are on the all-channels
    row only and empty on channel rows.
    """

    day = models.DateField()
    channel = models.ForeignKey(
        "messaging.Channel", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    sent = _count()
    delivered = _count()
    read = _count()
    failed = _count()
    inbound = _count()
    contacts_reached = _count()
    new_contacts = models.PositiveIntegerField(null=True, blank=True)
    opt_ins = models.PositiveIntegerField(null=True, blank=True)
    opt_outs = models.PositiveIntegerField(null=True, blank=True)
    button_clicks = _count()
    link_clicks = _count()
    conversations_opened = _count()
    conversations_closed = models.PositiveIntegerField(null=True, blank=True)
    first_response_median_seconds = models.FloatField(null=True, blank=True)
    automated_share = models.FloatField(null=True, blank=True)
    automated_answers = models.PositiveIntegerField(null=True, blank=True)
    ratings = models.PositiveIntegerField(null=True, blank=True)
    average_rating = models.FloatField(null=True, blank=True)
    topics = models.JSONField(default=list, blank=True)
    notifications_sent = models.PositiveIntegerField(null=True, blank=True)
    content_created = models.PositiveIntegerField(null=True, blank=True)
    content_approved = models.PositiveIntegerField(null=True, blank=True)
    content_distributed = models.PositiveIntegerField(null=True, blank=True)
    advisors_served = models.PositiveIntegerField(null=True, blank=True)
    conversions = _count()
    revenue = _money()
    revenue_campaign = _money()
    revenue_content = _money()
    revenue_notification = _money()
    revenue_organic = _money()
    # All-channels row: {the caller's `source` label: {conversions, attributed, organic}}.
    revenue_by_label = models.JSONField(default=dict, blank=True)
    cost = _money(4)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-day", "channel_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "channel"],
                condition=Q(channel__isnull=False),
                name="snapshot_one_per_day_channel",
            ),
            models.UniqueConstraint(
                fields=["day"], condition=Q(channel__isnull=True), name="snapshot_one_total_per_day"
            ),
        ]
        permissions = [("view_dashboard", "Can view the analytics dashboards and reports")]

    def __str__(self) -> str:
        return f"{self.day} {self.channel or 'all channels'}"


class CampaignPerformance(models.Model):
    """A campaign's figures for one day, or over its whole life (`day` empty)."""

    campaign = models.ForeignKey("messaging.Campaign", on_delete=models.CASCADE, related_name="+")
    day = models.DateField(null=True, blank=True)
    targeted = _count()
    sent = _count()
    delivered = _count()
    read = _count()
    failed = _count()
    errors = models.JSONField(default=dict, blank=True, help_text="{error code: count}")
    replied = _count()
    clicked = _count()
    converted = _count()
    conversions = _count()
    revenue = _money()
    cost = _money(4)
    roi = models.FloatField(null=True, blank=True, help_text="(revenue - cost) / cost")
    hourly_sent = models.JSONField(default=list, blank=True, help_text="24 counts, local hours")
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["campaign_id", "day"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "day"],
                condition=Q(day__isnull=False),
                name="campaign_perf_one_per_day",
            ),
            models.UniqueConstraint(
                fields=["campaign"], condition=Q(day__isnull=True), name="campaign_perf_one_total"
            ),
        ]
        indexes = [models.Index(fields=["day"], name="campaign_perf_day")]
        verbose_name = "campaign performance"
        verbose_name_plural = "campaign performance"

    def __str__(self) -> str:
        return f"campaign {self.campaign_id} {self.day or 'total'}"


class ButtonDaily(models.Model):
    """Taps on one button (by label) on one day: counts, hours and time from delivery."""

    DELAY_BUCKETS = ("under_1m", "under_5m", "under_1h", "under_1d", "over_1d", "unknown")

    day = models.DateField()
    label = models.CharField(max_length=256)
    clicks = _count()
    contacts = _count()
    hourly = models.JSONField(default=list, blank=True, help_text="24 counts, local hours")
    delay_buckets = models.JSONField(default=dict, blank=True)
    average_delay_seconds = models.FloatField(null=True, blank=True)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-day", "-clicks"]
        constraints = [
            models.UniqueConstraint(fields=["day", "label"], name="button_daily_one_per_label")
        ]
        verbose_name_plural = "button daily"

    def __str__(self) -> str:
        return f"{self.day} {self.label}: {self.clicks}"


class TemplateDaily(models.Model):
    """One template's sends of one day and its failures of that day (analytics.template_report).

    sent, delivered, read, replied, clicked and cost follow the day's sends (a cohort: the
    others count receipts, replies and clicks whenever they came, so a later one recomputes the
    send day's rows); failed
    and errors count the failures that happened on the day.
    """

    day = models.DateField()
    template = models.ForeignKey(
        "messaging.MessageTemplate", on_delete=models.CASCADE, related_name="+"
    )
    sent = _count()
    delivered = _count()
    read = _count()
    replied = _count()
    clicked = _count()
    failed = _count()
    errors = models.JSONField(default=dict, blank=True, help_text="{error code: count}")
    cost = _money(4)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-day", "template_id"]
        constraints = [
            models.UniqueConstraint(fields=["day", "template"], name="template_daily_one_per_day")
        ]
        verbose_name_plural = "template daily"

    def __str__(self) -> str:
        return f"{self.day} template {self.template_id}: {self.sent}"


class ContentPerformance(models.Model):
    """One content item's reach: announced, delivered, read, unlocked, links clicked."""

    content_item = models.OneToOneField(
        "messaging.ContentItem", on_delete=models.CASCADE, related_name="+"
    )
    announced = _count()
    delivered = _count()
    read = _count()
    unlocked = _count()
    link_clicks = _count()
    delivery_rate = models.FloatField(null=True, blank=True)
    unlock_rate = models.FloatField(null=True, blank=True, help_text="unlocked / delivered")
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-content_item_id"]
        verbose_name_plural = "content performance"

    def __str__(self) -> str:
        return f"content {self.content_item_id}"


class RfmSegment(models.TextChoices):
    CHAMPIONS = "champions", "Champions"
    LOYAL = "loyal", "Loyal"
    NEW = "new", "New"
    POTENTIAL = "potential", "Potential"
    AT_RISK = "at_risk", "At risk"
    HIBERNATING = "hibernating", "Hibernating"


class ChurnRisk(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class CustomerTier(models.TextChoices):
    VIP = "vip", "VIP"
    GOLD = "gold", "Gold"
    SILVER = "silver", "Silver"
    BRONZE = "bronze", "Bronze"


class CustomerMetrics(models.Model):
    """A contact's value and engagement (README "Analytics" has the rules).

    Purchase figures are empty for contacts who never bought; engagement covers the last
    ANALYTICS_ENGAGEMENT_DAYS.
    """

    contact = models.OneToOneField("crm.Contact", on_delete=models.CASCADE, related_name="+")
    lifetime_value = _money()
    orders = _count()
    average_order_value = models.DecimalField(
        max_digits=16, decimal_places=2, null=True, blank=True
    )
    first_order_at = models.DateTimeField(null=True, blank=True)
    last_order_at = models.DateTimeField(null=True, blank=True)
    days_since_last_order = models.FloatField(null=True, blank=True)
    mean_gap_days = models.FloatField(null=True, blank=True)
    recency_score = models.PositiveSmallIntegerField(null=True, blank=True)
    frequency_score = models.PositiveSmallIntegerField(null=True, blank=True)
    monetary_score = models.PositiveSmallIntegerField(null=True, blank=True)
    segment = models.CharField(max_length=12, choices=RfmSegment.choices, blank=True)
    churn_ratio = models.FloatField(null=True, blank=True)
    churn_risk = models.CharField(max_length=8, choices=ChurnRisk.choices, blank=True)
    tier = models.CharField(max_length=8, choices=CustomerTier.choices, blank=True)
    messages_delivered = _count()
    messages_read = _count()
    messages_received = _count()
    read_rate = models.FloatField(null=True, blank=True)
    reply_rate = models.FloatField(null=True, blank=True)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-lifetime_value", "contact_id"]
        indexes = [
            models.Index(fields=["-lifetime_value", "contact"], name="customer_value"),
            models.Index(fields=["segment", "-lifetime_value"], name="customer_segment"),
            models.Index(fields=["churn_risk", "-lifetime_value"], name="customer_churn"),
        ]
        verbose_name_plural = "customer metrics"

    def __str__(self) -> str:
        return f"contact {self.contact_id}: {self.lifetime_value} ({self.segment or '-'})"


class RollupDirtyDay(models.Model):
    """A past day whose figures changed after it was rolled up (a late webhook, a late
    conversion); the next run recomputes it and removes the mark."""

    day = models.DateField(primary_key=True)
    marked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["day"]

    def __str__(self) -> str:
        return f"{self.day} (marked {self.marked_at:%Y-%m-%d %H:%M})"


class RollupState(models.Model):
    """Bookkeeping of the rollups: `customers` holds when customer metrics were computed, the
    last conversion id they include, and the segment, tier and churn counts."""

    name = models.CharField(max_length=32, primary_key=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    watermark = models.BigIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return self.name
