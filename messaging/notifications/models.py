"""Transactional notifications, their types and each contact's preferences."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from crm.models import Contact
from messaging.channels.models import Channel
from messaging.sending.models import Message, Status


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
