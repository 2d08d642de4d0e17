"""A lock in the shared cache: taken with `cache.add`, released only by its holder.

For work that must not run twice at once across processes (periodic tasks, analytics
rollups on SQLite). The timeout frees the lock of a process that died holding it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from django.core.cache import cache


@contextlib.contextmanager
def cache_lock(key: str, *, timeout: float) -> Iterator[bool]:
    """Yield True when this caller holds `key` for up to `timeout` seconds, else False.

    On exit the lock is deleted only if it still holds this caller's token: a lock that
    expired and was taken by another run is left to that run.
    """
    token = uuid.uuid4().hex
    acquired = cache.add(key, token, timeout=timeout)
    try:
        yield acquired
    finally:
        if acquired and cache.get(key) == token:
            cache.delete(key)
