"""The countdown before a Celery task's next retry: exponential with jitter, capped.

Shared by every task that retries on a transient error (a database hiccup, a provider's 5xx),
so that retries of a burst spread out instead of arriving together.
"""

from __future__ import annotations

import random


def retry_countdown(retries: int, *, cap: float = 60.0, base: float = 2.0) -> float:
    """Seconds before retry `retries + 1`: uniform in [ceiling / 2, ceiling], where the ceiling
    starts at `base` and doubles with each retry (2, 4, 8, ...) up to `cap`."""
    ceiling = min(cap, base * 2.0 ** max(retries, 0))
    return random.uniform(ceiling / 2, ceiling)
