"""Send-rate limiting shared by every worker process.

A generic cell rate algorithm (GCRA): each key keeps the "theoretical arrival time" of the
next token. `reserve(key, n, rate)` books n tokens in one round trip and returns when the
first is due, so a batch costs one call however large it is, and the batch is then paced
evenly rather than sent as a burst.

Redis (when REDIS_URL is set) holds the state for all machines; without Redis a database row
does, which is correct across the processes of one embedded install.

The per-recipient minimum gap (WhatsApp's pair rate, error 131056) lives in the same two
places: a Redis key per recipient that expires with the gap, or a `RateLimitState` row per
recipient (key `gap:<recipient>`, `tat` = until when it is held) that the send sweeper purges
once it has expired.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.db import connection, transaction

from core.metrics import rate_limiter_wait_observe
from core.redis import redis_client
from messaging.channels.models import RateLimitState

_GCRA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local rate = tonumber(ARGV[1])
local horizon = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local k = n
if horizon > 0 then
  local room = math.floor((now + horizon - tat) * rate + 1e-9)
  if room < 0 then room = 0 end
  if room < k then k = room end
end
if k > 0 then
  local new_tat = tat + k / rate
  redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
end
return {tostring(tat - now), k}
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


logger = logging.getLogger(__name__)


@cache
def _redis():
    client = redis_client()
    return client, client.register_script(_GCRA), client.register_script(_GAPS)


@dataclass(frozen=True)
class Booking:
    """`granted` tokens, the first due in `start` seconds and the next every 1/rate after."""

    start: float
    granted: int


def reserve(key: str, n: int, *, rate: float, horizon: float = 0.0) -> Booking:
    """Book up to `n` tokens on `key` at `rate` per second.

    With a `horizon`, only tokens due within that many seconds are granted, so a caller never
    holds work it will not send soon (a paused campaign stops within the horizon, however many
    workers are draining). A caller that paces token i at `start + i / rate` never exceeds the
    rate in any window.
    """
    if n <= 0 or rate <= 0:
        return Booking(0.0, max(n, 0))
    if settings.REDIS_URL:
        _, gcra, _ = _redis()
        start, granted = gcra(keys=[f"parley:rate:{key}"], args=[rate, horizon, n])
        return Booking(float(start), int(granted))
    return _reserve_db(key, n, rate, horizon)


def _reserve_db(key: str, n: int, rate: float, horizon: float) -> Booking:

    now = time.time()
    with transaction.atomic():
        state, _ = RateLimitState.objects.select_for_update().get_or_create(key=key)
        tat = max(state.tat, now)
        granted = n
        if horizon > 0:
            granted = max(0, min(n, int((now + horizon - tat) * rate + 1e-9)))
        if granted:
            state.tat = tat + granted / rate
            state.save(update_fields=["tat"])
    return Booking(tat - now, granted)


GAP_PREFIX = "gap:"
_GAP_END = "gap;"  # the first key after every "gap:..." one (";" follows ":")


def recipients_claim_gap(recipients: list[str], *, gap_seconds: float) -> set[str]:
    """The recipients that may be messaged now; each is then held for `gap_seconds`.

    One round trip with Redis; without it three statements (insert, lock, update) however
    many recipients (SQLite splits an insert of more than about 500).
    """
    if gap_seconds <= 0 or not recipients:
        return set(recipients)
    if settings.REDIS_URL:
        _, _, gaps = _redis()
        keys = [f"parley:gap:{r}" for r in recipients]
        granted = gaps(keys=keys, args=[int(gap_seconds * 1000)])
        return {recipients[i - 1] for i in granted}
    return _claim_gaps_db(recipients, gap_seconds)


def _claim_gaps_db(recipients: list[str], gap_seconds: float) -> set[str]:
    """The embedded limiter's gap: a row per recipient holding the time it is free again.

    The rows are made to exist first and then locked in key order, so two workers claiming
    the same recipient queue on its row (PostgreSQL) or on SQLite's write lock, and never
    deadlock each other. A row the sweeper deleted between the two steps is simply not
    granted this time: the message waits one gap more, it is never sent early.
    """
    now = time.time()
    by_key = {f"{GAP_PREFIX}{r}": r for r in recipients}
    keys = sorted(by_key)
    with transaction.atomic():
        RateLimitState.objects.bulk_create(
            [RateLimitState(key=key, tat=0.0) for key in keys], ignore_conflicts=True
        )
        rows = (
            RateLimitState.objects.select_for_update()
            .filter(key__in=keys)
            .order_by("key")
            .values_list("key", "tat")
        )
        granted = [key for key, held_until in rows if held_until <= now]
        if granted:
            RateLimitState.objects.filter(key__in=granted).update(tat=now + gap_seconds)
    return {by_key[key] for key in granted}


def recipients_release_gap(recipients: list[str]) -> None:
    """Give back the gaps of recipients whose messages never left (a batch stopped before its
    requests started), so their retry is not held a gap longer for a send that did not
    happen. Best effort: a gap that cannot be released only delays that retry."""
    if not recipients:
        return
    try:
        if settings.REDIS_URL:
            redis_client().delete(*[f"parley:gap:{r}" for r in recipients])
        else:
            RateLimitState.objects.filter(key__in=[f"{GAP_PREFIX}{r}" for r in recipients]).delete()
    except Exception:  # the limiter's store is what failed: nothing more to do
        logger.warning("could not release the recipient gaps of %d recipient(s)", len(recipients))


def recipient_gaps_purge(*, limit: int = 5000) -> int:
    """Delete up to `limit` expired per-recipient gap rows (embedded limiter); returns how many.

    Rows another worker holds are skipped, not waited for, so the purge never blocks a batch
    nor deadlocks with one.
    """
    if settings.REDIS_URL:
        return 0  # Redis expires its keys itself
    expired = RateLimitState.objects.filter(
        key__gte=GAP_PREFIX, key__lt=_GAP_END, tat__lte=time.time()
    )
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            expired = expired.select_for_update(skip_locked=True)
        keys = list(expired.order_by("key").values_list("key", flat=True)[:limit])
        if keys:
            RateLimitState.objects.filter(key__in=keys).delete()
    return len(keys)


def wait(seconds: float, *, deadline: float | None = None) -> None:
    """Sleep until a booked slot is due; counted in `parley_rate_limiter_wait*`."""
    if seconds > 0:
        if deadline is not None:
            seconds = min(seconds, max(0.0, deadline - time.monotonic()))
        time.sleep(seconds)
        rate_limiter_wait_observe(seconds)
