from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from crm.attribute_rules import AttributeType, attribute_definition_check

# WhatsApp's customer-service window: free-form messages may go for 24 hours after the
# contact's own last message to that business number (our outbound messages never extend it).
# The send policy reads each number's window from its conversation (messaging); the contact's
# own last message, to any number, is what crm pages show.
WINDOW = timedelta(hours=24)


def window_expires_at(contact: "Contact"):
    """When the window opened by the contact's last message to any of our numbers closes
    (None if the contact never wrote). For display; sending asks the number's conversation."""
    if contact.last_inbound_at is None:
        return None
    return contact.last_inbound_at + WINDOW


class Consent(models.TextChoices):
    OPTED_IN = "opted_in", "Opted in"
    OPTED_OUT = "opted_out", "Opted out"
    UNKNOWN = "unknown", "Unknown"


class ConsentSource(models.TextChoices):
    IMPORT = "import", "Import"
    API = "api", "API"
    KEYWORD = "keyword", "Keyword (STOP/START)"
    META = "meta", "Meta user preferences"
    BUTTON = "button", "Opt-out button tap"
    STAFF = "staff", "Staff"
    PROVIDER_ERROR = "provider_error", "Provider error (131050)"
    MERGE = "merge", "Merge"
    ERASED = "erased", "Opt-out of an erased contact"


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

    # Erasure (`crm.services.contact_erase`) keeps this row as the pseudonymous record of the
    # person: every personal field emptied, the consent history kept, and keyed hashes of the
    # identifiers (`crm.erasure.identity_hash`) so the number is recognised if it comes back.
    erased_at = models.DateTimeField(null=True, blank=True)
    phone_hash = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    wa_id_hash = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    bsuid_hash = models.CharField(max_length=64, null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Not conditional: NULLs never collide, and imports upsert with ON CONFLICT (phone),
            # which needs a plain unique constraint to infer on PostgreSQL and SQLite.
            models.UniqueConstraint(fields=["phone"], name="contact_phone_unique"),
            models.UniqueConstraint(
                fields=["bsuid"], condition=Q(bsuid__isnull=False), name="contact_bsuid_unique"
            ),
        ]
        permissions = [
            ("export_contact", "Can export contacts"),
            ("change_consent", "Can change a contact's marketing consent"),
            ("merge_contact", "Can merge duplicate contacts"),
            ("erase_contact", "Can erase a contact's personal data"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.erased_at is not None:
            return f"Erased contact #{self.pk}"
        return self.name or self.profile_name or self.phone or self.bsuid or f"#{self.pk}"

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None

    @property
    def window_open(self) -> bool:
        """True while WhatsApp's 24-hour customer-service window is open."""
        expires = window_expires_at(self)
        return expires is not None and expires > timezone.now()


class ConsentEventImmutable(ValueError):
    """A consent event was about to be changed or deleted: they are proof, append-only."""


class ConsentEventQuerySet(models.QuerySet):
    """Bulk writes refused in Python with a clear error (the database refuses them too)."""

    def update(self, **kwargs):
        if set(kwargs) - {"contact", "contact_id"}:
            raise ConsentEventImmutable(
                "Consent events are append-only: only the contact they belong to may change "
                "(a merge moves them)."
            )
        return super().update(**kwargs)

    def delete(self):
        raise ConsentEventImmutable(
            "Consent events are append-only and cannot be deleted; erase the contact instead "
            "(its consent history stays with the pseudonymous record)."
        )

    delete.queryset_only = True


class ConsentEvent(models.Model):
    """Append-only audit of every consent change. Written only by `crm.services.consent_set`
    (and imports' bulk insert). Database triggers refuse UPDATE and DELETE (migration
    `crm.0007_consent_events_append_only`); the queryset and `delete()` refuse them first, in
    Python. Deleting a contact that has some is refused too (PROTECT): erase it instead."""

    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="consent_events")
    previous = models.CharField(max_length=16, choices=Consent.choices)
    consent = models.CharField(max_length=16, choices=Consent.choices)
    source = models.CharField(max_length=20, choices=ConsentSource.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = ConsentEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        base_manager_name = "objects"

    def __str__(self) -> str:
        return f"{self.contact_id}: {self.previous} -> {self.consent} ({self.source})"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ConsentEventImmutable("consent events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ConsentEventImmutable("consent events are append-only and cannot be deleted")


class NumberChangeSource(models.TextChoices):
    WHATSAPP = "whatsapp", "WhatsApp (the user changed number)"
    STAFF = "staff", "Staff"


class ContactNumberChange(models.Model):
    """Append-only history of a contact's numbers: the phone and WhatsApp id it had before a
    change, the ones it took, and the contacts that held the new number and were merged in.
    Written only by `crm.services.contact_number_change`."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="number_changes")
    old_phone = models.CharField(max_length=20, blank=True)
    old_wa_id = models.CharField(max_length=32, blank=True, db_index=True)
    new_phone = models.CharField(max_length=20, blank=True)
    new_wa_id = models.CharField(max_length=32, blank=True)
    source = models.CharField(max_length=20, choices=NumberChangeSource.choices)
    merged_contact_ids = models.JSONField(default=list, blank=True)
    note = models.CharField(max_length=500, blank=True)
    changed_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        old = self.old_phone or self.old_wa_id or "?"
        new = self.new_phone or self.new_wa_id or "?"
        return f"{self.contact_id}: {old} -> {new} ({self.source})"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("number changes are append-only")
        super().save(*args, **kwargs)


def _import_storage():
    """Import files live on the local filesystem under MEDIA_ROOT/imports, whatever the default
    storage: workers stream them from disk (and the test settings keep other media in memory)."""
    return _IMPORT_STORAGE


_IMPORT_STORAGE = FileSystemStorage()  # MEDIA_ROOT, read lazily (follows setting changes)


attribute_key_validator = RegexValidator(
    r"^[a-z][a-z0-9_]{0,49}$",
    "Lower-case letters, digits and underscores, starting with a letter (at most 50).",
)


class AttributeDefinition(models.Model):
    """A custom contact attribute staff may use: the keys of `Contact.attributes` are exactly
    the keys defined here, and each value has the declared type."""

    key = models.CharField(max_length=50, unique=True, validators=[attribute_key_validator])
    label = models.CharField(max_length=100)
    type = models.CharField(max_length=10, choices=AttributeType.choices, default="text")
    choices = models.JSONField(
        default=list, blank=True, help_text="For choice attributes: the allowed values."
    )
    help_text = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.label or self.key

    def clean(self):
        problems = attribute_definition_check(key=self.key, type=self.type, choices=self.choices)
        if problems:
            raise ValidationError(problems)


class Segment(models.Model):
    """A saved filter over contacts, evaluated as one queryset (`crm.selectors.segment_contacts`).

    `filter` is validated by `crm.segment_filters.segment_filter_clean`; see its docstring for
    the shape.
    """

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    filter = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AdvisorTier(models.TextChoices):
    GOLD = "gold", "Gold"
    SILVER = "silver", "Silver"
    BRONZE = "bronze", "Bronze"


class Advisor(models.Model):
    """A contact who receives the daily approved content."""

    contact = models.OneToOneField(Contact, on_delete=models.CASCADE, related_name="advisor")
    firm = models.CharField(max_length=200, blank=True)
    region = models.CharField(max_length=100, blank=True, db_index=True)
    tier = models.CharField(max_length=10, choices=AdvisorTier.choices, default="bronze")
    is_active = models.BooleanField(default=True, db_index=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    content_preferences = models.JSONField(
        default=list, blank=True, help_text="Content categories this advisor wants."
    )
    onboarded_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.contact} ({self.firm or 'no firm'})"


class ImportStatus(models.TextChoices):
    PENDING = "pending", "Queued"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class ImportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    JSON = "json", "JSON array"
    JSONL = "jsonl", "JSON Lines"


def import_upload_to(instance, filename: str) -> str:
    return f"imports/{timezone.now():%Y/%m}/{filename}"


class ImportJob(models.Model):
    """One contact (or advisor) import: its file, progress, counters and checkpoint.

    Each batch commits its rows, its error rows, the counters and the checkpoint (byte offset
    and line number just past the batch) in one transaction, so a run that dies resumes from
    the checkpoint without counting or creating anything twice.
    """

    file = models.FileField(upload_to=import_upload_to, storage=_import_storage, max_length=255)
    original_name = models.CharField(max_length=255)
    format = models.CharField(max_length=5, choices=ImportFormat.choices)
    size_bytes = models.BigIntegerField(default=0)
    dry_run = models.BooleanField(default=False, help_text="Validate and count, change nothing.")
    as_advisors = models.BooleanField(
        "advisors", default=False, help_text="Every good row becomes (or updates) an advisor."
    )
    source_job = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="The dry run this import was started from.",
    )  # fmt: skip
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.PENDING, db_index=True
    )
    message = models.TextField(blank=True, help_text="Why the job failed, if it did.")
    columns = models.JSONField(default=dict, blank=True, help_text="Header -> field mapping.")
    ignored_columns = models.JSONField(default=list, blank=True)

    total_rows = models.PositiveIntegerField(
        null=True, blank=True, help_text="Known when the job completes; progress uses bytes."
    )
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    checkpoint_byte = models.BigIntegerField(default=0)
    checkpoint_line = models.PositiveIntegerField(default=0)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    run_token = models.CharField(max_length=32, blank=True, editable=False)
    attempts = models.PositiveIntegerField(default=0)
    # When retention (UPLOAD_RETENTION_DAYS) or an erasure removed the file and error rows.
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "import job"

    def __str__(self) -> str:
        kind = "dry run" if self.dry_run else "import"
        return f"{self.original_name} ({kind}, {self.get_status_display().lower()})"

    @property
    def is_finished(self) -> bool:
        return self.status in (ImportStatus.COMPLETED, ImportStatus.FAILED)

    @property
    def progress_percent(self) -> int:
        if self.status == ImportStatus.COMPLETED:
            return 100
        if self.total_rows:
            return min(99, self.processed_rows * 100 // self.total_rows)
        if self.size_bytes:
            return min(99, self.checkpoint_byte * 100 // self.size_bytes)
        return 0


class ImportRowError(models.Model):
    """One rejected row of an import: where it is in the file and why it was refused."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    line = models.PositiveIntegerField()
    column = models.CharField(max_length=100, blank=True)
    value = models.CharField(max_length=200, blank=True)
    reason = models.CharField(max_length=300)

    class Meta:
        ordering = ["line", "id"]
        indexes = [models.Index(fields=["job", "line"], name="import_error_job_line")]

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class StaffProfile(models.Model):
    """What a staff member keeps about themself: their own WhatsApp number, where the test
    sends of campaigns go (`messaging.campaigns.services.campaign_test_send`).

    The number is a contact like any other once set (the send path needs one); the staff
    member's consent to receive marketing tests on it is recorded as a consent event when
    they save it. No reverse accessor on the user: read it with
    `crm.selectors.staff_profile_for`.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    phone = models.CharField(
        "my WhatsApp number", max_length=20, blank=True, help_text="In E.164 (+919812345678)."
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"profile of {self.user_id}"
