"""What happens to a conversation in the inbox: assignment, close, reopen, first response."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from messaging.sending.models import Conversation


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
