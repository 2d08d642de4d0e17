"""Show a sent template as the contact saw it: the template's components with the message's
parameters substituted (positional `{{1}}` or named `{{name}}`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


@dataclass
class RenderedTemplate:
    header: str = ""
    header_media: dict[str, Any] | None = None  # {"type": "image", "link" | "id": ...}
    body: str = ""
    footer: str = ""
    buttons: list[dict[str, str]] = field(default_factory=list)  # {"type", "text", "url"}

    @property
    def text(self) -> str:
        return "\n".join(part for part in (self.header, self.body, self.footer) if part)


def _value(param: dict[str, Any]) -> str:
    kind = param.get("type", "text")
    if kind == "text":
        return str(param.get("text", ""))
    if kind in ("currency", "date_time"):
        return str((param.get(kind) or {}).get("fallback_value", ""))
    if kind == "payload":
        return str(param.get("payload", ""))
    return f"[{kind}]"


def _values(parameters: list[dict[str, Any]]) -> dict[str, str]:
    """Placeholder name -> value: "1", "2", ... by position, and by `parameter_name`."""
    values: dict[str, str] = {}
    for index, param in enumerate(parameters or [], start=1):
        if not isinstance(param, dict):
            continue
        value = _value(param)
        values[str(index)] = value
        if param.get("parameter_name"):
            values[str(param["parameter_name"])] = value
    return values


def substitute(text: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text or "")


def _sent(content: dict[str, Any], kind: str, index: str | None = None) -> dict[str, Any]:
    for component in content.get("components") or []:
        if not isinstance(component, dict) or str(component.get("type", "")).lower() != kind:
            continue
        if index is None or str(component.get("index")) == index:
            return component
    return {}


def template_render(template, content: dict[str, Any]) -> RenderedTemplate:
    """`template` (a MessageTemplate, or None when unknown) filled with `content` (the Cloud
    API `template` object that was sent)."""
    content = content or {}
    rendered = RenderedTemplate()
    if template is None:
        rendered.body = f"Template {content.get('name', '?')}"
        return rendered
    for component in template.components or []:
        kind = str(component.get("type", "")).upper()
        if kind == "HEADER":
            header_format = str(component.get("format", "TEXT")).upper()
            sent = _sent(content, "header").get("parameters") or []
            if header_format == "TEXT":
                rendered.header = substitute(component.get("text", ""), _values(sent))
            elif header_format in ("IMAGE", "VIDEO", "DOCUMENT"):
                media_kind = header_format.lower()
                media = next((p.get(media_kind) for p in sent if p.get("type") == media_kind), None)
                rendered.header_media = {"type": media_kind, **(media or {})}
        elif kind == "BODY":
            sent = _sent(content, "body").get("parameters") or []
            rendered.body = substitute(component.get("text", ""), _values(sent))
        elif kind == "FOOTER":
            rendered.footer = str(component.get("text", ""))
        elif kind == "BUTTONS":
            for index, button in enumerate(component.get("buttons") or []):
                item = {"type": str(button.get("type", "")).lower(), "text": button.get("text", "")}
                if button.get("url"):
                    sent = _sent(content, "button", str(index)).get("parameters") or []
                    item["url"] = substitute(button["url"], _values(sent))
                rendered.buttons.append(item)
    return rendered


# --- Examples: how a template looks before anything is sent -------------------------------------


def _named_examples(items: Any) -> dict[str, str]:
    found = {}
    for item in items or []:
        if isinstance(item, dict) and item.get("param_name"):
            found[str(item["param_name"])] = str(item.get("example", ""))
    return found


def _positional_examples(values: Any) -> dict[str, str]:
    return {str(i): str(v) for i, v in enumerate(values or [], start=1) if not isinstance(v, list)}


def template_examples(template) -> dict[str, Any]:
    """The example values Meta keeps on `template`'s components (what the business gave when
    it submitted the template), by part and placeholder name: `{"header": {"1": "#40321"},
    "body": {"1": "Asha", ...}, "header_media": "https://...", "buttons": {"0": "40321"}}`.
    Missing examples are simply absent."""
    examples: dict[str, Any] = {"header": {}, "body": {}, "header_media": "", "buttons": {}}
    for component in template.components or []:
        if not isinstance(component, dict):
            continue
        kind = str(component.get("type", "")).upper()
        example = component.get("example") or {}
        if kind == "HEADER" and isinstance(example, dict):
            examples["header"] = _named_examples(example.get("header_text_named_params"))
            examples["header"] |= _positional_examples(example.get("header_text"))
            handles = example.get("header_handle") or []
            examples["header_media"] = str(handles[0]) if handles else ""
        elif kind == "BODY" and isinstance(example, dict):
            rows = example.get("body_text") or []
            examples["body"] = _named_examples(example.get("body_text_named_params"))
            examples["body"] |= _positional_examples(rows[0] if rows else [])
        elif kind == "BUTTONS":
            for index, button in enumerate(component.get("buttons") or []):
                url, sample = str(button.get("url") or ""), button.get("example") or []
                if "{{" in url and sample:
                    prefix = url.split("{{", 1)[0]
                    value = str(sample[0])
                    examples["buttons"][str(index)] = (
                        value[len(prefix) :] if value.startswith(prefix) else value
                    )
    return examples


def template_example_content(template) -> dict[str, Any]:
    """The Cloud API `template` object of `template` filled with its example values (a
    placeholder without one shows as `[name]`), for `template_render` to preview it."""
    examples = template_examples(template)
    declared = template.parameters or {}
    named = (template.parameter_format or "").lower() == "named"

    def params(part: str) -> list[dict[str, str]]:
        values = examples[part]
        result = []
        for name in declared.get(part) or []:
            item = {"type": "text", "text": values.get(str(name)) or f"[{name}]"}
            if named:
                item["parameter_name"] = str(name)
            result.append(item)
        return result

    components: list[dict[str, Any]] = []
    header = params("header")
    if header:
        components.append({"type": "header", "parameters": header})
    elif examples["header_media"]:
        for component in template.components or []:
            if str(component.get("type", "")).upper() == "HEADER":
                kind = str(component.get("format", "")).lower()
                if kind in ("image", "video", "document"):
                    media = {"type": kind, kind: {"link": examples["header_media"]}}
                    components.append({"type": "header", "parameters": [media]})
    body = params("body")
    if body:
        components.append({"type": "body", "parameters": body})
    for index, names in (declared.get("buttons") or {}).items():
        value = examples["buttons"].get(str(index)) or f"[{(names or ['1'])[0]}]"
        components.append(
            {"type": "button", "index": str(index), "parameters": [{"type": "text", "text": value}]}
        )
    return {"name": template.name, "components": components}


# Named parameters that stand for the contact's name, and the words that, right before a
# positional parameter, say it is one ("Hi {{1}},").
NAME_PARAMETERS = frozenset({"name", "first_name", "customer_name", "contact_name", "full_name"})
_GREETING_BEFORE = re.compile(
    r"(?:^|[\s,.!])(?:hi|hello|hey|dear|sorry|thanks|thank you|good morning|good afternoon|"
    r"good evening|welcome|namaste|नमस्ते)\s*,?\s*$",
    re.IGNORECASE,
)


def template_contact_values(template, *, first_name: str, full_name: str = ""):
    """Values for the parameters that stand for the contact's name: named ones called like
    `first_name` or `customer_name`, and positional ones right after a greeting ("Hi {{1}}").
    `{"header": {...}, "body": {...}}` by parameter name, for pickers to fill in."""
    values: dict[str, dict[str, str]] = {"header": {}, "body": {}}
    for component in getattr(template, "components", None) or []:
        kind = str(component.get("type", "")).lower()
        if kind not in values:
            continue
        text = str(component.get("text", ""))
        for match in _PLACEHOLDER.finditer(text):
            name = match.group(1)
            if name in NAME_PARAMETERS:
                value = full_name if name in ("full_name", "name") and full_name else first_name
            elif name.isdigit() and _GREETING_BEFORE.search(text[: match.start()]):
                value = first_name
            else:
                continue
            if value:
                values[kind][name] = value
    return values
