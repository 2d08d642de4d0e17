"""The simulator's business phone numbers: their health as Graph reports it, and the webhooks
Meta sends when it changes.

Every number starts from the config's defaults (`quality_rating`, `messaging_limit_tier`,
`number_status`, ...; `POST /_sim/config` changes them for every number not changed on its
own). `POST /_sim/number_event` changes one number and returns the webhook changes Meta would
send for that move, for the server to post:

* quality falling to RED flags a CONNECTED number (`phone_number_quality_update` FLAGGED),
  recovering lifts the flag (UNFLAGGED), as Meta does; a status may also be set directly;
* a different tier is an UPGRADE or DOWNGRADE with `old_limit` and `current_limit`;
* RESTRICTED is an `account_update` ACCOUNT_RESTRICTION with its `restriction_info`;
  BANNED a DISABLED_UPDATE (ban state DISABLE), and BANNED back to CONNECTED a REINSTATE;
* `account_limit` (250, 2000, ..., -1 for unlimited) a `business_capability_update`.

Meta's quality webhook does not carry the quality rating itself: Parley reads it from
`GET /{phone_number_id}` (which this module answers), as it must from Meta.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from typing import Any

from .config import SimulatorConfig
from .errors import SimulatorError

QUALITIES = frozenset({"GREEN", "YELLOW", "RED", "UNKNOWN"})
STATUSES = frozenset(
    {"CONNECTED", "FLAGGED", "RESTRICTED", "RATE_LIMITED", "BANNED", "DISCONNECTED", "PENDING"}
)
_TIER_RE = re.compile(r"^TIER_(\d+)(K?)$")
# What Graph answers for a WhatsAppBusinessPhoneNumber; asking for any other field is an error.
FIELDS = frozenset(
    {
        "id",
        "display_phone_number",
        "verified_name",
        "quality_rating",
        "messaging_limit_tier",
        "whatsapp_business_manager_messaging_limit",
        "status",
        "name_status",
        "code_verification_status",
        "platform_type",
        "throughput",
    }
)
DEFAULT_FIELDS = ("id", "display_phone_number", "verified_name", "quality_rating")
RESTRICTION_SECONDS = 24 * 3600


def tier_value(tier: str) -> float:
    """A tier's limit for comparisons (unlimited is the largest)."""
    if tier == "TIER_UNLIMITED":
        return float("inf")
    match = _TIER_RE.match(tier)
    if not match:
        raise ValueError(f"{tier!r} is not a messaging tier (TIER_1K, TIER_UNLIMITED, ...)")
    return int(match[1]) * (1000 if match[2] else 1)


@dataclasses.dataclass(frozen=True)
class Number:
    phone_number_id: str
    display_phone_number: str
    verified_name: str
    quality_rating: str
    messaging_limit_tier: str
    status: str
    name_status: str

    def graph(self, requested: list[str]) -> dict[str, Any]:
        values = {
            "id": self.phone_number_id,
            "display_phone_number": self.display_phone_number,
            "verified_name": self.verified_name,
            "quality_rating": self.quality_rating,
            "messaging_limit_tier": self.messaging_limit_tier,
            "whatsapp_business_manager_messaging_limit": self.messaging_limit_tier,
            "status": self.status,
            "name_status": self.name_status,
            "code_verification_status": "VERIFIED",
            "platform_type": "CLOUD_API",
            "throughput": {"level": "STANDARD"},
        }
        return {field: values[field] for field in ["id", *requested] if field in values}


class Numbers:
    """Per-number changes over the config's defaults. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed: dict[str, dict[str, str]] = {}

    def reset(self) -> None:
        with self._lock:
            self._changed.clear()

    def known(self, phone_number_id: str, config: SimulatorConfig) -> bool:
        with self._lock:
            if phone_number_id in self._changed:
                return True
        return phone_number_id == config.phone_number_id or phone_number_id in (
            config.phone_number_ids
        )

    def get(self, phone_number_id: str, config: SimulatorConfig) -> Number:
        with self._lock:
            changed = dict(self._changed.get(phone_number_id, {}))
        values = {
            "phone_number_id": phone_number_id,
            "display_phone_number": config.display_phone_number,
            "verified_name": config.verified_name,
            "quality_rating": config.quality_rating,
            "messaging_limit_tier": config.messaging_limit_tier,
            "status": config.number_status,
            "name_status": config.name_status,
        }
        return Number(**{**values, **changed})

    def graph(self, phone_number_id: str, config: SimulatorConfig, fields: str | None) -> dict:
        requested = [f.strip() for f in (fields or "").split(",") if f.strip()]
        for field in requested:
            if field not in FIELDS:
                raise SimulatorError(
                    100,
                    message=(
                        f"(#100) Tried accessing nonexisting field ({field}) on node type "
                        "(WhatsAppBusinessPhoneNumber)"
                    ),
                )
        return self.get(phone_number_id, config).graph(requested or list(DEFAULT_FIELDS))

    def change(
        self, phone_number_id: str, config: SimulatorConfig, payload: dict[str, Any]
    ) -> tuple[Number, list[tuple[str, dict[str, Any]]]]:
        """Apply a `/_sim/number_event` body; returns the number now and the webhook
        changes `(field, value)` Meta would send for it, in order."""
        old = self.get(phone_number_id, config)
        updates: dict[str, str] = {}
        quality = payload.get("quality") or payload.get("quality_rating")
        if quality is not None:
            quality = str(quality).upper()
            if quality not in QUALITIES:
                raise ValueError(f"quality must be one of {sorted(QUALITIES)}")
            updates["quality_rating"] = quality
        tier = payload.get("tier") or payload.get("messaging_limit_tier")
        if tier is not None:
            tier = str(tier).upper()
            tier_value(tier)
            updates["messaging_limit_tier"] = tier
        status = payload.get("status")
        if status is not None:
            status = str(status).upper()
            if status not in STATUSES:
                raise ValueError(f"status must be one of {sorted(STATUSES)}")
            updates["status"] = status
        elif quality is not None:
            # Meta flags a number whose quality falls to low, and lifts the flag after.
            if quality == "RED" and old.status == "CONNECTED":
                updates["status"] = "FLAGGED"
            elif quality != "RED" and old.status == "FLAGGED":
                updates["status"] = "CONNECTED"
        if payload.get("display_phone_number"):
            updates["display_phone_number"] = "".join(
                ch for ch in str(payload["display_phone_number"]) if ch.isdigit()
            )
        with self._lock:
            self._changed.setdefault(phone_number_id, {}).update(updates)
        new = self.get(phone_number_id, config)
        return new, _webhooks(old, new, payload)


def _webhooks(old: Number, new: Number, payload: dict[str, Any]) -> list[tuple[str, dict]]:
    changes: list[tuple[str, dict[str, Any]]] = []

    def quality_update(event: str, **extra: Any) -> None:
        value = {"display_phone_number": new.display_phone_number, "event": event}
        value.update(extra)
        value["current_limit"] = new.messaging_limit_tier
        changes.append(("phone_number_quality_update", value))

    if payload.get("event"):
        quality_update(str(payload["event"]).upper())
    else:
        if new.status == "FLAGGED" and old.status != "FLAGGED":
            quality_update("FLAGGED")
        elif old.status == "FLAGGED" and new.status == "CONNECTED":
            quality_update("UNFLAGGED")
        if new.messaging_limit_tier != old.messaging_limit_tier:
            lower = tier_value(new.messaging_limit_tier) < tier_value(old.messaging_limit_tier)
            quality_update("DOWNGRADE" if lower else "UPGRADE", old_limit=old.messaging_limit_tier)
    if new.status == "RESTRICTED" and old.status != "RESTRICTED":
        expiration = int(time.time()) + RESTRICTION_SECONDS
        changes.append(
            (
                "account_update",
                {
                    "event": "ACCOUNT_RESTRICTION",
                    "restriction_info": [
                        {
                            "restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING",
                            "expiration": expiration,
                        }
                    ],
                },
            )
        )
    if new.status == "BANNED" and old.status != "BANNED":
        changes.append(_ban("DISABLE"))
    elif old.status == "BANNED" and new.status == "CONNECTED":
        changes.append(_ban("REINSTATE"))
    if payload.get("account_limit") is not None:
        changes.append(
            (
                "business_capability_update",
                {
                    "max_daily_conversation_per_phone": int(payload["account_limit"]),
                    "max_phone_numbers_per_waba": 25,
                },
            )
        )
    return changes


def _ban(state: str) -> tuple[str, dict[str, Any]]:
    today = time.strftime("%B %d, %Y", time.gmtime())
    return (
        "account_update",
        {"event": "DISABLED_UPDATE", "ban_info": {"waba_ban_state": state, "waba_ban_date": today}},
    )
