"""Tracked links and their clicks."""

from django.db import models
from django.utils import timezone

from crm.models import Contact
from messaging.sending.models import Message


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
        "messaging.Campaign", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    content_item = models.ForeignKey(
        "messaging.ContentItem",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="links",
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
