"""The countdown before a Celery task's next retry: exponential with jitter, capped.

Shared by every task that retries on a transient error (a database hiccup, a provider's 5xx),
so that retries of a burst spread out instead of arriving together.
"""

from __future__ import annotations

import random


def retry_countdown(retries: int, *, cap: float = 60.0) -> float:
    """Seconds before retry `retries + 1`: uniform in [ceiling / 2, ceiling], where the ceiling
    doubles with each retry (2, 4, 8, ...) up to `cap`."""
    ceiling = min(cap, 2.0 ** (retries + 1))
    return random.uniform(ceiling / 2, ceiling)
