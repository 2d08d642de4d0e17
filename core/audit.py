"""The audit log: who did what, when, from where (README "Audit log").

Storage is `core.models.AuditEvent`, django-auditlog's swappable log-entry model. Two writers:

* django-auditlog records creates, updates and deletes of the models each app registers with
  `audit_register` (in its `audited.py`), with the changed fields before and after, but only
  when someone is acting: a signed-in user or an API token (`audit_actor_present`). Writes by
  workers, webhooks and the scheduler are the system's own bookkeeping and are not recorded.
* `audit_record` records named actions: exports, imports, campaign launches, sign-ins, ...,
  and the bulk paths (`QuerySet.update`, `bulk_create`) that bypass model signals, as one
  event each.

Both take the actor, token and client address from `core.audit_context` unless given.
"""

from __future__ import annotations

import logging
from typing import Any

from auditlog.receivers import log_update
from auditlog.registry import auditlog
from auditlog.signals import pre_log
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.db.models.signals import m2m_changed, pre_save
from django.utils.encoding import smart_str

from core.audit_context import audit_actor_present, audit_context_for
from core.models import AuditAction, AuditEvent

logger = logging.getLogger(__name__)

__all__ = [
    "AuditAction",
    "AuditContextMiddleware",
    "audit_events_redact",
    "audit_record",
    "audit_register",
]


def audit_record(
    action: str,
    *,
    obj: Model | None = None,
    actor=None,
    details: dict[str, Any] | None = None,
    token=None,
) -> AuditEvent:
    """Record a named action (`AuditAction`), optionally about `obj`.

    `actor`, `token` and the address come from the current request when not given; outside a
    request (commands, tasks) the event is the system's. `details` is free JSON; values under
    secret-looking keys are masked.
    """
    if action not in AuditAction.values:
        raise ValueError(f"Unknown audit action {action!r}.")
    event = AuditEvent(
        action_name=action,
        actor=actor,
        token=token,
        additional_data=details or None,
    )
    if obj is not None:
        event.content_type = ContentType.objects.get_for_model(obj)
        event.object_pk = smart_str(obj.pk)
        if isinstance(obj.pk, int):
            event.object_id = obj.pk
        try:
            event.object_repr = smart_str(obj)[:500]
        except Exception:  # a broken __str__ must not lose the event
            event.object_repr = f"{obj._meta.verbose_name} {obj.pk}"
    event.save()
    return event


def audit_events_redact(model: type[Model], pks, *, label: str) -> int:
    """An erasure: past events about these rows of `model` keep who, when and which fields,
    and lose the values (the person's old name, number, notes) and the description."""
    content_type = ContentType.objects.get_for_model(model)
    return AuditEvent.objects.all().redact_objects(content_type, list(pks), label=label)


def _log_update_when_someone_acts(sender, instance, **kwargs):
    """auditlog's update receiver reads the stored row before every save of a registered model,
    to diff it. The system's own writes (webhooks, workers, the scheduler) are not recorded
    (`_only_when_someone_acts`), so they skip that read: one query less per contact or
    conversation an inbound message touches."""
    if audit_actor_present():
        log_update(sender, instance, **kwargs)


# Before any model is registered: the registry connects this receiver for each of them.
auditlog._signals[pre_save] = _log_update_when_someone_acts


def audit_register(model, *, exclude_fields: list[str] | None = None, **options) -> None:
    """Record staff and token writes of `model` (creates, updates, deletes, field diffs)."""
    if not auditlog.contains(model):
        auditlog.register(model, exclude_fields=exclude_fields or [], **options)


class AuditContextMiddleware:
    """Makes the request (its user, its client address) the context of every audit event.

    Sits after AuthenticationMiddleware; the user is read lazily, when an event is written.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with audit_context_for(request):
            return self.get_response(request)


# --- Receivers (connected in CoreConfig.ready) ----------------------------------------------


def _only_when_someone_acts(sender, instance, action, **kwargs):
    """pre_log: model writes are recorded for staff and tokens, not for the system's own."""
    return audit_actor_present()


def _signed_in(sender, request, user, **kwargs):
    audit_record(AuditAction.SIGN_IN, obj=user, actor=user)


def _sign_in_failed(sender, credentials, request=None, **kwargs):
    # Django passes the credentials cleansed (the password replaced by stars); only the
    # username attempted is kept, never anything else that was typed.
    username = str(credentials.get(get_user_model().USERNAME_FIELD, "") or "")[:150]
    user = get_user_model()._default_manager.filter(**{"username": username}).first()
    details = {"username": username}
    if getattr(request, "axes_locked_out", False):
        details["locked_out"] = True
    audit_record(AuditAction.SIGN_IN_FAILED, obj=user, details=details)


def _locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    if getattr(request, "axes_failures_since_start", None) is None:
        # axes signals again for each attempt refused during a lock-out; that attempt is
        # already a failed sign-in (`locked_out`), and the lock-out was recorded when it began.
        return
    user = get_user_model()._default_manager.filter(username=username or "").first()
    audit_record(
        AuditAction.LOCKOUT,
        obj=user,
        details={"username": (username or "")[:150], "address": ip_address},
    )


def _roles_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    """A user's groups changed (from either side of the relation): one `role_change` event."""
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    User = get_user_model()
    if action == "pre_clear":
        if reverse:  # a group emptied: each member loses it
            for user in instance.user_set.all():
                _role_event(user, removed=[instance.name])
        else:
            _role_event(instance, removed=list(instance.groups.values_list("name", flat=True)))
        return
    key = "added" if action == "post_add" else "removed"
    if reverse:  # group.user_set.add(users)
        for user in User._default_manager.filter(pk__in=pk_set or []):
            _role_event(user, **{key: [instance.name]})
    else:
        names = list(Group.objects.filter(pk__in=pk_set or []).values_list("name", flat=True))
        _role_event(instance, **{key: names})


def _role_event(user, *, added: list[str] | None = None, removed: list[str] | None = None):
    if not added and not removed:
        return
    details = {"added": sorted(added or []), "removed": sorted(removed or [])}
    audit_record(AuditAction.ROLE_CHANGE, obj=user, details=details)


def audit_receivers_connect() -> None:
    from axes.signals import user_locked_out  # imports axes' models: only once apps are ready

    User = get_user_model()
    pre_log.connect(_only_when_someone_acts, dispatch_uid="core.audit.gate")
    user_logged_in.connect(_signed_in, dispatch_uid="core.audit.sign_in")
    user_login_failed.connect(_sign_in_failed, dispatch_uid="core.audit.sign_in_failed")
    user_locked_out.connect(_locked_out, dispatch_uid="core.audit.lockout")
    m2m_changed.connect(_roles_changed, sender=User.groups.through, dispatch_uid="core.audit.roles")
