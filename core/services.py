"""Write paths of the foundation: API tokens and worker heartbeats."""

from __future__ import annotations

import logging

from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from core.audit import audit_record
from core.models import ApiToken, AuditAction, WorkerHeartbeat

logger = logging.getLogger(__name__)


def api_token_create(*, user, name: str, created_by=None, expires_at=None) -> tuple[ApiToken, str]:
    """Create a token and return it with its key; the key is not stored and cannot be shown
    again."""
    key = ApiToken.generate_key()
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=key[: ApiToken.PREFIX_LENGTH],
        key_hash=ApiToken.hash_key(key),
        created_by=created_by,
        expires_at=expires_at,
    )
    logger.info("API token %s created for %s", token.prefix, user)
    audit_record(
        AuditAction.TOKEN_CREATED,
        obj=token,
        details={"user": user.get_username(), "prefix": token.prefix, "name": name},
    )
    return token, key


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        logger.info("API token %s revoked", token.prefix)
        audit_record(
            AuditAction.TOKEN_REVOKED,
            obj=token,
            details={"user": token.user.get_username(), "prefix": token.prefix},
        )
    return token


def worker_heartbeat_record(*, hostname: str, queues: list[str], pid: int) -> None:
    """Upsert the worker's heartbeat. Never raises: a database hiccup must not kill a worker."""
    try:
        close_old_connections()
        now = timezone.now()
        updated = WorkerHeartbeat.objects.filter(hostname=hostname).update(
            queues=queues, pid=pid, last_seen_at=now
        )
        if not updated:
            WorkerHeartbeat.objects.update_or_create(
                hostname=hostname,
                defaults={"queues": queues, "pid": pid, "last_seen_at": now, "started_at": now},
            )
    except DatabaseError:
        logger.warning("could not record heartbeat for worker %s", hostname, exc_info=True)


def worker_heartbeat_forget(*, hostname: str) -> None:
    """A worker that shuts down cleanly says so at once instead of going stale."""
    try:
        close_old_connections()
        WorkerHeartbeat.objects.filter(hostname=hostname).delete()
    except DatabaseError:
        logger.warning("could not remove heartbeat for worker %s", hostname, exc_info=True)
