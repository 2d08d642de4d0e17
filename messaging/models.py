import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from crm.models import Contact


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
    reason = models.CharField(max_length=300, blank=True)
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

    @property
    def is_sendable(self) -> bool:
        return self.status == TemplateStatus.APPROVED


class Direction(models.TextChoices):
    OUTBOUND = "out", "Outbound"
    INBOUND = "in", "Inbound"


class MessageType(models.TextChoices):
    TEXT = "text", "Text"
    TEMPLATE = "template", "Template"
    IMAGE = "image", "Image"
    DOCUMENT = "document", "Document"
    VIDEO = "video", "Video"
    AUDIO = "audio", "Audio"
    STICKER = "sticker", "Sticker"
    INTERACTIVE = "interactive", "Interactive"
    BUTTON_REPLY = "button", "Button reply"
    INTERACTIVE_REPLY = "interactive_reply", "Interactive reply"
    LOCATION = "location", "Location"
    CONTACTS = "contacts", "Contacts"
    REACTION = "reaction", "Reaction"
    SYSTEM = "system", "System"
    ORDER = "order", "Order"
    UNSUPPORTED = "unsupported", "Unsupported"


class Status(models.IntegerChoices):
    """Ordered: a provider status applies only when it ranks above the current one.

    `failed` ranks above `read` so that it is terminal, but it only applies to messages that
    were not yet delivered (a late failure for a delivered message is kept in the history).
    """

    RECEIVED = 1, "Received"  # inbound
    QUEUED = 10, "Queued"
    PAUSED = 12, "Paused"  # its campaign is paused; resumes as queued
    SENDING = 20, "Sending"
    UNKNOWN = 25, "Unknown"  # the request may have reached the provider; never re-sent
    ACCEPTED = 30, "Accepted"
    SENT = 40, "Sent"
    DELIVERED = 50, "Delivered"
    READ = 60, "Read"
    FAILED = 70, "Failed"
    CANCELLED = 80, "Cancelled"


PROVIDER_STATUSES = {
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "read": Status.READ,
    "played": Status.READ,
    "failed": Status.FAILED,
}


class Lane(models.IntegerChoices):
    """Replies and transactional sends go first; bulk never takes the whole rate."""

    PRIORITY = 0, "Priority"
    BULK = 1, "Bulk"


class Conversation(models.Model):
    """The thread with one contact on one channel.

    DESIGN.md placed this in crm, but a conversation belongs to a channel (a messaging
    concept), and crm must not import messaging; so it lives here.
    """

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="conversations")
    is_open = models.BooleanField(default=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    first_inbound_at = models.DateTimeField(null=True, blank=True)
    # The first reply (human or automated) to the current cycle's first inbound message, set
    # by `messaging.inbox.services.conversation_outbound_record` and cleared when a new cycle
    # opens; every cycle's is kept in ConversationEvent (kind first_response).
    first_response_at = models.DateTimeField(null=True, blank=True)
    first_response_automated = models.BooleanField(default=False)
    last_activity_at = models.DateTimeField(default=timezone.now, db_index=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-last_activity_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "channel"], name="one_conversation_per_contact_channel"
            )
        ]

    def __str__(self) -> str:
        return f"{self.contact} on {self.channel}"

    @property
    def window_expires_at(self):
        """End of the 24-hour window: derived from the contact's last inbound message."""
        from crm.selectors import window_expires_at

        return window_expires_at(self.contact)

    @property
    def window_open(self) -> bool:
        expires = self.window_expires_at
        return expires is not None and expires > timezone.now()


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
    `{"body": [{"source": "field", "value": "name"}, {"source": "attribute", "value": "city"},
    {"source": "constant", "value": "DIWALI20"}], "header": [...], "buttons": {"0": {...}},
    "header_media_link": "https://..."}`. Named templates use `"name"` keys on each item.
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
    schedule_timezone = models.CharField(max_length=64, default="Asia/Kolkata")
    throttle_mps = models.PositiveIntegerField(
        "throttle (messages/second)", null=True, blank=True,
        help_text="At most the channel's throughput; empty uses the channel's bulk share.",
    )  # fmt: skip
    cost_per_message = models.DecimalField(max_digits=10, decimal_places=4, default=0)
    currency = models.CharField(max_length=3, default="INR")
    state = models.CharField(
        max_length=12, choices=CampaignState.choices, default=CampaignState.DRAFT, db_index=True
    )
    is_adhoc = models.BooleanField(default=False, help_text="Created by the bulk send API.")
    audience_size = models.PositiveIntegerField(default=0)
    excluded = models.JSONField(default=dict, blank=True)
    pause_reason = models.CharField(max_length=300, blank=True)
    auto_paused = models.BooleanField(default=False)
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


class Message(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="messages")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="messages")
    conversation = models.ForeignKey(
        Conversation, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
    direction = models.CharField(max_length=3, choices=Direction.choices)
    type = models.CharField(max_length=20, choices=MessageType.choices)
    # The object named after the type, as in the Cloud API body ({"body": ...} for text).
    content = models.JSONField(default=dict)
    template = models.ForeignKey(
        MessageTemplate, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    is_marketing = models.BooleanField(default=False)
    context_wamid = models.CharField("in reply to (wamid)", max_length=128, blank=True)
    wamid = models.CharField("provider message id", max_length=128, null=True, blank=True)
    wa_id = models.CharField(max_length=32, blank=True)
    status = models.PositiveSmallIntegerField(choices=Status.choices, default=Status.QUEUED)
    lane = models.PositiveSmallIntegerField(choices=Lane.choices, default=Lane.PRIORITY)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)

    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    error_code = models.IntegerField(null=True, blank=True, db_index=True)
    error_title = models.CharField(max_length=300, blank=True)
    error_detail = models.TextField(blank=True)

    pricing = models.JSONField(default=dict, blank=True)
    pricing_category = models.CharField(max_length=40, blank=True)
    billable = models.BooleanField(null=True)
    conversation_info = models.JSONField(default=dict, blank=True)

    media_id = models.CharField(max_length=128, blank=True)
    media_file = models.FileField(upload_to="media/%Y/%m/", blank=True)
    media_error = models.CharField(max_length=300, blank=True)
    reaction = models.CharField(max_length=16, blank=True, help_text="The contact's reaction.")
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    is_automated = models.BooleanField(default=False)
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, null=True, blank=True, related_name="messages"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["wamid"], condition=Q(wamid__isnull=False), name="message_wamid_unique"
            ),
            # A campaign reaches each contact at most once, however often it is launched.
            models.UniqueConstraint(
                fields=["campaign", "contact"],
                condition=Q(campaign__isnull=False),
                name="one_message_per_campaign_contact",
            ),
        ]
        indexes = [
            models.Index(
                fields=["channel", "lane", "next_attempt_at", "id"],
                condition=Q(status=10),
                name="message_queued_due",
            ),
            models.Index(
                fields=["claimed_at"], condition=Q(status=20), name="message_sending_claimed"
            ),
            models.Index(fields=["contact", "-created_at"], name="message_contact_recent"),
            models.Index(fields=["status", "created_at"], name="message_status_created"),
            models.Index(
                fields=["campaign", "status"],
                condition=Q(campaign__isnull=False),
                name="message_campaign_status",
            ),
            # Analytics rollups read a day of messages by each status's own timestamp, and
            # campaign pages their latest messages (bench/analytics.py: one day of 5,000,000
            # messages rolls up in 0.7 s with these, 10.7 s without). Partial, so rows
            # without the timestamp (most of them, for read and failed) cost nothing.
            *(
                models.Index(
                    fields=[column],
                    condition=Q(**{f"{column}__isnull": False}),
                    name=f"message_{column}",
                )
                for column in ("sent_at", "delivered_at", "read_at", "failed_at")
            ),
            models.Index(
                fields=["received_at"], condition=Q(direction="in"), name="message_inbound_received"
            ),
            models.Index(
                fields=["campaign", "-created_at"],
                condition=Q(campaign__isnull=False),
                name="message_campaign_recent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.type} to {self.contact_id} ({self.uuid})"

    @property
    def is_final(self) -> bool:
        return self.status in (Status.READ, Status.FAILED, Status.CANCELLED)


class MessageStatusEvent(models.Model):
    """Append-only history of provider statuses, one row per (wamid, status).

    A status whose message is not known yet (the webhook beat the send's response) is kept
    with `message` empty, `applied` false, and applied once the wamid is recorded.
    """

    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, null=True, blank=True, related_name="status_events"
    )
    wamid = models.CharField(max_length=128)
    status = models.CharField(max_length=20)
    timestamp = models.DateTimeField()
    callback_data = models.CharField(max_length=512, blank=True)
    errors = models.JSONField(default=list, blank=True)
    raw = models.JSONField(default=dict)
    applied = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["timestamp", "id"]
        constraints = [
            models.UniqueConstraint(fields=["wamid", "status"], name="status_event_unique")
        ]
        indexes = [models.Index(fields=["wamid"], condition=Q(applied=False), name="status_parked")]

    def __str__(self) -> str:
        return f"{self.wamid} {self.status}"


class WebhookState(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed"


class WebhookEvent(models.Model):
    """The raw body of every accepted webhook, stored before anything else happens."""

    provider = models.CharField(max_length=20, choices=Provider.choices)
    body = models.TextField()
    body_sha256 = models.CharField(max_length=64)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    state = models.CharField(
        max_length=12, choices=WebhookState.choices, default=WebhookState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            # Meta redelivers the same body; concurrent duplicates collapse into one row.
            models.UniqueConstraint(fields=["provider", "body_sha256"], name="webhook_body_unique")
        ]
        indexes = [
            models.Index(
                fields=["received_at"], condition=Q(state="pending"), name="webhook_pending"
            )
        ]
        permissions = [("replay_webhookevent", "Can replay failed webhook events")]

    def __str__(self) -> str:
        return f"{self.provider} webhook {self.pk} ({self.state})"


class RateLimitState(models.Model):
    """GCRA state of a send-rate key when no Redis is configured (embedded mode)."""

    key = models.CharField(max_length=200, primary_key=True)
    tat = models.FloatField(default=0.0)

    def __str__(self) -> str:
        return self.key


# --- Content for advisors ---------------------------------------------------------------------


class ContentState(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING_REVIEW = "pending_review", "Pending review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    SCHEDULED = "scheduled", "Scheduled"
    DISTRIBUTED = "distributed", "Distributed"


class ContentTarget(models.TextChoices):
    ALL = "all", "All active advisors"
    TIER = "tier", "A tier"
    REGION = "region", "A region"
    SEGMENT = "segment", "A segment"


class ContentSource(models.TextChoices):
    MANUAL = "manual", "Manual"
    FEED = "feed", "Feed"


class UnlockKind(models.TextChoices):
    """What a quick-reply button of a content announcement asks for (its payload prefix)."""

    UNLOCK_CONTENT = "UNLOCK_CONTENT", "Unlock the content"
    UNLOCK_IMAGES = "UNLOCK_IMAGES", "Unlock the images"
    UNLOCK_UPDATES = "UNLOCK_UPDATES", "Unlock the updates"
    RETRIEVE_CONTENT = "RETRIEVE_CONTENT", "Retrieve the content again"
    SHARE_WITH_CLIENTS = "SHARE_WITH_CLIENTS", "A version to share with clients"


class ContentItem(models.Model):
    """Content for advisors: reviewed, then announced on its day with Click-to-Unlock buttons.

    `unlock_buttons` maps the announcement template's quick-reply buttons, in order, to what
    they unlock: `[{"kind": "UNLOCK_CONTENT", "title": "Unlock content"}, ...]`. State changes
    only through `messaging.content.services`.
    """

    title = models.CharField(max_length=200)
    body = models.TextField(help_text="The unlocked text; links in it are tracked.")
    media_url = models.URLField(
        "media link", max_length=2048, blank=True, help_text="An image or document (public URL)."
    )
    category = models.CharField(max_length=64, blank=True, db_index=True)
    target = models.CharField(max_length=10, choices=ContentTarget.choices, default="all")
    target_tier = models.CharField(max_length=10, blank=True)
    target_region = models.CharField(max_length=100, blank=True)
    target_segment = models.ForeignKey(
        "crm.Segment", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    send_on = models.DateField("date to go out", null=True, blank=True, db_index=True)
    template = models.ForeignKey(
        MessageTemplate, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text="The approved template that announces it; its quick-reply buttons unlock it.",
    )  # fmt: skip
    unlock_buttons = models.JSONField(default=list, blank=True)
    state = models.CharField(
        max_length=16, choices=ContentState.choices, default=ContentState.DRAFT, db_index=True
    )
    source = models.CharField(max_length=10, choices=ContentSource.choices, default="manual")
    feed_guid = models.CharField(max_length=500, null=True, blank=True)
    source_url = models.URLField(max_length=2048, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(max_length=500, blank=True)
    distributed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["feed_guid"], condition=Q(feed_guid__isnull=False), name="content_feed_guid"
            )
        ]
        permissions = [
            ("review_contentitem", "Can approve or reject content items"),
            ("distribute_contentitem", "Can distribute the day's content now"),
        ]

    def __str__(self) -> str:
        return self.title


class ContentTransition(models.Model):
    """Who moved a content item from one state to another, when, and why (append-only)."""

    content_item = models.ForeignKey(
        ContentItem, on_delete=models.CASCADE, related_name="transitions"
    )
    from_state = models.CharField(max_length=16, blank=True)
    to_state = models.CharField(max_length=16)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.content_item_id}: {self.from_state or '-'} -> {self.to_state}"


class ContentDelivery(models.Model):
    """One content item announced to one advisor; at most one per (item, contact)."""

    content_item = models.ForeignKey(
        ContentItem, on_delete=models.CASCADE, related_name="deliveries"
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    advisor = models.ForeignKey(
        "crm.Advisor", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    unlocked_at = models.DateTimeField(null=True, blank=True)
    unlock_message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "content deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["content_item", "contact"], name="one_delivery_per_content_contact"
            )
        ]

    def __str__(self) -> str:
        return f"content {self.content_item_id} to contact {self.contact_id}"


class ContentUnlock(models.Model):
    """Every button tap that sent content (append-only): what was asked and what went out."""

    delivery = models.ForeignKey(ContentDelivery, on_delete=models.CASCADE, related_name="unlocks")
    kind = models.CharField(max_length=20, choices=UnlockKind.choices)
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["delivery", "kind"], name="content_unlock_kind")]

    def __str__(self) -> str:
        return f"{self.kind} of delivery {self.delivery_id}"


# --- Transactional notifications ---------------------------------------------------------------


class NotificationType(models.Model):
    """An event another system reports (order confirmed, payment due...) and how it is sent.

    The template is found by name and language at send time (templates arrive by sync).
    `parameter_mapping` fills its parameters: `{"header": [...], "body": [{"source":
    "variable", "value": "order_id"}, {"source": "field", "value": "name"}, {"source":
    "constant", "value": "Team Parley"}], "buttons": {"0": {...}}}`; named templates put a
    `"name"` on each item; a variable item may carry a `"default"`. `variables` documents
    what callers send: `{"order_id": "The order number, e.g. #40321"}`.
    """

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    template_name = models.CharField(max_length=512, blank=True)
    template_language = models.CharField(max_length=16, default="en")
    channel = models.ForeignKey(
        Channel, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text="Empty: the only active channel.",
    )  # fmt: skip
    parameter_mapping = models.JSONField(default=dict, blank=True)
    variables = models.JSONField(default=dict, blank=True, help_text="{name: description}")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name or self.code


class Notification(models.Model):
    """One transactional send requested by another system, once per (type, reference).

    A resend is a new attempt with its own message. Its status is its message's, or
    `refused` with the reason when the rules said no (the refusal is kept, so the same
    reference gives the same answer).
    """

    event_type = models.ForeignKey(
        NotificationType, on_delete=models.PROTECT, related_name="notifications"
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    reference_id = models.CharField(max_length=200)
    attempt = models.PositiveSmallIntegerField(default=1)
    variables = models.JSONField(default=dict, blank=True)
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    refusal_code = models.CharField(max_length=64, blank=True)
    refusal_reason = models.CharField(max_length=500, blank=True)
    refusal_details = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event_type", "reference_id", "attempt"], name="notification_once"
            )
        ]
        indexes = [
            models.Index(fields=["reference_id"], name="notification_reference"),
            models.Index(fields=["contact", "-created_at"], name="notification_contact"),
        ]
        permissions = [("resend_notification", "Can resend a failed notification")]

    def __str__(self) -> str:
        return f"{self.event_type_id} {self.reference_id} #{self.attempt}"

    @property
    def status(self) -> str:
        """`refused`, or the message's status in lower case (`queued`, `delivered`...)."""
        if self.refusal_code or self.message_id is None:
            return "refused"
        return Status(self.message.status).name.lower()


class NotificationPreferenceSource(models.TextChoices):
    API = "api", "API"
    STAFF = "staff", "Staff"
    CONTACT = "contact", "The contact asked"
    IMPORT = "import", "Import"


class NotificationPreference(models.Model):
    """A contact's current choice for one event type (no row: they receive it)."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    event_type = models.ForeignKey(NotificationType, on_delete=models.CASCADE, related_name="+")
    opted_out = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "event_type"], name="one_preference_per_contact_type"
            )
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} {self.event_type_id}: {'out' if self.opted_out else 'in'}"


class NotificationPreferenceEvent(models.Model):
    """Append-only audit of every preference change, like consent events."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    event_type = models.ForeignKey(NotificationType, on_delete=models.CASCADE, related_name="+")
    opted_out = models.BooleanField()
    source = models.CharField(max_length=10, choices=NotificationPreferenceSource.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        state = "opted out of" if self.opted_out else "opted in to"
        return f"{self.contact_id} {state} {self.event_type_id} ({self.source})"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("notification preference events are append-only")
        super().save(*args, **kwargs)


# --- Tracked links -------------------------------------------------------------------------------


class TrackedLink(models.Model):
    """A short link `/l/<token>` that records a click and redirects to exactly `url`."""

    token = models.CharField(max_length=32, unique=True)
    url = models.URLField(max_length=2048)
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    content_item = models.ForeignKey(
        ContentItem, on_delete=models.SET_NULL, null=True, blank=True, related_name="links"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"/l/{self.token} -> {self.url}"


class LinkClick(models.Model):
    """One click on a tracked link. The IP is kept only as a keyed hash."""

    link = models.ForeignKey(TrackedLink, on_delete=models.CASCADE, related_name="clicks")
    clicked_at = models.DateTimeField(default=timezone.now, db_index=True)
    user_agent = models.CharField(max_length=300, blank=True)
    ip_hash = models.CharField(max_length=64, blank=True)
    is_bot = models.BooleanField(
        default=False, help_text="A link-preview fetcher or crawler, not a person."
    )

    class Meta:
        ordering = ["-clicked_at", "-id"]

    def __str__(self) -> str:
        return f"click on {self.link_id} at {self.clicked_at:%Y-%m-%d %H:%M}"


# --- Inbox and automation ----------------------------------------------------------------------


class ConversationEventKind(models.TextChoices):
    OPENED = "opened", "Opened"
    CLOSED = "closed", "Closed"
    ASSIGNED = "assigned", "Assigned"
    FIRST_RESPONSE = "first_response", "First response"


class ConversationEvent(models.Model):
    """Append-only history of a conversation: each cycle's opening (by an inbound message or a
    staff reopen), its first response and its close, and assignments. A day's inbox metrics
    are computed from these rows, so a later reopen never rewrites an earlier day."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=ConversationEventKind.choices)
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    automated = models.BooleanField(default=False)
    seconds = models.FloatField(null=True, blank=True, help_text="First response time.")
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            # One opening and one first response per cycle, however often they are recorded.
            models.UniqueConstraint(
                fields=["conversation", "kind", "at"],
                condition=Q(kind__in=["opened", "first_response"]),
                name="conversation_event_once",
            )
        ]
        indexes = [models.Index(fields=["kind", "at"], name="conversation_event_kind_at")]

    def __str__(self) -> str:
        return f"{self.conversation_id} {self.kind} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("conversation events are append-only")
        super().save(*args, **kwargs)


class AutoReplyTrigger(models.TextChoices):
    PAYLOAD = "payload", "Button payload (exact)"
    PAYLOAD_PREFIX = "payload_prefix", "Button payload (prefix)"
    INTERACTIVE_ID = "interactive_id", "Interactive reply id"
    KEYWORD = "keyword", "Keyword in the text"
    REGEX = "regex", "Regular expression on the text"
    OUTSIDE_OFFICE_HOURS = "outside_hours", "Any message outside office hours"


class AutoReplyAction(models.TextChoices):
    SEND_CONTENT = "send_content", "Send a content item"
    SEND_TEXT = "send_text", "Send text"
    SEND_TEMPLATE = "send_template", "Send a template"
    OPT_OUT = "opt_out", "Opt out of marketing"
    OPT_IN = "opt_in", "Opt in to marketing"
    ASSIGN = "assign", "Assign to a user"
    ADD_TAG = "add_tag", "Add a tag"


class AutoReplyRule(models.Model):
    """When an inbound message matches `trigger`, do `action`. Rules run in `order` (lowest
    first) after the built-in Click-to-Unlock rule; `stop_processing` ends the evaluation;
    `fallback` rules run last, after the responders, and only if nothing replied. Whatever
    matches, at most one automated reply goes out per inbound message."""

    name = models.CharField(max_length=100, unique=True)
    order = models.PositiveIntegerField(default=100, db_index=True)
    enabled = models.BooleanField(default=True)
    trigger = models.CharField(max_length=20, choices=AutoReplyTrigger.choices)
    trigger_value = models.CharField(
        max_length=500, blank=True,
        help_text="The payload, payload prefix or reply id; keywords separated by commas; a "
        "regular expression (case-insensitive). Empty for office hours.",
    )  # fmt: skip
    action = models.CharField(max_length=20, choices=AutoReplyAction.choices)
    text = models.TextField(blank=True, help_text="For 'send text': the reply (≤ 4,096 chars).")
    template = models.ForeignKey(
        MessageTemplate, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="For 'send a template': an approved template.",
    )  # fmt: skip
    template_parameters = models.JSONField(
        default=dict, blank=True,
        help_text='Constant values: {"body": ["Asha", "#123"], "header": ["..."]} (lists for '
        "positional templates, objects by name for named ones).",
    )  # fmt: skip
    content_payload = models.CharField(
        max_length=200, blank=True,
        help_text="For 'send a content item': the unlock payload, e.g. UNLOCK_CONTENT:42.",
    )  # fmt: skip
    assign_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    tag = models.ForeignKey(
        "crm.Tag", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    cooldown_minutes = models.PositiveIntegerField(
        default=0, help_text="Do not fire again for the same contact within this many minutes."
    )
    stop_processing = models.BooleanField(
        default=True, help_text="Evaluate no further rules (nor the FAQ/AI responders)."
    )
    fallback = models.BooleanField(
        default=False,
        help_text="Only when nothing else answered: evaluated after the FAQ/AI responders "
        "(an out-of-office note that gives way to a real answer, say).",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = "auto-reply rule"

    def __str__(self) -> str:
        return self.name

    def clean(self):
        from django.core.exceptions import ValidationError

        from messaging.automation.services import rule_problems

        problems = rule_problems(self)
        if problems:
            raise ValidationError(problems)


class AutoReplyOutcome(models.TextChoices):
    SENT = "sent", "Reply sent"
    ACTED = "acted", "Action done"
    SKIPPED = "skipped", "Skipped"
    REFUSED = "refused", "Send refused"
    NO_ANSWER = "no_answer", "Nothing to send"
    ERROR = "error", "Error"


class AutoReplyRun(models.Model):
    """What automation did for one inbound message, once per (message, rule).

    `rule_key` names the rule (`rule:<id>`) or a built-in (`builtin:unlock`, `responder:faq`,
    `responder:ai`). At most one run per inbound message carries a reply.
    """

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="autoreply_runs")
    rule = models.ForeignKey(
        AutoReplyRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs"
    )
    rule_key = models.CharField(max_length=64)
    outcome = models.CharField(max_length=12, choices=AutoReplyOutcome.choices)
    detail = models.CharField(max_length=300, blank=True)
    reply = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "auto-reply run"
        constraints = [
            models.UniqueConstraint(fields=["message", "rule_key"], name="autoreply_run_once"),
            models.UniqueConstraint(
                fields=["message"], condition=Q(reply__isnull=False), name="autoreply_one_reply"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule_key} on {self.message_id}: {self.outcome}"


class FaqEntry(models.Model):
    """A question the FAQ responder answers when an inbound text matches it well enough."""

    question = models.CharField(max_length=300)
    keywords = models.CharField(
        max_length=500, blank=True, help_text="Words or phrases, separated by commas."
    )
    answer = models.TextField(help_text="Sent as a text reply (≤ 4,096 characters).")
    topic = models.CharField(max_length=64, db_index=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["topic", "question"]
        verbose_name = "FAQ entry"
        verbose_name_plural = "FAQ entries"

    def __str__(self) -> str:
        return self.question


class AutomatedAnswer(models.Model):
    """The automation behind an automated reply: who answered, on what topic, how sure, and
    how an agent rated it (1 to 5)."""

    message = models.OneToOneField(
        Message, on_delete=models.CASCADE, related_name="automated_answer"
    )
    question = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    responder = models.CharField(max_length=32, help_text="faq, ai, rule or unlock.")
    topic = models.CharField(max_length=64, blank=True, db_index=True)
    confidence = models.FloatField(null=True, blank=True)
    rating = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    rated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    rated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5),
                name="automated_answer_rating_1_5",
            )
        ]
        permissions = [("rate_automatedanswer", "Can rate automated answers")]

    def __str__(self) -> str:
        return f"{self.responder} answer {self.message_id} ({self.topic or 'no topic'})"
