"""How the rooms above sending take part in dispatch: an extension point, filled at ready().

Sending cannot import campaigns (campaigns send through it), yet dispatch must honour a
campaign's pause and throttle, and campaigns must hear when their sends fail or the queue
drains. So a room that groups messages registers a `SendHooks` (campaigns does, in
`MessagingConfig.ready()`), and dispatch asks every registered one. With none registered the
send path still works: nothing is held, nothing is throttled beyond the channel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db.models import Q


@dataclass(frozen=True)
class SendHooks:
    """Each callable is keyed by `Message.campaign_id`, the only grouping a message carries.

    `held` and `paused` return a Q over Message without joins (an `Exists`), so dispatch can
    use them in a claim's SELECT and in an UPDATE alike.
    """

    held: Callable[[], Q]  # rows never claimed now (their group is paused or cancelled)
    paused: Callable[[], Q]  # rows that go back as PAUSED rather than QUEUED when released
    throttles: Callable[[set[int]], dict[int, float]]  # group id -> messages per second
    # groups that just had permanent failures: a refused request, or a failed status (after
    # the webhook batch committed)
    failures_seen: Callable[[set[int]], object]
    queue_drained: Callable[[], object]  # a channel's queue has nothing due


_registered: list[SendHooks] = []


def send_hooks_register(hooks: SendHooks) -> None:
    """Add `hooks` once (ready() may run again in tests that reload apps)."""
    if hooks not in _registered:
        _registered.append(hooks)


def send_hooks() -> tuple[SendHooks, ...]:
    return tuple(_registered)


def _any(queries: Iterable[Q]) -> Q | None:
    queries = list(queries)
    return reduce(or_, queries) if queries else None


def held_q() -> Q | None:
    """Messages no worker may claim now, or None when nothing is held."""
    return _any(h.held() for h in _registered)


def paused_q() -> Q | None:
    return _any(h.paused() for h in _registered)


def throttles(group_ids: set[int]) -> dict[int, float]:
    limits: dict[int, float] = {}
    for hooks in _registered:
        for group_id, mps in hooks.throttles(group_ids).items():
            limits[group_id] = min(mps, limits.get(group_id, mps))
    return limits


def failures_seen(group_ids: set[int]) -> None:
    if group_ids:
        for hooks in _registered:
            hooks.failures_seen(group_ids)


def queue_drained() -> None:
    for hooks in _registered:
        hooks.queue_drained()
