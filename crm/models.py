from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Consent(models.TextChoices):
    OPTED_IN = "opted_in", "Opted in"
    OPTED_OUT = "opted_out", "Opted out"
    UNKNOWN = "unknown", "Unknown"


class ConsentSource(models.TextChoices):
    IMPORT = "import", "Import"
    API = "api", "API"
    KEYWORD = "keyword", "Keyword (STOP/START)"
    META = "meta", "Meta user preferences"
    STAFF = "staff", "Staff"
    PROVIDER_ERROR = "provider_error", "Provider error (131050)"
    MERGE = "merge", "Merge"


class Tag(models.Model):
    name = models.CharField(max_length=64, unique=True)
    color = models.CharField(max_length=7, default="#0b7a5a")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    """A person Parley talks to on WhatsApp.

    `phone` is E.164 (`+919812345678`); `wa_id` is what WhatsApp calls the user (usually the
    digits of the phone); `bsuid` is the business-scoped user id of users who hide their number,
    so a contact may have neither phone nor wa_id.
    """

    phone = models.CharField(max_length=20, null=True, blank=True)
    wa_id = models.CharField(max_length=32, null=True, blank=True, db_index=True)
    bsuid = models.CharField("business-scoped user id", max_length=128, null=True, blank=True)
    name = models.CharField(max_length=200, blank=True)
    profile_name = models.CharField(max_length=200, blank=True)
    language = models.CharField(max_length=16, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts")
    attributes = models.JSONField(default=dict, blank=True)

    consent = models.CharField(max_length=16, choices=Consent.choices, default=Consent.UNKNOWN)
    consent_updated_at = models.DateTimeField(null=True, blank=True)
    blocked = models.BooleanField(default=False)
    pinned = models.BooleanField(default=False)
    undeliverable = models.BooleanField(default=False)
    undeliverable_reason = models.CharField(max_length=200, blank=True)

    unread_count = models.PositiveIntegerField(default=0)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    last_outbound_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["phone"], condition=Q(phone__isnull=False), name="contact_phone_unique"
            ),
            models.UniqueConstraint(
                fields=["bsuid"], condition=Q(bsuid__isnull=False), name="contact_bsuid_unique"
            ),
        ]
        permissions = [
            ("export_contact", "Can export contacts"),
            ("change_consent", "Can change a contact's marketing consent"),
            ("merge_contact", "Can merge duplicate contacts"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.name or self.profile_name or self.phone or self.bsuid or f"#{self.pk}"

    @property
    def window_open(self) -> bool:
        """True while WhatsApp's 24-hour customer-service window is open."""
        from crm.selectors import window_expires_at

        expires = window_expires_at(self)
        return expires is not None and expires > timezone.now()


class ConsentEvent(models.Model):
    """Append-only audit of every consent change. Written only by `crm.services.consent_set`."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consent_events")
    previous = models.CharField(max_length=16, choices=Consent.choices)
    consent = models.CharField(max_length=16, choices=Consent.choices)
    source = models.CharField(max_length=20, choices=ConsentSource.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.contact_id}: {self.previous} -> {self.consent} ({self.source})"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("consent events are append-only")
        super().save(*args, **kwargs)
