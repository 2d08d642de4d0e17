"""Broker queue depth and the age of the oldest waiting task, per Celery queue.

What can be known depends on the transport:

- Redis: depth is LLEN of the queue's list (plus its priority lists, `<queue>\\x06\\x16<n>`);
  kombu pushes on the left and pops on the right, so the oldest message is the last element.
  Its age comes from the `published_at` header Parley adds to every task it publishes (see
  `task_published_at`); a message published without it (another tool, `celery call`) has no
  knowable age, only its `eta` if it was delayed. Messages a worker already reserved (prefetched
  or running, acknowledged late) are no longer in the list: Redis keeps them in the `unacked`
  hash, counted for all queues together.
- Filesystem (embedded mode): depth is the number of `*.<queue>.msg` files waiting in the
  broker folder; the oldest file's modification time is the publication time.
- Others (RabbitMQ, memory): depth from a passive queue declaration; age not knowable.
"""

from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

from celery import current_app
from django.conf import settings

QUEUES = ("send", "webhooks", "default", "analytics")
PUBLISHED_AT_HEADER = "published_at"
REDIS_PRIORITY_SEP = "\x06\x16"


def task_published_at(sender=None, headers=None, **kwargs) -> None:
    """`before_task_publish` receiver: stamp the publication time (one dict entry, no I/O)."""
    if isinstance(headers, dict):
        headers.setdefault(PUBLISHED_AT_HEADER, time.time())


@dataclass
class QueueState:
    name: str
    depth: int | None = None
    oldest_age_s: float | None = None
    oldest_eta: str | None = None
    age_note: str = ""
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def queue_states(queues: tuple[str, ...] = QUEUES) -> tuple[str, list[QueueState], dict]:
    """(transport, states per queue, broker-wide extras). Never raises."""
    app = current_app  # the project's app, loaded by config/__init__; analytics imports no config
    url = app.conf.broker_url or ""
    try:
        if url.startswith("filesystem://"):
            return "filesystem", _filesystem(queues), {}
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
            if transport in ("redis", "rediss"):
                states, extra = _redis(conn.default_channel.client, queues)
                return "redis", states, extra
            return str(transport), _declare(conn.default_channel, queues), {}
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
        return url.split("://", 1)[0], [QueueState(q, error=error) for q in queues], {}


def _filesystem(queues: tuple[str, ...]) -> list[QueueState]:
    folder = settings.CELERY_BROKER_FOLDER / "out"
    states = {q: QueueState(q, depth=0) for q in queues}
    oldest: dict[str, float] = {}
    now = time.time()
    with os.scandir(folder) as entries:
        for entry in entries:
            # kombu names files "<ms>_<uuid>.<queue>.msg"
            queue = entry.name.partition(".")[2].removesuffix(".msg")
            state = states.get(queue)
            if state is None or not entry.name.endswith(".msg"):
                continue
            state.depth += 1
            try:
                mtime = entry.stat().st_mtime
            except FileNotFoundError:  # consumed meanwhile
                state.depth -= 1
                continue
            oldest[queue] = min(oldest.get(queue, mtime), mtime)
    for queue, mtime in oldest.items():
        states[queue].oldest_age_s = max(0.0, now - mtime)
    return list(states.values())


def _message_age(raw: bytes | None, now: float) -> tuple[float | None, str | None, str]:
    if not raw:
        return None, None, ""
    try:
        message = json.loads(raw)
        headers = message.get("headers") or {}
    except (ValueError, AttributeError):
        return None, None, "unreadable message"
    published = headers.get(PUBLISHED_AT_HEADER)
    eta = headers.get("eta")
    if published is None and "body" in message and headers == {}:
        # Protocol 1 keeps task fields in the body.
        try:
            body = json.loads(base64.b64decode(message["body"]))
            eta = body.get("eta")
        except (ValueError, TypeError):
            pass
    if isinstance(published, int | float):
        return max(0.0, now - float(published)), eta, ""
    return None, eta, "published without a timestamp"


def _redis(client, queues: tuple[str, ...]) -> tuple[list[QueueState], dict]:
    steps = [0, 3, 6, 9]
    keys = {q: [q] + [f"{q}{REDIS_PRIORITY_SEP}{p}" for p in steps[1:]] for q in queues}
    with client.pipeline() as pipe:
        for q in queues:
            for key in keys[q]:
                pipe.llen(key)
        pipe.hlen("unacked")
        lengths = pipe.execute()
    unacked = lengths.pop()
    states = []
    index = 0
    now = time.time()
    for q in queues:
        sizes = lengths[index : index + len(keys[q])]
        index += len(keys[q])
        state = QueueState(q, depth=int(sum(sizes)))
        if state.depth:
            # The oldest message sits at the right end of the first non-empty list.
            key = next(k for k, size in zip(keys[q], sizes, strict=True) if size)
            age, eta, note = _message_age(client.lindex(key, -1), now)
            state.oldest_age_s, state.oldest_eta, state.age_note = age, eta, note
        states.append(state)
    return states, {"unacked": int(unacked)}


def _declare(channel, queues: tuple[str, ...]) -> list[QueueState]:
    states = []
    for q in queues:
        try:
            ok = channel.queue_declare(queue=q, passive=True)
            states.append(QueueState(q, depth=int(ok.message_count), age_note="not knowable"))
        except Exception as exc:
            text = f"{type(exc).__name__}: {exc}"[:200]
            if "NOT_FOUND" in text or "404" in text:
                # Declared by the first worker that consumes it: nothing can be waiting yet.
                states.append(QueueState(q, depth=0, age_note="queue not declared yet"))
            else:
                states.append(QueueState(q, error=text))
    return states
