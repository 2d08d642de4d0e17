"""The names integrators give the ten notification types.

Seed 004, which other systems were written against, names two types differently from the
codes Parley stores: `pause_confirmation` is `subscription_paused` and `churn_risk` is
`we_miss_you`. Both names are accepted wherever a request names a type (sending, list
filters, preferences, statistics). The stored code is the canonical name: rows, templates
and the staff pages keep it. A request that names a type by its seed 004 name gets that name
back in the rows of that type (a system written against the seed reads back what it sent);
every other answer uses the canonical code. README "Transactional notifications" has the table.
"""

from __future__ import annotations

from collections.abc import Iterable

# seed 004 name -> stored (canonical) code
SEED_NAMES: dict[str, str] = {
    "pause_confirmation": "subscription_paused",
    "churn_risk": "we_miss_you",
}
ALIASES_BY_CODE: dict[str, list[str]] = {}
for _alias, _code in SEED_NAMES.items():
    ALIASES_BY_CODE.setdefault(_code, []).append(_alias)


def notification_type_code(name: str) -> str:
    """The stored code a request's type name means (the name itself when it is no alias)."""
    name = (name or "").strip()
    return SEED_NAMES.get(name, name)


def notification_type_aliases(code: str) -> list[str]:
    """The other names a stored code is known by."""
    return list(ALIASES_BY_CODE.get(code, ()))


def names_used(names: Iterable[str]) -> dict[str, str]:
    """{stored code: the alias the request used}, for answering with the caller's names."""
    return {SEED_NAMES[n]: n for n in names if n in SEED_NAMES}
