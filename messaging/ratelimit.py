"""Send-rate limiting shared by every worker process.

A generic cell rate algorithm (GCRA): each key keeps the "theoretical arrival time" of the
next token. `reserve(key, n, rate)` books n tokens in one round trip and returns when the
first is due, so a batch costs one call however large it is, and the batch is then paced
evenly rather than sent as a burst.

Redis (when REDIS_URL is set) holds the state for all machines; without Redis a database row
does, which is correct across the processes of one embedded install.
"""

from __future__ import annotations

import time
from functools import cache

from django.conf import settings
from django.db import transaction

_GCRA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + n / rate
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
return tostring(tat - now)
"""

# Claim the per-recipient gap for many recipients at once; returns the ones that got it.
_GAPS = """
local granted = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, '1', 'NX', 'PX', ARGV[1]) then
    table.insert(granted, i)
  end
end
return granted
"""


@cache
def _redis():
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)
    return client, client.register_script(_GCRA), client.register_script(_GAPS)


def reserve(key: str, n: int, *, rate: float) -> float:
    """Book `n` tokens on `key` at `rate` per second.

    Returns the seconds until the first booked token; token i is due `i / rate` later, so a
    caller that paces its sends that way never exceeds the rate in any window.
    """
    if n <= 0 or rate <= 0:
        return 0.0
    if settings.REDIS_URL:
        _, gcra, _ = _redis()
        return float(gcra(keys=[f"parley:rate:{key}"], args=[rate, 0, n]))
    return _reserve_db(key, n, rate)


def _reserve_db(key: str, n: int, rate: float) -> float:
    from messaging.models import RateLimitState

    now = time.time()
    with transaction.atomic():
        state, _ = RateLimitState.objects.select_for_update().get_or_create(key=key)
        tat = max(state.tat, now)
        new_tat = tat + n / rate
        state.tat = new_tat
        state.save(update_fields=["tat"])
    return tat - now


def recipients_claim_gap(recipients: list[str], *, gap_seconds: float) -> set[str]:
    """The recipients that may be messaged now; each is then held for `gap_seconds`.

    Without Redis every recipient passes (the embedded mode sends too slowly to matter).
    """
    if gap_seconds <= 0 or not recipients or not settings.REDIS_URL:
        return set(recipients)
    _, _, gaps = _redis()
    keys = [f"parley:gap:{r}" for r in recipients]
    granted = gaps(keys=keys, args=[int(gap_seconds * 1000)])
    return {recipients[i - 1] for i in granted}


def wait(seconds: float, *, deadline: float | None = None) -> None:
    if seconds > 0:
        if deadline is not None:
            seconds = min(seconds, max(0.0, deadline - time.monotonic()))
        time.sleep(seconds)
