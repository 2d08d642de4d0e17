"""From a raw record (CSV cells or a JSON object) to a validated row, or the reasons not.

Columns are matched by header, case-insensitively: `phone` (also `mobile`, `phone_number`,
`msisdn`, `whatsapp`), `name`, `tags` (separated by `;` or `|`), `consent`, `language`,
attribute columns written `attr:<key>` or just `<key>` for a defined attribute, and for
advisor imports `firm`, `region`, `tier`, `content_preferences`, `onboarded_on`. JSON records
may also carry an `attributes` object. Other columns are ignored (and listed on the job).
An empty cell changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from crm.attribute_rules import attribute_value_coerce
from crm.models import AttributeDefinition
from crm.services.advisors import content_preferences_clean, onboarded_on_clean, tier_clean
from crm.services.contacts import (
    InvalidPhone,
    consent_parse,
    language_clean,
    phone_normalize,
    tag_names_clean,
)

PHONE_HEADERS = frozenset({"phone", "mobile", "phone_number", "msisdn", "whatsapp"})
ALIASES = {
    **dict.fromkeys(PHONE_HEADERS, "phone"),
    "name": "name", "full_name": "name",
    "tags": "tags", "tag": "tags",
    "consent": "consent",
    "language": "language", "lang": "language",
}  # fmt: skip
ADVISOR_COLUMNS = ("firm", "region", "tier", "content_preferences", "onboarded_on")
ATTR_PREFIX = "attr:"
VALUE_MAX = 200
# C0 control characters (but tab and line breaks, which are whitespace) and DEL: invisible in
# a spreadsheet, harmful in a terminal or a log line, never part of a name.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(slots=True)
class RowProblem:
    line: int
    column: str
    value: str
    reason: str


@dataclass(slots=True)
class Row:
    line: int
    phone: str
    name: str | None = None
    language: str | None = None
    consent: str | None = None
    tags: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    advisor: dict[str, Any] | None = None


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text[:VALUE_MAX]


class RowParser:
    """Maps columns once per distinct header, then validates rows against the definitions."""

    def __init__(self, *, definitions: dict[str, AttributeDefinition], as_advisors: bool):
        self.definitions = definitions
        self.as_advisors = as_advisors
        self.ignored: list[str] = []
        self._maps: dict[tuple, dict[str, str]] = {}

    def target(self, column: str) -> str | None:
        """What a column feeds: a field name, `attr:<key>`, or None (ignored)."""
        name = " ".join(str(column).split()).lower()
        if name in ALIASES:
            return ALIASES[name]
        if name in ADVISOR_COLUMNS:
            return name if self.as_advisors else None
        if name == "attributes":
            return "attributes"
        if name.startswith(ATTR_PREFIX):
            return ATTR_PREFIX + name[len(ATTR_PREFIX) :].strip()
        if name in self.definitions:
            return ATTR_PREFIX + name
        return None

    def column_map(self, columns) -> dict[str, str]:
        key = tuple(columns)  # CSV rows share one header; JSON records may differ
        mapping = self._maps.get(key)
        if mapping is None:
            mapping = {}
            for column in columns:
                target = self.target(column)
                if target is None:
                    if column not in self.ignored and len(self.ignored) < 50:
                        self.ignored.append(column)
                else:
                    mapping[column] = target
            self._maps[key] = mapping
        return mapping

    def parse(self, line: int, data: dict) -> Row | list[RowProblem]:
        """One pass over the row's cells; every problem is collected, not just the first."""
        problems: list[RowProblem] = []
        row = Row(line=line, phone="")
        advisor: dict[str, Any] | None = {} if self.as_advisors else None
        phone_column = "phone"
        for column, target in self.column_map(data).items():
            value = data[column]
            if value is None:
                continue
            if type(value) is str:
                value = CONTROL.sub("", value).strip()
                if not value:
                    continue
            try:
                if target == "phone":
                    phone_column = column
                    if isinstance(value, bool) or not isinstance(value, str | int):
                        raise InvalidPhone("not text")
                    row.phone = phone_normalize(str(value))
                elif target == "name":
                    if not isinstance(value, str):
                        raise ValueError("name must be text")
                    row.name = " ".join(value.split())[:200]
                elif target == "consent":
                    row.consent = _reason(consent_parse, value, "bad consent value")
                elif target == "language":
                    row.language = _reason(language_clean, str(value), "bad language code")
                elif target == "tags":
                    row.tags = tag_names_clean(value)
                elif target == "attributes":
                    if not isinstance(value, dict):
                        raise ValueError("not an object")
                    for key, item in value.items():
                        self._attribute(row, problems, f"attributes.{key}", str(key), item)
                elif target.startswith(ATTR_PREFIX):
                    self._attribute(row, problems, column, target[len(ATTR_PREFIX) :], value)
                elif advisor is not None and target in ADVISOR_CLEANERS:
                    advisor[target] = ADVISOR_CLEANERS[target](value)
            except InvalidPhone:
                problems.append(RowProblem(line, column, _shown(value), "invalid phone"))
            except ValueError as exc:
                reason = str(exc) if target != "tags" else f"bad tags: {exc}"
                problems.append(RowProblem(line, column, _shown(value), reason))
        if not row.phone and not any(p.reason == "invalid phone" for p in problems):
            problems.append(RowProblem(line, phone_column, "", "missing phone"))
        row.advisor = advisor
        return problems or row

    def _attribute(self, row: Row, problems: list, column: str, key: str, value: Any) -> None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return
        definition = self.definitions.get(key)
        if definition is None:
            problems.append(
                RowProblem(row.line, column, _shown(value), f"unknown attribute {key!r}")
            )
            return
        try:
            row.attributes[key] = attribute_value_coerce(definition, value)
        except ValueError as exc:
            problems.append(
                RowProblem(row.line, column, _shown(value), f"wrong type for {key}: {exc}")
            )


def _reason(cleaner, value, reason: str):
    """Run a cleaner, replacing its message with the short reason the error report uses."""
    try:
        return cleaner(value)
    except ValueError:
        raise ValueError(reason) from None


ADVISOR_CLEANERS = {
    "firm": lambda v: str(v)[:200],
    "region": lambda v: str(v)[:100],
    "tier": tier_clean,
    "content_preferences": content_preferences_clean,
    "onboarded_on": onboarded_on_clean,
}
