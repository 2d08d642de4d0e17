"""What the simulator remembers: accepted messages, per-recipient counts, throughput window,
one-shot faults, templates and media. Guarded by one lock; every method is short."""

from __future__ import annotations

import base64
import collections
import copy
import datetime as dt
import functools
import hashlib
import itertools
import os
import threading
import time
from collections.abc import Iterable
from typing import Any

import phonenumbers

from .media import MediaItem, png_bytes
from .templates import default_templates


class SimState:
    def __init__(self, *, max_messages: int = 10_000) -> None:
        self.lock = threading.Lock()
        self._seq = itertools.count(1)
        self.counts: collections.Counter[str] = collections.Counter()
        self.messages: collections.deque[dict[str, Any]] = collections.deque(maxlen=max_messages)
        self.window: collections.deque[float] = collections.deque()
        self.stats: collections.Counter[str] = collections.Counter()
        self.rejections: collections.Counter[int] = collections.Counter()
        self.deliveries: collections.deque[dict[str, Any]] = collections.deque(maxlen=500)
        # How long the receiver took to answer each delivered POST (the benchmarks' intake
        # latency, as Meta would see it).
        self.webhook_seconds: collections.deque[float] = collections.deque(maxlen=1_000_000)
        # Every send request that named a recipient, accepted or refused: tests read the gaps
        # between a refusal and the next try (backoff, jitter) and the requests per second.
        self.attempts: collections.deque[dict[str, Any]] = collections.deque(maxlen=max_messages)
        self.read_marks: collections.deque[str] = collections.deque(maxlen=max_messages)
        # The wamids whose read mark also asked for a typing indicator, in arrival order.
        self.typing_indicators: collections.deque[str] = collections.deque(maxlen=max_messages)
        self.storm_code: int | None = None
        self.storm_remaining = 0
        self.hang_remaining = 0
        self.templates: list[dict[str, Any]] = default_templates()
        self.clock = time.monotonic  # replaceable in tests
        self.profile_names: dict[str, str] = {}
        self.media: dict[str, MediaItem] = {}
        # Resumable uploads (template header examples): open sessions, and the handles made.
        self.upload_sessions: dict[str, dict[str, Any]] = {}
        self.header_handles: dict[str, MediaItem] = {}
        # Event webhooks from Parley to the demo's stand-in integrator (`/_sim/receiver`).
        self.received_events: collections.deque[dict[str, Any]] = collections.deque(maxlen=200)

    # --- identifiers -----------------------------------------------------------------------

    def new_wamid(self, recipient: str) -> str:
        raw = (
            b"\x15\x02\x00\x11\x18\x12"
            + next(self._seq).to_bytes(8, "big")
            + os.urandom(8)
            + recipient.encode()[:24]
        )
        return "wamid." + base64.b64encode(raw).decode()

    def new_media_id(self) -> str:
        return str(10**15 + next(self._seq) * 7919 + int.from_bytes(os.urandom(2), "big"))

    @staticmethod
    @functools.lru_cache(maxsize=100_000)
    def bsuid_for(wa_id: str, waba_id: str) -> str:
        """A stable business-scoped user id for a phone number (country letters + digits)."""
        try:
            region = phonenumbers.region_code_for_number(phonenumbers.parse("+" + wa_id))
        except phonenumbers.NumberParseException:
            region = None
        digest = hashlib.sha256(f"{waba_id}:{wa_id}".encode()).digest()
        return f"{region or 'US'}.{int.from_bytes(digest[:8], 'big') % 10**19:019d}"

    # --- throughput and one-shot faults --------------------------------------------------------

    def take_throughput_slot(self, mps: float) -> bool:
        if mps <= 0:
            return True
        now = self.clock()
        with self.lock:
            while self.window and self.window[0] <= now - 1.0:
                self.window.popleft()
            if len(self.window) >= mps:
                return False
            self.window.append(now)
            return True

    def take_storm(self) -> int | None:
        with self.lock:
            if self.storm_remaining > 0 and self.storm_code is not None:
                self.storm_remaining -= 1
                return self.storm_code
            return None

    def take_hang(self) -> bool:
        with self.lock:
            if self.hang_remaining > 0:
                self.hang_remaining -= 1
                return True
            return False

    def set_storm(self, spec: Any) -> None:
        if spec in (None, {}, False):
            with self.lock:
                self.storm_code, self.storm_remaining = None, 0
            return
        if not isinstance(spec, dict) or "code" not in spec:
            raise ValueError('error_storm must be {"code": 130429, "count": 5}')
        code, count = int(spec["code"]), int(spec.get("count", 1))
        if count < 0:
            raise ValueError("error_storm count cannot be negative")
        with self.lock:
            self.storm_code, self.storm_remaining = code, count

    def set_hang_next(self, value: Any) -> None:
        count = int(value)
        if count < 0:
            raise ValueError("hang_next cannot be negative")
        with self.lock:
            self.hang_remaining = count

    # --- accepted messages ---------------------------------------------------------------------

    def record_accepted(self, record: dict[str, Any], recipient_key: str) -> None:
        with self.lock:
            self.counts[recipient_key] += 1
            self.messages.append(record)
            self.stats["accepted"] += 1

    def record_attempt(self, recipient_key: str, outcome: str) -> None:
        with self.lock:
            self.attempts.append({"to": recipient_key, "time": time.time(), "outcome": outcome})

    def record_rejected(self, code: int) -> None:
        with self.lock:
            self.rejections[code] += 1
            self.stats["rejected"] += 1

    def record_delivery(self, record: dict[str, Any]) -> None:
        record = {"time": dt.datetime.now(dt.UTC).isoformat(), **record}
        with self.lock:
            self.deliveries.append(record)
            if record.get("dropped"):
                self.stats["webhook_items_dropped"] += record.get("items", 0)
            elif record.get("ok"):
                self.stats["webhook_posts"] += 1
                self.stats["webhook_items"] += record.get("items", 0)
                if "seconds" in record:
                    self.webhook_seconds.append(record["seconds"])
            else:
                self.stats["webhook_failures"] += 1

    def webhook_latency_ms(self) -> dict[str, float]:
        """p50 and p99 of the receiver's answer times, in milliseconds (caller holds the lock)."""
        ordered = sorted(self.webhook_seconds)
        if not ordered:
            return {}
        return {
            "p50": round(ordered[len(ordered) // 2] * 1000, 2),
            "p99": round(ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000, 2),
        }

    def list_messages(self, *, to: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        with self.lock:
            items: Iterable[dict[str, Any]] = list(self.messages)
        if to:
            wanted = "".join(ch for ch in to if ch.isdigit()) or to
            items = [m for m in items if m["to"] == wanted]
        items = list(items)
        return items[-limit:] if limit else items

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()
            self.messages.clear()
            self.window.clear()
            self.stats.clear()
            self.rejections.clear()
            self.deliveries.clear()
            self.webhook_seconds.clear()
            self.attempts.clear()
            self.read_marks.clear()
            self.typing_indicators.clear()
            self.profile_names.clear()
            self.received_events.clear()
            self.storm_code, self.storm_remaining, self.hang_remaining = None, 0, 0

    # --- templates and media -------------------------------------------------------------------

    def _reviews_due(self) -> None:
        """Settle the reviews whose time has come (the lock is held): the template becomes
        what the review decided, as Graph then lists it."""
        now = self.clock()
        for template in self.templates:
            due = template.get("_review_due")
            if due is not None and due <= now:
                template["status"] = template.pop("_review_status")
                template["rejected_reason"] = template.pop("_review_reason", "NONE")
                del template["_review_due"]

    def template_create(
        self, definition: dict[str, Any], *, review_in: float, outcome: str, reason: str
    ) -> dict[str, Any]:
        """Add a submitted template, PENDING until `review_in` seconds have passed, then
        `outcome` (APPROVED or REJECTED with `reason`). Raises KeyError when the name already
        exists in that language (Meta refuses it)."""
        with self.lock:
            self._reviews_due()
            for template in self.templates:
                if (template.get("name"), template.get("language")) == (
                    definition["name"],
                    definition["language"],
                ):
                    raise KeyError(definition["name"])
            template = {
                "id": str(1_300_000_000_000_000 + next(self._seq)),
                "name": definition["name"],
                "language": definition["language"],
                "status": "PENDING",
                "category": definition["category"],
                "parameter_format": definition.get("parameter_format") or "POSITIONAL",
                "components": copy.deepcopy(definition["components"]),
                "quality_score": {"score": "UNKNOWN"},
            }
            self._review(template, review_in, outcome, reason)
            self.templates.append(template)
            self.stats["templates_created"] += 1
            return _public(template)

    def _review(self, template: dict[str, Any], review_in: float, outcome: str, reason: str):
        template["_review_due"] = self.clock() + review_in
        template["_review_status"] = outcome
        template["_review_reason"] = reason if outcome == "REJECTED" else "NONE"

    def template_by_id(self, template_id: str) -> dict[str, Any] | None:
        with self.lock:
            self._reviews_due()
            for template in self.templates:
                if str(template.get("id")) == str(template_id):
                    return _public(template)
        return None

    def template_edit(
        self,
        template_id: str,
        *,
        components: list[dict[str, Any]] | None,
        category: str | None,
        review_in: float,
        outcome: str,
        reason: str,
    ) -> dict[str, Any] | None:
        """Replace a template's components (and category): back to PENDING review."""
        with self.lock:
            self._reviews_due()
            for template in self.templates:
                if str(template.get("id")) == str(template_id):
                    if components is not None:
                        template["components"] = copy.deepcopy(components)
                    if category:
                        template["category"] = category
                    template["status"] = "PENDING"
                    template["rejected_reason"] = "NONE"
                    self._review(template, review_in, outcome, reason)
                    self.stats["templates_edited"] += 1
                    return _public(template)
        return None

    def template_delete(self, name: str, template_id: str | None) -> list[dict[str, Any]]:
        """Remove the template `name` (only the language with `template_id` when given)."""
        with self.lock:
            gone = [
                t
                for t in self.templates
                if t.get("name") == name and (not template_id or str(t.get("id")) == template_id)
            ]
            self.templates = [t for t in self.templates if t not in gone]
            self.stats["templates_deleted"] += len(gone)
            return [_public(t) for t in gone]

    def find_template(self, name: str, language: str) -> dict[str, Any] | None:
        with self.lock:
            self._reviews_due()
            for template in self.templates:
                if template.get("name") == name and template.get("language") == language:
                    return template
        return None

    def replace_templates(self, templates: list[dict[str, Any]]) -> None:
        for template in templates:
            if not isinstance(template, dict) or not template.get("name"):
                raise ValueError("each template needs at least a name")
            if not template.get("language"):
                raise ValueError(f"template {template['name']} needs a language")
        cleaned = copy.deepcopy(templates)
        for index, template in enumerate(cleaned):
            template.setdefault("id", str(1_200_000_000_000_000 + index))
            template.setdefault("status", "APPROVED")
            template.setdefault("category", "UTILITY")
            template.setdefault("components", [])
        with self.lock:
            self.templates = cleaned

    def set_template_status(
        self, name: str, language: str | None, event: str, reason: str | None = None
    ) -> dict | None:
        """Apply a status event to the library as Meta's Graph API would then report it:
        REINSTATED leaves the template APPROVED, UNARCHIVED restores the status it had before
        it was archived, REJECTED records `rejected_reason` (another status clears it; archiving
        keeps it)."""
        with self.lock:
            for template in self.templates:
                if template.get("name") == name and (
                    language is None or template.get("language") == language
                ):
                    for key in ("_review_due", "_review_status", "_review_reason"):
                        template.pop(key, None)  # a status set by hand ends the review
                    status = {"REINSTATED": "APPROVED"}.get(event, event)
                    if event == "ARCHIVED":
                        template["_before_archive"] = template.get("status")
                    if event == "UNARCHIVED":
                        status = template.pop("_before_archive", None) or "APPROVED"
                    template["status"] = status
                    if event == "REJECTED":
                        template["rejected_reason"] = reason or "NONE"
                    elif event not in ("ARCHIVED", "UNARCHIVED"):
                        template["rejected_reason"] = "NONE"
                    return _public(template)
        return None

    def templates_snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            self._reviews_due()
            return [_public(t) for t in self.templates]

    def add_media(self, content: bytes, mime_type: str, filename: str | None = None) -> MediaItem:
        item = MediaItem(self.new_media_id(), content, mime_type, filename)
        with self.lock:
            if len(self.media) >= 1000:  # keep memory bounded in long demo runs
                self.media.pop(next(iter(self.media)))
            self.media[item.media_id] = item
        return item

    def generated_image(self, seed: int) -> MediaItem:
        return self.add_media(png_bytes(64, 64, seed), "image/png", None)


def _public(template: dict[str, Any]) -> dict[str, Any]:
    """A copy without the simulator's own bookkeeping (keys starting with "_")."""
    return {k: copy.deepcopy(v) for k, v in template.items() if not k.startswith("_")}
