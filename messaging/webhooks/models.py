"""The raw body of every accepted webhook and its processing state."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from messaging.channels.models import Provider


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
