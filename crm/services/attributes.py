"""Custom attributes: every key of `Contact.attributes` is an `AttributeDefinition`, and every
value has the declared type. The pure rules (types, coercion, definition checks) live in
`crm.attribute_rules`; this module reads the definitions and cleans whole objects."""

from __future__ import annotations

from typing import Any

from core.errors import DomainError
from crm.attribute_rules import (  # noqa: F401 (re-exported: callers read the rules here too)
    RESERVED_KEYS,
    attribute_definition_check,
    attribute_value_coerce,
)
from crm.models import AttributeDefinition


class AttributeInvalid(DomainError):
    code = "invalid_attribute"


def attribute_definitions() -> dict[str, AttributeDefinition]:
    return {d.key: d for d in AttributeDefinition.objects.all()}


def attributes_clean(
    values: Any, *, definitions: dict[str, AttributeDefinition] | None = None
) -> dict[str, Any]:
    """Validate a whole attributes object. Empty values (None or "") drop the key.

    Raises AttributeInvalid with per-key reasons in `details`.
    """
    if values in (None, ""):
        return {}
    if not isinstance(values, dict):
        raise AttributeInvalid("Attributes must be an object of key: value.")
    definitions = attribute_definitions() if definitions is None else definitions
    cleaned: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for key, value in values.items():
        definition = definitions.get(key)
        if definition is None:
            problems[key] = "unknown attribute"
            continue
        if value is None or value == "":
            continue
        try:
            cleaned[key] = attribute_value_coerce(definition, value)
        except ValueError as exc:
            problems[key] = str(exc)
    if problems:
        summary = "; ".join(f"{k}: {v}" for k, v in problems.items())
        raise AttributeInvalid(f"Invalid attributes ({summary}).", details=problems)
    return cleaned
