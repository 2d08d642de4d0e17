"""Messages, their provider status history, and the conversations they belong to.

A conversation is the thread with one contact on one number; the send path reads it (the
customer-service window is per number), so it and its event history live with the messages:
the inbox (staff) and automation (auto-replies) both act on it through `sending.conversations`."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from crm.models import WINDOW, Contact
from messaging.channels.models import Channel, MessageTemplate


def window_closes_at(last_inbound_at):
    """When a customer-service window opened by a message at `last_inbound_at` closes (None:
    the contact never wrote). WhatsApp's window is per business number: the conversation's
    own last inbound message opens it, never a message to another number."""
    return None if last_inbound_at is None else last_inbound_at + WINDOW


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


# Still unknown after the settle time (`Message.unconfirmed` for one row). A late status
# webhook moves the message on, which takes it out of here.
UNCONFIRMED = Q(status=Status.UNKNOWN, unconfirmed_at__isnull=False)


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
    # The contact's latest message to this number (only ever moves forward): the 24-hour
    # customer-service window of this number, which the send policy reads.
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    # The first reply (human or automated) to the current cycle's first inbound message, set
    # by `messaging.inbox.services.conversation_outbound_record` and cleared when a new cycle
    # opens; every cycle's is kept in ConversationEvent (kind first_response).
    first_response_at = models.DateTimeField(null=True, blank=True)
    first_response_automated = models.BooleanField(default=False)
    last_activity_at = models.DateTimeField(default=timezone.now, db_index=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The team that answers it: set when the inbox routes it (`messaging.inbox.routing`).
    team = models.ForeignKey(
        "messaging.Team", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="conversations",
    )  # fmt: skip

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
        """End of this number's 24-hour window (the contact's last message to it)."""
        return window_closes_at(self.last_inbound_at)

    @property
    def window_open(self) -> bool:
        expires = self.window_expires_at
        return expires is not None and expires > timezone.now()


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
    # Set by the dispatcher, for its whole batch, just before the first provider request may
    # leave; a claim clears it. A stale claim without it never reached the provider (it goes
    # back to the queue); with it, the request may have arrived (it becomes `unknown`).
    request_started_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    # Engagement with an outbound message (`messaging.sending.engagement` keeps them): when the
    # contact first wrote back, and first tapped one of its buttons or clicked one of its
    # tracked links, within ATTRIBUTION_WINDOW_DAYS after it was sent. Every reply and click
    # figure counts these, so a funnel reads the messages it counts and nothing else.
    replied_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    # An inbound message: whether it was credited as the reply to what it answers (the inbound
    # path does so as it stores it; the rollup's pass takes the rest, found by the index below).
    reply_credited = models.BooleanField(default=False)
    # An `unknown` send that no status webhook settled within SEND_UNKNOWN_SETTLE_HOURS: staff
    # may send it again (`resent_as`). A flag, not a status, because statuses only move
    # forward and a late webhook must still settle the message.
    unconfirmed_at = models.DateTimeField(null=True, blank=True)
    # The unconfirmed message this one sends again, by a person's decision; at most once.
    resent_from = models.OneToOneField(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="resent_as"
    )

    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    error_code = models.IntegerField(null=True, blank=True, db_index=True)
    error_title = models.CharField(max_length=300, blank=True)
    error_detail = models.TextField(blank=True)
    # The send policy's reason code when it refused this message just before the provider
    # call (`messaging.sending.policy`): the message failed without being sent, so it has no
    # error code; campaigns count it as excluded, not as a failure.
    refusal = models.CharField(max_length=40, blank=True)

    pricing = models.JSONField(default=dict, blank=True)
    pricing_category = models.CharField(max_length=40, blank=True)
    billable = models.BooleanField(null=True)
    # What Parley computes this message costs (README "Message costs"), in `cost_currency`:
    # the price card's rate for its category and the recipient's country, 0 when Meta says it
    # is free or it failed; empty until Meta reports it sent.
    cost = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    cost_currency = models.CharField(max_length=3, blank=True)
    conversation_info = models.JSONField(default=dict, blank=True)

    media_id = models.CharField(max_length=128, blank=True)
    media_file = models.FileField(upload_to="media/%Y/%m/", blank=True)
    media_error = models.CharField(max_length=300, blank=True)
    reaction = models.CharField(max_length=16, blank=True, help_text="The contact's reaction.")
    # The sender changed it after sending: `content` shows the newest version, `edit_history`
    # holds every version oldest first ({wamid, at, type, content}; the original included).
    edited_at = models.DateTimeField(null=True, blank=True)
    edit_history = models.JSONField(default=list, blank=True)
    # Deleted by its sender (an inbound revoke), or by its recipient (a `deleted` status).
    deleted_at = models.DateTimeField(null=True, blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    is_automated = models.BooleanField(default=False)
    # Body and media removed (`messaging.sending.redaction`: retention or an erasure); the
    # metadata stays for analytics.
    redacted_at = models.DateTimeField(null=True, blank=True)
    campaign = models.ForeignKey(
        "messaging.Campaign",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="messages",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("resend_message", "Can send an unconfirmed message again")]
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
                for column in (
                    "sent_at",
                    "delivered_at",
                    "read_at",
                    "failed_at",
                    "replied_at",
                    "clicked_at",
                )
            ),
            models.Index(
                fields=["received_at"], condition=Q(direction="in"), name="message_inbound_received"
            ),
            # The replies stored behind the inbound path's back (bulk loads): none, usually.
            models.Index(
                fields=["received_at"],
                condition=Q(direction="in", reply_credited=False),
                name="message_reply_uncredited",
            ),
            # Retention's nightly pass (MESSAGE_RETENTION_DAYS) reads only what it has not
            # redacted yet, however many old messages are already done.
            models.Index(
                fields=["created_at"],
                condition=Q(redacted_at__isnull=True),
                name="message_unredacted_created",
            ),
            models.Index(
                fields=["campaign", "-created_at"],
                condition=Q(campaign__isnull=False),
                name="message_campaign_recent",
            ),
            # A number's unique recipients of the moving 24 hours (its messaging-limit
            # budget, `channels.selectors.channel_recipients_24h`), answered from the index.
            models.Index(
                fields=["channel", "accepted_at", "contact"],
                condition=Q(type="template", accepted_at__isnull=False),
                name="message_template_accepted",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.type} to {self.contact_id} ({self.uuid})"

    @property
    def unconfirmed(self) -> bool:
        """Unknown, and no webhook settled it in time (a later one still may)."""
        return self.status == Status.UNKNOWN and self.unconfirmed_at is not None


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


class ConversationEventKind(models.TextChoices):
    OPENED = "opened", "Opened"
    CLOSED = "closed", "Closed"
    ASSIGNED = "assigned", "Assigned"
    FIRST_RESPONSE = "first_response", "First response"
    NOTE = "note", "Internal note"


class ConversationEvent(models.Model):
    """Append-only history of a conversation: each cycle's opening (by an inbound message or a
    staff reopen), its first response and its close, assignments, and staff's internal notes
    (kind `note`, text in `note`; never sent to the contact). A day's inbox metrics are
    computed from these rows, so a later reopen never rewrites an earlier day."""

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
    seconds = models.FloatField(
        null=True, blank=True,
        help_text="First response time; for a close, the time since the cycle opened.",
    )  # fmt: skip
    note = models.TextField(max_length=4096, blank=True)

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
