"""Who is acting, and from where, for the audit log of this request or task.

A context variable holds the current request (set by `AuditContextMiddleware`), the API token
that authenticated it (bound by `ApiTokenAuthentication`: DRF authenticates inside the view,
long after any middleware ran, so a middleware alone would see an anonymous user), and the
client address (`core.addresses.client_address`). Every audit event takes its actor, token,
address and request id from here unless the caller names them; management commands and tasks
have no context and are recorded as "system".

This module imports no model: `core.models.AuditEvent.save` calls `audit_event_prepare`.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from core.addresses import client_address
from core.logging import request_id_var

MASK = "[masked]"
# Field or detail names whose values are secrets: password hashes, token hashes, OTP seeds,
# recovery codes, keys. A name ending in `_setting` names where a secret lives, not the secret,
# and stays readable (a changed setting name is exactly what an audit should show).
_SECRET_NAME = re.compile(
    r"password|passwd|secret|_hash$|^hash$|^key$|api_?key|otp|totp|recovery|private|credential"
    r"|^token$|session",
    re.IGNORECASE,
)


def is_secret_name(name: str) -> bool:
    return not name.endswith("_setting") and bool(_SECRET_NAME.search(name))


def scrub(value: Any) -> Any:
    """`value` with the value of every secret-named key masked, at any depth."""
    if isinstance(value, dict):
        return {
            k: (MASK if is_secret_name(str(k)) and v not in (None, "") else scrub(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def _scrub_changes(changes: Any) -> Any:
    """django-auditlog changes: {field: [before, after]} (or m2m dicts); secret fields masked."""
    if not isinstance(changes, dict):
        return changes
    masked = {}
    for field, values in changes.items():
        if is_secret_name(str(field)):
            masked[field] = [MASK, MASK] if isinstance(values, list | tuple) else MASK
        else:
            masked[field] = scrub(values)
    return masked


@dataclass
class AuditContext:
    request: Any = None
    user: Any = None
    token: Any = None
    address: str | None = None

    def actor(self):
        if self.user is not None:
            return self.user
        user = getattr(self.request, "user", None)
        if user is not None and user.is_authenticated:
            return user
        return None


_current: ContextVar[AuditContext | None] = ContextVar("parley_audit_context", default=None)


def audit_context() -> AuditContext | None:
    return _current.get()


@contextmanager
def audit_context_for(request=None, *, user=None, address: str | None = None):
    """Run a block as `request` (or as `user` from `address`, for tasks and commands)."""
    if address is None and request is not None:
        address = client_address(request)
    token = _current.set(AuditContext(request=request, user=user, address=address))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def audit_bind_token(token) -> None:
    """The request is authenticated by `token` (an ApiToken): its writes are the token's."""
    context = _current.get()
    if context is not None:
        context.user = token.user
        context.token = token


def audit_actor_present() -> bool:
    """Whether someone (a signed-in user or an API token) is acting in this context."""
    context = _current.get()
    return context is not None and context.actor() is not None


def request_id() -> str | None:
    """The id of the current request (`X-Request-ID`): the audit event's correlation id."""
    value = request_id_var.get()
    return None if value == "-" else value


def actor_label(user, token) -> str:
    if token is not None:
        return f"token {token.name} ({token.prefix}…) of {token.user.get_username()}"
    if user is not None:
        return user.get_username()
    return "system"


def audit_event_prepare(event) -> None:
    """Fill who, where and which request from the context; mask secrets; name the action."""
    context = _current.get()
    if context is not None:
        if event.actor_id is None and event.token_id is None:
            event.actor = context.actor()
        token = context.token
        if event.token_id is None and token is not None and event.actor_id == token.user_id:
            event.token = token
        if not event.remote_addr:
            event.remote_addr = context.address
    if event.actor is not None and not event.actor_email:
        event.actor_email = getattr(event.actor, "email", "") or None
    if not event.actor_label:
        event.actor_label = actor_label(event.actor, event.token)[:200]
    if not event.cid:
        event.cid = request_id()
    if not event.action_name and event.action is not None:
        event.action_name = {0: "create", 1: "update", 2: "delete"}.get(event.action, "update")
    event.changes = _scrub_changes(event.changes)
    event.additional_data = scrub(event.additional_data)
    event.changes_text = ""
    event.serialized_data = None
