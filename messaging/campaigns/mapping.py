"""Where each template variable of a campaign gets its value: the one home of the mapping.

A campaign's `parameter_mapping` holds one item per template variable:

    {"header": [item, ...], "body": [item, ...], "buttons": {"0": item},
     "header_media_link": "https://...", "button_payloads": {"1": "..."}}
    (or "header_media_asset": <media library id> instead of the link)

    item = {"source": "field" | "attribute" | "constant",
            "value": <a CONTACT_FIELDS key, an attribute key, or the text itself>,
            "fallback": <text used when the contact has no value>,   (optional)
            "name": <the variable's name, named templates>,          (optional)
            "track": true}                                           (optional: tracked links)

Everything that turns a mapping into what a contact receives comes through here: the staff
builder (`forms.ParameterMappingForm` lists `mapping_slots` and the field choices), pre-flight
(`mapping_item_problem`), the preview and the test send (`mapping_content`, `mapping_preview`),
and launch, which renders every message either in Python (`mapping_content`) or, on
PostgreSQL, in one INSERT ... SELECT (`mapping_content_sql`). The two renderers are kept equal
by `tests/integration/test_campaigns.py`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from messaging.channels.models import MessageTemplate
from messaging.channels.rendering import RenderedTemplate, template_render
from messaging.media.content import asset_ref_id
from messaging.sending.policy import template_header_format
from messaging.sending.send import template_content_build

FIELD, ATTRIBUTE, CONSTANT = "field", "attribute", "constant"
SOURCES = [(FIELD, "Contact field"), (ATTRIBUTE, "Contact attribute"), (CONSTANT, "Fixed text")]

# The contact fields a variable may take, as staff read them. `name` falls back to the
# WhatsApp profile name (what the contact calls themself), `first_name` is its first word.
CONTACT_FIELDS: dict[str, str] = {
    "name": "Name (else WhatsApp profile name)",
    "first_name": "First name",
    "profile_name": "WhatsApp profile name",
    "phone": "Phone number",
    "wa_id": "WhatsApp id",
    "language": "Language",
}
# The Contact columns a rendering reads (`mapping_contact` and the audience's `.values()`).
CONTACT_COLUMNS = ("name", "profile_name", "phone", "language", "wa_id")
CONTACT_VALUES = ("pk", "attributes", *CONTACT_COLUMNS)
MEDIA_FORMATS = {"IMAGE", "VIDEO", "DOCUMENT"}


# --- The template's variables --------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """One variable of a template: where it sits and what staff call it."""

    part: str  # header, body or buttons
    index: int | str  # position in the header or body; the button's index for buttons
    name: str  # the placeholder: "1", "2"... or a named template's variable name

    @property
    def key(self) -> str:
        return f"button_{self.index}" if self.part == "buttons" else f"{self.part}_{self.index}"

    @property
    def label(self) -> str:
        where = f"Button {int(self.index) + 1} link" if self.part == "buttons" else self.part
        return f"{where.capitalize()} {{{{{self.name}}}}}"


def mapping_slots(template: MessageTemplate) -> list[Slot]:
    """The template's variables in the order a person reads them: header, body, buttons."""
    declared = template.parameters or {}
    slots = []
    for part in ("header", "body"):
        if part == "header" and template_header_format(template) in MEDIA_FORMATS:
            continue
        for i, name in enumerate(declared.get(part) or []):
            slots.append(Slot(part, i, str(name)))
    for index, names in sorted((declared.get("buttons") or {}).items()):
        slots.append(Slot("buttons", str(index), str(names[0]) if names else "1"))
    return slots


def mapping_item(mapping: dict | None, slot: Slot) -> dict:
    """The stored item of `slot` ({} when it is not mapped yet)."""
    mapping = mapping if isinstance(mapping, dict) else {}
    if slot.part == "buttons":
        item = (mapping.get("buttons") or {}).get(str(slot.index))
    else:
        items = mapping.get(slot.part) or []
        item = (
            items[slot.index] if isinstance(slot.index, int) and slot.index < len(items) else None
        )
    return item if isinstance(item, dict) else {}


def needs_media_link(template: MessageTemplate) -> bool:
    return template_header_format(template) in MEDIA_FORMATS


# --- One value -----------------------------------------------------------------------------------


def mapping_item_problem(item: Any) -> str | None:
    """Why a stored item cannot give a value (None: it can)."""
    if not isinstance(item, dict):
        return "not mapped"
    source, value = item.get("source"), str(item.get("value", "")).strip()
    if source not in (FIELD, ATTRIBUTE, CONSTANT):
        return "choose where the value comes from"
    if not value:
        return "give the text" if source == CONSTANT else "choose the " + source
    if source == FIELD and value not in CONTACT_FIELDS:
        return f"unknown contact field {value!r}"
    return None


@dataclass(frozen=True)
class Resolved:
    """One variable's value for one contact, and how it was found."""

    value: str
    fallback_used: bool = False

    @property
    def empty(self) -> bool:
        return not self.value.strip()


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"  # as PostgreSQL's ->> renders JSON booleans
    return "" if value is None else str(value)


def _contact_value(source: str, key: str, contact: dict) -> str:
    if source == ATTRIBUTE:
        return _text((contact.get("attributes") or {}).get(key))
    if key in ("name", "first_name"):
        name = _text(contact.get("name")) or _text(contact.get("profile_name"))
        return name.split(" ")[0] if key == "first_name" else name
    return _text(contact.get(key)) if key in CONTACT_COLUMNS else ""


def mapping_item_resolve(item: dict, contact: dict) -> Resolved:
    """The value of `item` for `contact` (a dict of CONTACT_VALUES, as `mapping_contact` or the
    audience's `.values()` give it): the contact's own value, else the item's fallback."""
    source, key = item.get("source"), str(item.get("value", ""))
    if source == CONSTANT:
        return Resolved(key)
    value = _contact_value(source, key, contact)
    if value:
        return Resolved(value)
    return Resolved(_text(item.get("fallback", "")), fallback_used=True)


def mapping_item_value(item: dict, contact: dict) -> str:
    return mapping_item_resolve(item, contact).value


def mapping_item_sql(item: dict, params: list) -> str:
    """SQL for one item over the audience row `c` (the same rules as `mapping_item_resolve`);
    appends its bound parameters to `params`. Raises ValueError for an unknown field."""
    source, key = item.get("source"), str(item.get("value", ""))
    fallback = _text(item.get("fallback", ""))
    if source == CONSTANT:
        params.append(key)
        return "%s::text"
    if source == ATTRIBUTE:
        params.extend([key, fallback])
        return "COALESCE(NULLIF(c.attributes ->> %s, ''), %s)"
    if key not in CONTACT_FIELDS:
        raise ValueError(f"Unknown contact field {key!r}.")
    params.append(fallback)
    name = "COALESCE(NULLIF(c.name, ''), NULLIF(c.profile_name, ''))"
    if key == "name":
        return f"COALESCE({name}, %s)"
    if key == "first_name":
        return f"COALESCE(NULLIF(split_part({name}, ' ', 1), ''), %s)"
    return f"COALESCE(NULLIF(c.{key}::text, ''), %s)"


def mapping_contact(contact) -> dict[str, Any]:
    """A Contact as the dict the renderers read."""
    return {"pk": contact.pk, "attributes": contact.attributes or {}} | {
        column: getattr(contact, column) for column in CONTACT_COLUMNS
    }


# --- The whole message ---------------------------------------------------------------------------


def _content(template: MessageTemplate, mapping: dict, render, button=None) -> dict[str, Any]:
    """The Cloud API template object with each mapped header and body item replaced by
    `render(item)`, and each button URL item by `button(item)` (default: `render`)."""
    button = button or render
    named = (template.parameter_format or "") == "named"
    declared = template.parameters or {}

    def values(part):
        items = [i if isinstance(i, dict) else {} for i in (mapping.get(part) or [])]
        if named:
            names = declared.get(part) or []
            return {
                item.get("name") or names[i]: render(item)
                for i, item in enumerate(items)
                if i < len(names) or item.get("name")
            }
        return [render(item) for item in items]

    buttons = mapping.get("buttons") or {}
    return template_content_build(
        template=template,
        body=values("body") or None,
        header=values("header") or None,
        header_media_link=mapping.get("header_media_link") or None,
        header_media_asset=asset_ref_id(mapping.get("header_media_asset")),
        button_url_values={str(i): button(item) for i, item in buttons.items()},
        button_payloads=mapping.get("button_payloads") or None,
    )


def mapping_content(
    *, template: MessageTemplate, mapping: dict, contact: dict, links=None, campaign=None
) -> dict[str, Any]:
    """The template object `contact` receives.

    Items marked `"track": true` have their links wrapped in tracked short links booked in
    `links` (a TrackedLinkBatch the caller saves with the messages); without `links` (a
    preview, a test send) they are left as they are. Button URL values are never wrapped: the
    template's own URL already goes through WhatsApp's button.
    """
    mapping = mapping or {}

    def render(item):
        value = mapping_item_value(item, contact)
        if links is not None and item.get("track"):
            value = links.wrap_text(value, contact=contact.get("pk"), campaign=campaign)
        return value

    def plain(item):
        return mapping_item_value(item, contact)

    return _content(template, mapping, render, plain)


def mapping_content_sql(*, template: MessageTemplate, mapping: dict) -> tuple[str, list]:
    """SQL rendering every audience row `c`'s template object as JSON text, and its params.

    The skeleton is built by the same `_content` with a placeholder per item; each
    placeholder (a JSON string) is then replaced by the row's value JSON-encoded by PostgreSQL.
    """
    placeholders: list[tuple[str, dict]] = []

    def slot(item):
        token = f"@@P{len(placeholders)}@@"
        placeholders.append((token, item))
        return token

    skeleton = _content(template, mapping or {}, slot)
    params: list = [json.dumps(skeleton)]
    sql = "%s"
    for token, item in placeholders:
        item_params: list = []
        value_sql = mapping_item_sql(item, item_params)
        sql = f"replace({sql}, %s, to_jsonb({value_sql})::text)"
        params = [*params, json.dumps(token), *item_params]
    return sql, params


def mapping_has_tracked_items(mapping: dict | None) -> bool:
    mapping = mapping or {}
    items = [*(mapping.get("header") or []), *(mapping.get("body") or [])]
    items += list((mapping.get("buttons") or {}).values())
    return any(isinstance(item, dict) and item.get("track") for item in items)


# --- Preview -------------------------------------------------------------------------------------


@dataclass
class Preview:
    """What one contact would receive, and each variable's value and where it came from."""

    contact: dict
    rendered: RenderedTemplate
    values: list[tuple[Slot, Resolved]] = field(default_factory=list)

    @property
    def empty(self) -> list[Slot]:
        """Variables that would go out empty (WhatsApp refuses an empty parameter)."""
        return [slot for slot, resolved in self.values if resolved.empty]


def mapping_preview(*, template: MessageTemplate, mapping: dict, contact: dict) -> Preview:
    """`contact`'s message rendered as WhatsApp shows it, with each variable's value."""
    content = mapping_content(template=template, mapping=mapping, contact=contact)
    values = [
        (slot, mapping_item_resolve(mapping_item(mapping, slot), contact))
        for slot in mapping_slots(template)
        if mapping_item_problem(mapping_item(mapping, slot)) is None
    ]
    return Preview(contact=contact, rendered=template_render(template, content), values=values)
