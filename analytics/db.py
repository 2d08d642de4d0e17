"""Database helpers for the analytics queries."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import connection, transaction


@contextlib.contextmanager
def analytics_queries() -> Iterator[None]:
    """A transaction whose queries PostgreSQL runs without JIT compilation.

    The aggregates here scan tens of thousands of rows, which makes PostgreSQL's planner
    estimate them as expensive enough to JIT-compile; compiling costs ~100 ms per query, more
    than the queries themselves (bench/README.md "Analytics"). SET LOCAL ends with the
    transaction, so nothing else is affected.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        yield
