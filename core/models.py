import hashlib
import secrets

from auditlog.models import AbstractLogEntry, LogEntryManager
from django.conf import settings
from django.db import models
from django.utils import timezone

from core.audit_context import audit_event_prepare


class StaffAccess(models.Model):
    """Holds permissions that belong to no table (the staff shell, the API docs).

    Unmanaged and without default permissions: it exists only so that Django creates the
    permission rows that roles are built from.
    """

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("access_staff", "Can use the staff pages"),
            ("view_operations", "Can see the operations centre"),
            ("run_jobs", "Can start background jobs from the staff pages"),
            ("manage_backups", "Can create and download database backups"),
        ]

    def __str__(self) -> str:
        return "staff access"


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    """A bearer token for integrations. Only its SHA-256 is stored; the key is shown once."""

    PREFIX_LENGTH = 8

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What uses this token, e.g. 'shop'.")
    prefix = models.CharField(max_length=PREFIX_LENGTH, db_index=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @staticmethod
    def generate_key() -> str:
        return secrets.token_urlsafe(32)

    @property
    def is_active(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()


class WorkerHeartbeat(models.Model):
    """The last sign of life of each Celery worker (written every few seconds by the worker)."""

    hostname = models.CharField(max_length=255, unique=True)
    queues = models.JSONField(default=list)
    pid = models.IntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["hostname"]

    def __str__(self) -> str:
        return self.hostname


class IdempotencyKey(models.Model):
    """The first response to a request sent with an `Idempotency-Key` header.

    A retried request with the same key (same caller, same endpoint, same body) gets the stored
    response instead of doing the work again; the same key with another body is refused.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    key = models.CharField(max_length=200)
    scope = models.CharField(max_length=100)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "scope", "key"], name="idempotency_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"


class AuditAction(models.TextChoices):
    """What an audit event records: a model write, or a named action (README "Audit log")."""

    CREATE = "create", "Created"
    UPDATE = "update", "Changed"
    DELETE = "delete", "Deleted"
    EXPORT = "export", "Export"
    IMPORT = "import", "Import started"
    LAUNCH = "launch", "Campaign launched"
    PAUSE = "pause", "Campaign paused"
    RESUME = "resume", "Campaign resumed"
    CANCEL = "cancel", "Campaign cancelled"
    ERASE = "erase", "Contact erased"
    RESTORE = "restore", "Backup restored"
    BACKUP = "backup", "Backup written"
    ROLE_CHANGE = "role_change", "Roles changed"
    TOKEN_CREATED = "token_created", "API token created"
    TOKEN_REVOKED = "token_revoked", "API token revoked"
    SIGN_IN = "sign_in", "Signed in"
    SIGN_IN_FAILED = "sign_in_failed", "Sign-in failed"
    LOCKOUT = "lockout", "Locked out"
    MFA_ENROLLED = "mfa_enrolled", "Two-factor sign-in set up"
    MFA_VERIFIED = "mfa_verified", "Second factor given"
    MFA_FAILED = "mfa_failed", "Second factor refused"
    MFA_RECOVERY_CODES = "mfa_recovery_codes", "Recovery codes replaced"
    MFA_DISABLED = "mfa_disabled", "Two-factor sign-in turned off or reset"
    TEMPLATE_SUBMIT = "template_submit", "Template submitted to Meta"
    TEMPLATE_DELETE = "template_delete", "Template deleted at Meta"
    WEBHOOK_SECRET_ROTATED = "webhook_secret_rotated", "Webhook secret rotated"
    WEBHOOK_REPLAY = "webhook_replay", "Webhook events replayed"


def _text(value) -> str:
    return "" if value is None else str(value)


class AppendOnly(Exception):
    """Raised by any attempt to change or delete an audit event outside the retention purge."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnly("Audit events are never changed.")

    def delete(self):
        raise AppendOnly("Audit events are deleted only by the retention purge.")

    def purge_batch(self, *, before, batch: int) -> int:
        """Delete up to `batch` events older than `before` (the retention purge only)."""
        pks = list(self.filter(timestamp__lt=before).values_list("pk", flat=True)[:batch])
        if not pks:
            return 0
        return models.QuerySet(self.model, using=self.db).filter(pk__in=pks)._raw_delete(self.db)

    def redact_objects(self, content_type, pks, *, label: str) -> int:
        """Forget what past events recorded about these rows (an erasure, and only that): each
        changed field's values become "[erased]" and the object's description `label`. Who
        acted, when, from where, the action and which fields changed stay."""
        events = list(self.filter(content_type=content_type, object_pk__in=[str(pk) for pk in pks]))
        raw = models.QuerySet(self.model, using=self.db)
        for event in events:
            raw.filter(pk=event.pk).update(
                changes=dict.fromkeys(event.changes or {}, ERASED_VALUE) or None,
                object_repr=label,
                serialized_data=None,
            )
        return len(events)


ERASED_VALUE = ["[erased]", "[erased]"]


class AuditEventManager(LogEntryManager.from_queryset(AuditEventQuerySet)):
    pass


class AuditEvent(AbstractLogEntry):
    """One entry of the append-only audit log: who (user or API token), when, from where,
    what (a model and id, or a named action) and the changed fields before and after.

    django-auditlog's swappable log-entry model (`AUDITLOG_LOGENTRY_MODEL`), so the package
    writes model changes here and `core.audit.audit_record` writes named actions; who and from
    where come from the request context (`core.audit`). A named action may concern no row
    (a failed sign-in with an unknown name), so the object columns may be empty. Secrets are
    masked before a row is written; rows are never updated or deleted except by retention.
    """

    content_type = models.ForeignKey(
        "contenttypes.ContentType",
        on_delete=models.CASCADE,
        related_name="+",
        null=True,
        blank=True,
        verbose_name="object type",
    )
    object_pk = models.CharField(db_index=True, max_length=255, blank=True, default="")
    object_repr = models.TextField(blank=True, default="")
    action = models.PositiveSmallIntegerField(
        choices=AbstractLogEntry.Action.choices, null=True, blank=True
    )
    action_name = models.CharField(
        "action", max_length=32, choices=AuditAction.choices, db_index=True
    )
    token = models.ForeignKey(
        ApiToken, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(
        max_length=200, blank=True, help_text="Who, kept when the user or token is deleted."
    )

    objects = AuditEventManager()

    class Meta(AbstractLogEntry.Meta):
        verbose_name = "audit event"
        verbose_name_plural = "audit events"
        ordering = ["-timestamp", "-pk"]
        indexes = [models.Index(fields=["content_type", "object_pk"], name="audit_object")]

    def __str__(self) -> str:
        what = self.object_repr or self.get_action_name_display()
        return f"{self.get_action_name_display()}: {what}"

    def changed_fields(self) -> list[tuple[str, str, str]]:
        """(field, before, after) for display; m2m changes as (field, removed, added)."""
        rows = []
        for field, values in (self.changes or {}).items():
            if isinstance(values, dict) and values.get("type") == "m2m":
                objects = ", ".join(str(o) for o in values.get("objects", []))
                removed = objects if values.get("operation") == "delete" else ""
                rows.append((field, removed, "" if removed else objects))
            elif isinstance(values, list | tuple) and len(values) == 2:
                rows.append((field, _text(values[0]), _text(values[1])))
            else:
                rows.append((field, "", _text(values)))
        return rows

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnly("Audit events are never changed.")
        audit_event_prepare(self)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("Audit events are deleted only by the retention purge.")
