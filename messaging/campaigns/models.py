"""Campaigns and their transition history."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from messaging.channels.models import Channel, MessageTemplate


def business_time_zone() -> str:
    """The business's time zone (`TIME_ZONE`): where a new campaign's schedule is read."""
    return settings.TIME_ZONE


class CampaignState(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class Campaign(models.Model):
    """A template sent to an audience, once per contact, at a throttle.

    `parameter_mapping` says where each template parameter comes from:
    `{"body": [{"source": "field", "value": "first_name", "fallback": "there"},
    {"source": "attribute", "value": "city"}, {"source": "constant", "value": "DIWALI20"}],
    "header": [...], "buttons": {"0": {...}}, "header_media_link": "https://..."}`. Named
    templates use `"name"` keys on each item. `messaging.campaigns.mapping` is its one home.
    State changes only through `messaging.campaigns.services`.
    """

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="campaigns")
    template = models.ForeignKey(
        MessageTemplate, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    parameter_mapping = models.JSONField(default=dict, blank=True)
    segment = models.ForeignKey(
        "crm.Segment", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    tags = models.ManyToManyField("crm.Tag", blank=True, related_name="+")
    tags_match = models.CharField(
        max_length=3, choices=[("any", "Any tag"), ("all", "All tags")], default="any"
    )
    scheduled_at = models.DateTimeField(null=True, blank=True)
    schedule_timezone = models.CharField(max_length=64, default=business_time_zone)
    throttle_mps = models.PositiveIntegerField(
        "throttle (messages/second)", null=True, blank=True,
        help_text="At most the channel's throughput; empty uses the channel's bulk share.",
    )  # fmt: skip
    state = models.CharField(
        max_length=12, choices=CampaignState.choices, default=CampaignState.DRAFT, db_index=True
    )
    is_adhoc = models.BooleanField(default=False, help_text="Created by the bulk send API.")
    audience_size = models.PositiveIntegerField(default=0)
    excluded = models.JSONField(default=dict, blank=True)
    pause_reason = models.CharField(max_length=300, blank=True)
    auto_paused = models.BooleanField(default=False)
    spread_over_budget = models.BooleanField(
        default=False,
        help_text="Launch past the number's messaging limit: send what the 24-hour budget "
        "allows, pause when it is used, resume as the window frees room.",
    )
    # Paused (or holding messages back) because the number's budget is used, not by a person
    # or a health alarm: only these resume by themselves (`campaigns_budget_check`).
    budget_paused = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    launched_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("launch_campaign", "Can launch, pause, resume and cancel campaigns")]

    def __str__(self) -> str:
        return self.name


class CampaignTransition(models.Model):
    """Who moved a campaign from one state to another, when, and why."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="transitions")
    from_state = models.CharField(max_length=12)
    to_state = models.CharField(max_length=12)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.from_state} -> {self.to_state}"


class CampaignTestSend(models.Model):
    """A campaign's message sent as a test to a staff member's own number.

    The message went through the real send path and the send policy, rendered with the
    values of one contact of the audience (`sample_contact`), but it belongs to no campaign
    (`Message.campaign` stays empty): it never counts in the campaign's figures, never takes
    the contact's one message of the campaign, and needs no launch.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="test_sends")
    message = models.OneToOneField(
        "messaging.Message", on_delete=models.CASCADE, related_name="campaign_test"
    )
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sample_contact = models.ForeignKey(
        "crm.Contact", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="Whose values the test shows.",
    )  # fmt: skip
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"test of campaign {self.campaign_id}"
