"""Content for advisors: items, their review history, deliveries and unlocks."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from crm.models import Contact
from messaging.channels.models import MessageTemplate
from messaging.sending.models import Message


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


class ContentRevision(models.Model):
    """One edit of a content item: who, when, and each changed field's value before and after
    (append-only; written only by `content_update`). A reviewer who edited an item may not
    approve it: their words are in it."""

    content_item = models.ForeignKey(
        ContentItem, on_delete=models.CASCADE, related_name="revisions"
    )
    editor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Kept when the user is deleted: the history still says who.
    editor_name = models.CharField(max_length=150, blank=True)
    state = models.CharField(max_length=16, help_text="The item's state when it was edited.")
    # {"body": {"before": "...", "after": "..."}, "template": {"before": 3, "after": 5}, ...}
    changes = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["content_item", "editor"], name="content_rev_item_editor")]

    def __str__(self) -> str:
        return f"{self.content_item_id}: {', '.join(self.changes)} by {self.editor_name or '-'}"

    @property
    def fields(self) -> list[str]:
        return list(self.changes)


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
