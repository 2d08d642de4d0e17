"""Custom attribute rules, pure: the types, the reserved keys, how a value is coerced to its
declared type and what makes a definition valid. No database access, so the model's `clean()`,
the services, the importer, the segment filters and the API all share them without cycles.

Values are stored as JSON: text and choices as strings, numbers as numbers, dates as ISO
strings (`2026-10-31`, so they sort), booleans as booleans.
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Any

from django.db import models

TEXT_MAX_LENGTH = 500
TRUE_WORDS = frozenset({"true", "yes", "y", "1", "on"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "off"})
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
# Names an import column cannot use for an attribute: they are contact or advisor fields.
RESERVED_KEYS = frozenset(
    {"id", "phone", "name", "tags", "consent", "language", "firm", "region", "tier",
     "content_preferences", "onboarded_on", "attributes", "bsuid", "wa_id", "blocked"}
)  # fmt: skip


class AttributeType(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    DATE = "date", "Date (YYYY-MM-DD)"
    BOOLEAN = "boolean", "Yes / no"
    CHOICE = "choice", "Choice"


def attribute_value_coerce(definition, value: Any) -> Any:
    """The stored form of `value` for `definition`; ValueError says why it does not fit.

    Accepts what a CSV cell holds (text) and what JSON holds (numbers, booleans).
    """
    kind = definition.type
    if isinstance(value, str):
        value = value.strip()
    if kind == AttributeType.TEXT:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError("expected text")
        text = str(value)
        if len(text) > TEXT_MAX_LENGTH:
            raise ValueError(f"longer than {TEXT_MAX_LENGTH} characters")
        return text
    if kind == AttributeType.NUMBER:
        if isinstance(value, bool):
            raise ValueError("expected a number")
        if isinstance(value, str):
            if not _NUMBER.match(value):
                raise ValueError("expected a number")
            value = float(value)
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError("expected a number")
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            return int(value)
        return value
    if kind == AttributeType.DATE:
        if isinstance(value, date):
            return value.isoformat()
        if not isinstance(value, str) or not _ISO_DATE.match(value):
            raise ValueError("expected a date as YYYY-MM-DD")
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise ValueError("not a real date") from None
    if kind == AttributeType.BOOLEAN:
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError("expected yes or no")
    if kind == AttributeType.CHOICE:
        if not isinstance(value, str):
            raise ValueError("expected one of the choices")
        for choice in definition.choices or []:
            if choice.lower() == value.lower():
                return choice
        allowed = ", ".join(definition.choices or [])
        raise ValueError(f"not one of the choices ({allowed})")
    raise ValueError(f"unknown attribute type {kind!r}")


def attribute_definition_check(*, key: str, type: str, choices: Any) -> list[str]:
    """Problems with a definition's shape (used by the admin, the API and the demo)."""
    problems = []
    if key in RESERVED_KEYS:
        problems.append(f"{key!r} is a contact field name; pick another key.")
    if type == AttributeType.CHOICE:
        if not isinstance(choices, list) or not choices:
            problems.append("A choice attribute needs a list of choices.")
        elif not all(isinstance(c, str) and c.strip() for c in choices):
            problems.append("Choices must be non-empty text.")
    elif choices:
        problems.append("Only choice attributes have choices.")
    return problems
