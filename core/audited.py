"""Which of core's (and the framework's) tables the audit log follows, and why.

Recorded (writes by staff or tokens, field by field):

* `ApiToken`: issued and revoked by Admins; the key hash is excluded (the key is never stored).
  Creation and revocation are also named actions (`token_created`, `token_revoked`).
* `auth.User`: accounts and their flags; the password hash is masked, so a password change
  shows as a change and nothing more. Group membership is the named action `role_change`.
* `auth.Group`: the roles themselves.
* `django_celery_beat.PeriodicTask`: schedules Admins edit; the fields beat itself writes on
  every run (`last_run_at`, `total_run_count`, `date_changed`) are excluded.

Not recorded: `WorkerHeartbeat` (written by workers every few seconds), `IdempotencyKey`
(stored API responses), and `AuditEvent` itself.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django_celery_beat.models import PeriodicTask

from core.audit import audit_register
from core.models import ApiToken


def audit_register_core() -> None:
    audit_register(ApiToken, exclude_fields=["key_hash", "last_used_at"])
    audit_register(get_user_model(), exclude_fields=["last_login"])
    audit_register(Group)
    audit_register(PeriodicTask, exclude_fields=["last_run_at", "total_run_count", "date_changed"])
