"""The simulator's runtime configuration: defaults, CLI flags and `POST /_sim/config` merges."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

STATUS_STEPS = ("sent", "delivered", "read")
FAIL_MODES = ("sync", "async")


def _digits(value: Any) -> str:
    return "".join(ch for ch in str(value) if ch.isdigit())


@dataclasses.dataclass(frozen=True)
class SimulatorConfig:
    """Immutable: a change builds a new object, so a request sees one consistent snapshot."""

    # Identity and credentials
    access_token: str = ""  # empty: no Bearer check
    app_secret: str = ""  # signs webhooks; empty: webhooks go unsigned
    waba_id: str = "100000000000001"
    phone_number_id: str = "200000000000001"  # used for inbound webhooks by default
    phone_number_ids: tuple[str, ...] = ()  # accepted senders; empty: any id
    display_phone_number: str = "15550001111"
    # Every number's health as Graph reports it, unless /_sim/number_event changed that number
    verified_name: str = "Parley Demo"
    quality_rating: str = "GREEN"
    messaging_limit_tier: str = "TIER_10K"
    number_status: str = "CONNECTED"
    name_status: str = "APPROVED"
    # Webhooks
    webhook_url: str = ""
    webhooks: bool = True
    # Seconds from acceptance to "sent", then from "sent" to "delivered", then to "read".
    delays: Mapping[str, float] = dataclasses.field(
        default_factory=lambda: {"sent": 0.05, "delivered": 0.5, "read": 2.0}
    )
    read_ratio: float = 1.0  # share of delivered messages that also get read
    duplicate_statuses: bool = False
    reorder_statuses: bool = False
    max_batch: int = 20  # statuses/messages per webhook POST when several are due
    webhook_concurrency: int = 4  # sender threads; read once at start
    webhook_timeout: float = 5.0
    webhook_retries: int = 3
    webhook_retry_backoff: float = 0.5
    # Limits and faults
    mps: float = 0.0  # messages/second over all numbers; 0 = unlimited
    fail_numbers: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # number -> code
    fail_mode: str = "sync"  # sync: HTTP error; async: accepted, then a failed status
    outside_window_numbers: tuple[str, ...] = ()  # free-form sends fail with 131047
    hang_numbers: tuple[str, ...] = ()  # accepted, then no response for hang_seconds
    hang_seconds: float = 30.0
    strict_templates: bool = True  # unknown / unapproved templates and wrong params refused
    # Template review (README "Template builder"): a created or edited template is PENDING for
    # this many seconds, then APPROVED, or REJECTED when its body contains the marker
    # (case-insensitive; empty: never), with Meta's status webhook either way.
    template_review_delay: float = 5.0
    template_reject_marker: str = "[reject]"
    template_reject_reason: str = "INVALID_FORMAT"
    max_messages_kept: int = 10_000

    def merged(self, updates: Mapping[str, Any]) -> SimulatorConfig:
        """A copy with `updates` applied; raises ValueError on unknown keys or bad values."""
        known = {f.name for f in dataclasses.fields(self)}
        changes: dict[str, Any] = {}
        for key, value in updates.items():
            if key not in known:
                raise ValueError(f"unknown config key {key!r}")
            changes[key] = _coerce(self, key, value)
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["access_token"] = "***" if self.access_token else ""
        data["app_secret"] = "***" if self.app_secret else ""
        data["delays"] = dict(self.delays)
        data["fail_numbers"] = dict(self.fail_numbers)
        for key in ("phone_number_ids", "outside_window_numbers", "hang_numbers"):
            data[key] = list(data[key])
        return data

    def fail_rule(self, number: str) -> tuple[int, str] | None:
        """(error code, mode) configured for this recipient, if any."""
        rule = self.fail_numbers.get(number)
        if rule is None:
            return None
        if isinstance(rule, Mapping):
            return int(rule["code"]), str(rule.get("mode") or self.fail_mode)
        return int(rule), self.fail_mode


def _coerce(config: SimulatorConfig, key: str, value: Any) -> Any:
    current = getattr(config, key)
    try:
        if key == "delays":
            if not isinstance(value, Mapping):
                raise ValueError('delays must be an object such as {"read": 1.5}')
            delays = dict(config.delays)
            for step, seconds in value.items():
                if step not in STATUS_STEPS:
                    raise ValueError(f"delays: unknown status {step!r}")
                if float(seconds) < 0:
                    raise ValueError("delays cannot be negative")
                delays[step] = float(seconds)
            return delays
        if key == "fail_numbers":
            if not isinstance(value, Mapping):
                raise ValueError("fail_numbers must map numbers to error codes")
            rules: dict[str, Any] = {}
            for number, rule in value.items():
                if isinstance(rule, Mapping):
                    mode = rule.get("mode")
                    if mode is not None and mode not in FAIL_MODES:
                        raise ValueError(f"fail mode must be one of {FAIL_MODES}")
                    rules[_digits(number)] = {"code": int(rule["code"]), "mode": mode}
                else:
                    rules[_digits(number)] = int(rule)
            return rules
        if key == "fail_mode":
            if value not in FAIL_MODES:
                raise ValueError(f"fail_mode must be one of {FAIL_MODES}")
            return value
        if key in ("outside_window_numbers", "hang_numbers"):
            if isinstance(value, str):
                value = [value]
            return tuple(_digits(v) for v in value)
        if key == "phone_number_ids":
            if isinstance(value, str):
                value = [value]
            return tuple(str(v) for v in value)
        if isinstance(current, bool):
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if isinstance(current, int):
            number = int(value)
            if number < 0:
                raise ValueError(f"{key} cannot be negative")
            return number
        if isinstance(current, float):
            number = float(value)
            if number < 0:
                raise ValueError(f"{key} cannot be negative")
            if key == "read_ratio" and number > 1:
                raise ValueError("read_ratio is between 0 and 1")
            return number
        if isinstance(current, str):
            return "" if value is None else str(value)
    except (TypeError, KeyError) as exc:
        raise ValueError(f"bad value for {key}: {exc}") from exc
    return value
