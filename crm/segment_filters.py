"""The saved filter of a `Segment`: its shape, its validation, and its translation into one
`Q` over contacts (no per-contact Python).

    {
      "tags": {"any": ["vip"], "all": ["newsletter"], "none": ["churn-risk"]},
      "consent": ["opted_in"],
      "attributes": [
        {"key": "city", "op": "eq", "value": "Pune"},
        {"key": "lifetime_orders", "op": "gt", "value": 5}
      ],
      "active_within_days": 30,
      "advisors_only": true,
      "advisor_tiers": ["gold"], "advisor_regions": ["West"],
      "channel": 1
    }

Every part is optional; parts combine with AND; an empty filter matches every contact.
Attribute operators: `eq` (any type), `contains` (text, case-insensitive), `gt` / `lt`
(numbers and dates). `channel` is a channel id: contacts with at least one message on it,
as the registered `crm.extensions.ContactMessaging` tells (refused when nothing can).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from crm.attribute_rules import attribute_value_coerce
from crm.extensions import contact_messaging
from crm.models import AdvisorTier, AttributeDefinition, AttributeType, Consent, Contact

OPERATORS = {
    "eq": "equals",
    "contains": "contains",
    "gt": "greater than",
    "lt": "less than",
}
OPERATORS_BY_TYPE = {
    AttributeType.TEXT: {"eq", "contains"},
    AttributeType.CHOICE: {"eq", "contains"},
    AttributeType.NUMBER: {"eq", "gt", "lt"},
    AttributeType.DATE: {"eq", "gt", "lt"},
    AttributeType.BOOLEAN: {"eq"},
}
KNOWN_KEYS = {
    "tags", "consent", "attributes", "active_within_days", "advisors_only", "advisor_tiers",
    "advisor_regions", "channel",
}  # fmt: skip
MAX_CONDITIONS = 20


def _str_list(value: Any, what: str) -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValidationError(f"{what} must be a list of text.")
    return list(dict.fromkeys(v.strip() for v in value))


def segment_filter_clean(data: Any, *, definitions: dict | None = None) -> dict:
    """The normalised filter, or ValidationError with a message per problem.

    Attribute conditions are typed by their AttributeDefinition: `{"key": "lifetime_orders",
    "op": "gt", "value": "5"}` is stored with the number 5.
    """

    if data in (None, ""):
        return {}
    if not isinstance(data, dict):
        raise ValidationError("The filter must be an object.")
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}

    def fail(part: str, message: str) -> None:
        errors.setdefault(part, []).append(message)

    for key in set(data) - KNOWN_KEYS:
        fail(key, "Unknown filter part.")

    tags = data.get("tags") or {}
    if not isinstance(tags, dict) or set(tags) - {"any", "all", "none"}:
        fail("tags", 'Tags take {"any": [...], "all": [...], "none": [...]}.')
    else:
        try:
            cleaned_tags = {mode: _str_list(tags.get(mode), f"tags.{mode}") for mode in tags}
            cleaned_tags = {
                mode: [n.lower() for n in names] for mode, names in cleaned_tags.items() if names
            }
            if cleaned_tags:
                clean["tags"] = cleaned_tags
        except ValidationError as exc:
            fail("tags", exc.messages[0])

    try:
        consent = _str_list(data.get("consent"), "consent")
        bad = [c for c in consent if c not in Consent.values]
        if bad:
            fail("consent", f"Unknown consent values: {', '.join(bad)}.")
        elif consent:
            clean["consent"] = consent
    except ValidationError as exc:
        fail("consent", exc.messages[0])

    conditions = data.get("attributes") or []
    if not isinstance(conditions, list) or len(conditions) > MAX_CONDITIONS:
        fail("attributes", f"Attributes take a list of at most {MAX_CONDITIONS} conditions.")
        conditions = []
    if conditions:
        definitions = (
            {d.key: d for d in AttributeDefinition.objects.all()}
            if definitions is None
            else definitions
        )
    cleaned_conditions = []
    for index, condition in enumerate(conditions, start=1):
        if not isinstance(condition, dict) or set(condition) != {"key", "op", "value"}:
            fail("attributes", f"Condition {index}: give key, op and value.")
            continue
        definition = definitions.get(condition["key"])
        if definition is None:
            fail("attributes", f"Condition {index}: unknown attribute {condition['key']!r}.")
            continue
        op = condition["op"]
        if op not in OPERATORS_BY_TYPE.get(definition.type, set()):
            allowed = ", ".join(sorted(OPERATORS_BY_TYPE.get(definition.type, set())))
            fail("attributes", f"Condition {index}: {definition.type} takes {allowed}.")
            continue
        value = condition["value"]
        if op == "contains":
            if not isinstance(value, str) or not value.strip():
                fail("attributes", f"Condition {index}: contains needs some text.")
                continue
            value = value.strip()
        else:
            try:
                value = attribute_value_coerce(definition, value)
            except ValueError as exc:
                fail("attributes", f"Condition {index} ({definition.key}): {exc}.")
                continue
        cleaned_conditions.append({"key": definition.key, "op": op, "value": value})
    if cleaned_conditions:
        clean["attributes"] = cleaned_conditions

    days = data.get("active_within_days")
    if days not in (None, ""):
        if isinstance(days, str) and days.strip().isdigit():
            days = int(days)
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650:
            fail("active_within_days", "A whole number of days between 1 and 3650.")
        else:
            clean["active_within_days"] = days

    if data.get("advisors_only") not in (None, False, True):
        fail("advisors_only", "true or false.")
    elif data.get("advisors_only"):
        clean["advisors_only"] = True
    try:
        tiers = _str_list(data.get("advisor_tiers"), "advisor_tiers")
        bad = [t for t in tiers if t not in AdvisorTier.values]
        if bad:
            fail("advisor_tiers", f"Unknown tiers: {', '.join(bad)}.")
        elif tiers:
            clean["advisor_tiers"] = tiers
        regions = _str_list(data.get("advisor_regions"), "advisor_regions")
        if regions:
            clean["advisor_regions"] = regions
    except ValidationError as exc:
        fail("advisors", exc.messages[0])

    channel = data.get("channel")
    if channel not in (None, ""):
        if isinstance(channel, str) and channel.strip().isdigit():
            channel = int(channel)
        if isinstance(channel, bool) or not isinstance(channel, int) or channel < 1:
            fail("channel", "A channel id.")
        elif contact_messaging().channel_q(channel) is None:
            fail("channel", "Messages are not installed; cannot filter by channel.")
        else:
            clean["channel"] = channel

    if errors:
        raise ValidationError(dict(errors))
    return clean


def _attribute_q(condition: dict) -> Q:
    path = f"attributes__{condition['key']}"
    op, value = condition["op"], condition["value"]
    if op == "eq":
        return Q(**{path: value})
    if op == "contains":
        return Q(**{f"{path}__icontains": value})
    return Q(**{f"{path}__{op}": value})


def segment_filter_q(clean: dict) -> Q:
    """One Q over Contact for a cleaned filter; subqueries are EXISTS, so no duplicates."""
    q = Q()
    through = Contact.tags.through
    tags = clean.get("tags") or {}
    if tags.get("any"):
        q &= Q(Exists(through.objects.filter(contact=OuterRef("pk"), tag__name__in=tags["any"])))
    for name in tags.get("all") or []:
        q &= Q(Exists(through.objects.filter(contact=OuterRef("pk"), tag__name=name)))
    if tags.get("none"):
        q &= ~Q(Exists(through.objects.filter(contact=OuterRef("pk"), tag__name__in=tags["none"])))
    if clean.get("consent"):
        q &= Q(consent__in=clean["consent"])
    for condition in clean.get("attributes") or []:
        q &= _attribute_q(condition)
    if clean.get("active_within_days"):
        since = timezone.now() - timedelta(days=clean["active_within_days"])
        q &= Q(last_inbound_at__gte=since)
    if clean.get("advisors_only") or clean.get("advisor_tiers") or clean.get("advisor_regions"):
        q &= Q(advisor__isnull=False, advisor__is_active=True)
        if clean.get("advisor_tiers"):
            q &= Q(advisor__tier__in=clean["advisor_tiers"])
        if clean.get("advisor_regions"):
            q &= Q(advisor__region__in=clean["advisor_regions"])
    if clean.get("channel"):
        channel_q = contact_messaging().channel_q(clean["channel"])
        # A filter saved while messaging was installed matches nobody without it.
        q &= Q(pk__in=[]) if channel_q is None else channel_q
    return q


def segment_filter_describe(clean: dict) -> list[str]:
    """Plain-language lines for a cleaned filter (staff pages)."""
    lines = []
    tags = clean.get("tags") or {}
    for mode, label in (("any", "any of"), ("all", "all of"), ("none", "none of")):
        if tags.get(mode):
            lines.append(f"Tagged with {label}: {', '.join(tags[mode])}")
    if clean.get("consent"):
        lines.append(f"Consent: {', '.join(Consent(c).label for c in clean['consent'])}")
    for c in clean.get("attributes") or []:
        lines.append(f"{c['key']} {OPERATORS[c['op']]} {c['value']}")
    if clean.get("active_within_days"):
        lines.append(f"Wrote to us in the last {clean['active_within_days']} days")
    if clean.get("advisors_only"):
        lines.append("Active advisors only")
    if clean.get("advisor_tiers"):
        lines.append(f"Advisor tier: {', '.join(clean['advisor_tiers'])}")
    if clean.get("advisor_regions"):
        lines.append(f"Advisor region: {', '.join(clean['advisor_regions'])}")
    if clean.get("channel"):
        lines.append(f"Has messages on channel #{clean['channel']}")
    return lines or ["Every contact"]


__all__ = ["segment_filter_clean", "segment_filter_describe", "segment_filter_q"]
