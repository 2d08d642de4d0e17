"""Event webhooks to integrators: subscriptions and their deliveries (an outbox).

A `WebhookSubscription` is an integrator's URL, the events it wants and the secret its
callbacks are signed with. A `WebhookDelivery` is one event for one subscription, written in
the same transaction as the change it reports (`services.event_emit`), then sent by workers
until the receiver answers 2xx, retried with backoff for at least WEBHOOK_OUT_MAX_ATTEMPT_HOURS.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class HookEvent(models.TextChoices):
    MESSAGE_STATUS = "message.status", "Message status (accepted, sent, delivered, read, failed)"
    MESSAGE_INBOUND = "message.inbound", "Inbound message"
    CONTACT_CONSENT = "contact.consent", "Contact consent (opt-in, opt-out)"
    CONVERSION_CREATED = "conversion.created", "Conversion recorded"
    CAMPAIGN_STATE = "campaign.state", "Campaign state changed"
    NOTIFICATION_STATUS = "notification.status", "Notification status"


class WebhookSubscription(models.Model):
    """Where to call an integrator back, with what, signed with which secret.

    The secret is generated here (never chosen by a person), shown once when the
    subscription is created or its secret rotated, and masked everywhere else.
    """

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=2048, help_text="Where Parley POSTs the events.")
    events = models.JSONField(default=list, help_text="Event types this subscription receives.")
    secret = models.CharField(max_length=80, editable=False)
    is_active = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    # When the current run of failures began (None while the receiver answers).
    failing_since = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    # Attempts in a row that failed, and when the next may go: a receiver that is down is
    # probed with one batch per backoff step, not hammered with every pending event.
    consecutive_failures = models.PositiveIntegerField(default=0)
    retry_at = models.DateTimeField(null=True, blank=True)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "event webhook subscription"

    def __str__(self) -> str:
        return self.name

    @property
    def secret_masked(self) -> str:
        return f"{self.secret[:6]}…{self.secret[-2:]}" if self.secret else ""


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"  # waiting for its first or next attempt
    DELIVERING = "delivering", "Delivering"  # claimed by a worker
    DELIVERED = "delivered", "Delivered"
    DEAD = "dead", "Given up"  # retried past WEBHOOK_OUT_MAX_ATTEMPT_HOURS


UNDELIVERED = (DeliveryState.PENDING, DeliveryState.DELIVERING)


class WebhookDelivery(models.Model):
    """One event for one subscription. `event_id` is the event's (shared by every
    subscription and by replays), so receivers deduplicate on it."""

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    event_type = models.CharField(max_length=40, choices=HookEvent.choices)
    payload = models.JSONField()
    # Events with the same key (a message's uuid) reach a subscription in the order written.
    ordering_key = models.CharField(max_length=64, blank=True)
    state = models.CharField(
        max_length=12, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=300, blank=True)
    replay_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    replayed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "event webhook deliveries"
        indexes = [
            models.Index(
                fields=["state", "next_attempt_at"],
                name="hookdelivery_due",
                condition=models.Q(state__in=["pending", "delivering"]),
            ),
            models.Index(
                fields=["subscription", "ordering_key", "id"],
                name="hookdelivery_order",
                condition=models.Q(state__in=["pending", "delivering"]),
            ),
            models.Index(fields=["subscription", "-created_at"], name="hookdelivery_log"),
            models.Index(
                fields=["subscription"],
                name="hookdelivery_dead",
                condition=models.Q(state="dead"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} -> {self.subscription_id}"
