"""Number health rules: what a messaging tier allows, what Meta's values mean, and which
change of a number's health is an alarm. Pure functions and values, no queries.

The one place these rules live: the webhook path, the Graph refresh, the selectors (budget),
the campaigns that pause on an alarm and the operations board all ask here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from messaging.channels.models import MessagingTier, NumberStatus, QualityRating

_TIER_RE = re.compile(r"^TIER_(\d+)(K?)$")
_STATUS_RE = re.compile(r"^[A-Z][A-Z_]{0,15}$")
# Meta's "no limit known yet": the number has not sent, or the tier is being set.
_TIER_UNKNOWN = {"", "TIER_NOT_SET", "NOT_SET"}
_QUALITY_UNKNOWN = {"", "UNKNOWN", "NA", "N/A"}
_QUALITY_RANK = {QualityRating.RED: 0, QualityRating.YELLOW: 1, QualityRating.GREEN: 2}

# Statuses in which WhatsApp refuses business-initiated messages: the budget is 0.
BLOCKED_STATUSES = frozenset({NumberStatus.RESTRICTED, NumberStatus.BANNED, NumberStatus.DELETED})
# Statuses that stop marketing on a number when it enters them (a flag warns that the
# quality will drop further if people keep blocking or reporting).
ALARM_STATUSES = BLOCKED_STATUSES | {NumberStatus.FLAGGED}


def tier_limit(tier: str) -> int | None:
    """Unique recipients per moving 24 hours that `tier` allows; None when unlimited.

    Reads any `TIER_<n>` or `TIER_<n>K` code, so a tier Meta adds needs no release.
    Raises ValueError for anything else, an unknown tier included (ask `tier_normalise`).
    """
    if tier == MessagingTier.TIER_UNLIMITED:
        return None
    match = _TIER_RE.match(tier or "")
    if not match:
        raise ValueError(f"{tier!r} is not a messaging tier")
    return int(match[1]) * (1000 if match[2] else 1)


def tier_normalise(value: Any) -> str:
    """A tier code from what Meta sends: `TIER_1K` as is; a number of recipients (2000,
    "2000"; -1 meaning unlimited, as `business_capability_update` sends it) as its code.
    Empty for "not known yet" (TIER_NOT_SET). Raises ValueError for anything else."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a messaging tier")
    if isinstance(value, str):
        text = value.strip().upper()
        if text in _TIER_UNKNOWN:
            return ""
        if text == MessagingTier.TIER_UNLIMITED or _TIER_RE.match(text):
            return text
        if not text.lstrip("-").isdigit():
            raise ValueError(f"{value!r} is not a messaging tier")
        value = int(text)
    if not isinstance(value, int):
        raise ValueError(f"{value!r} is not a messaging tier")
    if value == -1:
        return MessagingTier.TIER_UNLIMITED
    if value <= 0:
        raise ValueError(f"{value!r} is not a messaging limit")
    return f"TIER_{value // 1000}K" if value % 1000 == 0 else f"TIER_{value}"


def quality_normalise(value: Any) -> str:
    """GREEN, YELLOW, RED or UNKNOWN (Graph says NA when it has no rating); ValueError else."""
    text = str(value or "").strip().upper()
    if text in _QUALITY_UNKNOWN:
        return QualityRating.UNKNOWN
    if text not in QualityRating.values:
        raise ValueError(f"{value!r} is not a quality rating")
    return text


def status_normalise(value: Any) -> str:
    """A status code as Meta spells it. Statuses Meta adds are kept as they come (an
    upper-case word of at most 16 characters); anything else raises ValueError."""
    text = str(value or "").strip().upper()
    if not text:
        return NumberStatus.UNKNOWN
    if not _STATUS_RE.match(text):
        raise ValueError(f"{value!r} is not a number status")
    return text


@dataclass(frozen=True)
class Health:
    """The three figures of a number's health at one moment."""

    quality: str
    tier: str
    status: str


@dataclass(frozen=True)
class HealthChange:
    """What one reading changed on a number: `before` and `after`, and where it came from."""

    channel_id: int
    before: Health
    after: Health
    source: str
    event: str = ""

    @property
    def changed(self) -> bool:
        return self.before != self.after

    @property
    def alarm(self) -> str | None:
        """Why marketing must stop on this number now, or None.

        Only a move into a bad state counts (quality falling to RED, a status entering
        FLAGGED, RESTRICTED, BANNED or DELETED): the same reading again, a replayed webhook or
        the next refresh is no new alarm, so campaigns staff resumed stay running.
        """
        before, after = self.before, self.after
        reasons = []
        if after.quality == QualityRating.RED and before.quality != QualityRating.RED:
            was = "" if before.quality == QualityRating.UNKNOWN else f" from {before.quality}"
            reasons.append(f"quality rating dropped to RED{was}")
        if after.status in ALARM_STATUSES and after.status != before.status:
            reasons.append(f"number {after.status.lower()}")
        return "; ".join(reasons) or None

    @property
    def warning(self) -> str | None:
        """A worse but not yet alarming reading (GREEN to YELLOW, a lower tier), or None."""
        before, after = self.before, self.after
        reasons = []
        if _QUALITY_RANK.get(after.quality, 9) < _QUALITY_RANK.get(before.quality, -1) and (
            after.quality != QualityRating.RED
        ):
            reasons.append(f"quality rating dropped from {before.quality} to {after.quality}")
        if tier_lowered(before.tier, after.tier):
            reasons.append(f"messaging limit lowered from {before.tier} to {after.tier}")
        return "; ".join(reasons) or None


def tier_lowered(before: str, after: str) -> bool:
    try:
        old, new = tier_limit(before), tier_limit(after)
    except ValueError:
        return False
    return new is not None and (old is None or new < old)


def health_severity(*, quality: str, status: str) -> str:
    """How worried staff should be: "down" (RED, or sends blocked), "warn" (YELLOW, FLAGGED,
    or a status other than CONNECTED) or "ok"."""
    if status in BLOCKED_STATUSES or quality == QualityRating.RED:
        return "down"
    if quality == QualityRating.YELLOW or status not in (NumberStatus.CONNECTED, "UNKNOWN"):
        return "warn"
    return "ok"
