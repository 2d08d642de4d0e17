"""Capture ERROR log records into the database (`AppError`) for the operations error log.

Installed on the root logger by settings (`LOGGING["handlers"]["database"]`). The handler must
never make things worse than the error it records, so it:

- never raises and never logs (a failure to store a record is silently dropped; the console
  handler still has the line);
- guards against recursion (an error raised while storing an error is not stored again);
- never touches the caller's transaction: outside a transaction it inserts at once; inside
  one on PostgreSQL it uses a short-lived connection of its own, so the record survives the
  rollback that usually follows an error and an aborted transaction cannot refuse it; on
  SQLite (one writer at a time, where a second connection would wait for the caller's lock)
  it inserts after the caller's transaction commits, and drops it if it rolls back;
- limits itself to APP_ERROR_MAX_PER_MINUTE records per process, so an error storm cannot
  turn into a write storm.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback

_state = threading.local()
_budget_lock = threading.Lock()
_budget = {"minute": 0, "used": 0}

# Records from these loggers are about the database itself or would recurse.
SKIPPED_LOGGERS = ("django.db.backends", "analytics.ops.logging")
MAX_MESSAGE = 10_000
MAX_TRACEBACK = 50_000


def _within_budget() -> bool:
    from django.conf import settings

    limit = getattr(settings, "APP_ERROR_MAX_PER_MINUTE", 120)
    minute = int(time.time() // 60)
    with _budget_lock:
        if _budget["minute"] != minute:
            _budget["minute"], _budget["used"] = minute, 0
        if _budget["used"] >= limit:
            return False
        _budget["used"] += 1
        return True


class AppErrorHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if getattr(_state, "active", False):
            return
        _state.active = True
        try:
            self._emit(record)
        except Exception:  # noqa: S110 - by design: the handler must never raise
            pass
        finally:
            _state.active = False

    def handleError(self, record: logging.LogRecord) -> None:
        return

    def _emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(SKIPPED_LOGGERS):
            return
        from django.apps import apps

        if not apps.ready or not _within_budget():
            return
        values = self._values(record)
        from django.db import connections, transaction

        from analytics.ops.models import AppError  # LOGGING is built before the apps load

        alias = AppError.objects.db
        connection = connections[alias]
        if not connection.in_atomic_block:
            _insert_here(values, alias)
        elif connection.vendor == "postgresql":
            _insert_on_own_connection(values, alias)
        else:
            transaction.on_commit(lambda: _guarded_insert(values, alias), using=alias)

    def _values(self, record: logging.LogRecord) -> dict:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        trace = ""
        if record.exc_info:
            trace = "".join(traceback.format_exception(*record.exc_info))
        elif record.stack_info:
            trace = record.stack_info
        request = getattr(record, "request", None)
        path = getattr(request, "path", "") if request is not None else ""
        request_id = getattr(record, "request_id", None) or getattr(request, "request_id", "")
        return {
            "level": record.levelname[:10],
            "logger": record.name[:200],
            "message": message[:MAX_MESSAGE],
            "traceback": trace[-MAX_TRACEBACK:],
            "request_id": (request_id if request_id and request_id != "-" else "")[:64],
            "path": str(path)[:500],
            "process": f"{socket.gethostname()}:{os.getpid()}"[:100],
        }


def _insert_here(values: dict, alias: str) -> None:
    from analytics.ops.models import AppError  # LOGGING is built before the apps load

    AppError.objects.using(alias).create(**values)


def _guarded_insert(values: dict, alias: str) -> None:
    _state.active = True
    try:
        _insert_here(values, alias)
    except Exception:  # noqa: S110 - never raise from logging
        pass
    finally:
        _state.active = False


def _insert_on_own_connection(values: dict, alias: str) -> None:
    """A separate, autocommitting connection: independent of the caller's transaction."""
    from django.db import connections
    from django.utils import timezone

    from analytics.ops.models import AppError  # LOGGING is built before the apps load

    meta = AppError._meta
    columns = ["created_at", *values]
    params = [timezone.now(), *values.values()]
    connection = connections.create_connection(alias)
    try:
        quote = connection.ops.quote_name
        sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 - quoted model identifiers
            quote(meta.db_table),
            ", ".join(quote(meta.get_field(c).column) for c in columns),
            ", ".join(["%s"] * len(columns)),
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
    finally:
        connection.close()
