import uuid

from django.conf import settings
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
    first_response_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-last_activity_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "channel"], name="one_conversation_per_contact_channel"
            )
        ]

    def __str__(self) -> str:
        return f"{self.contact} on {self.channel}"


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

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["wamid"], condition=Q(wamid__isnull=False), name="message_wamid_unique"
            )
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
