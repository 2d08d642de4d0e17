"""Meta's rules for a new or edited WhatsApp template, in one place (README "Template builder").

A template definition is the body of Graph's `POST /{waba_id}/message_templates`: `name`,
`language`, `category`, `parameter_format` and `components` (HEADER, BODY, FOOTER, BUTTONS,
in Meta's shape, with their `example`s). `template_problems` returns every rule the
definition breaks, each naming the field it concerns (`body.text`, `buttons.2.url`, ...), so
the API, the staff builder and the submission all say the same thing; the simulator refuses
a definition with the same rules, as Meta does.

It lives with the providers (plain Python, no Django) because these are the provider's own
rules, and because the simulator, which may import nothing of Parley's rooms, checks them too.

Sources: Meta's template documentation (components, limits, named and positional
parameters, button types) as summarised in WHATSAPP.md 2.1 and 2.9, and the rejection Meta
sends for parameters placed next to each other (the peer fixture of a REJECTED status event).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

MAX_NAME = 512
MAX_HEADER_TEXT = 60
MAX_BODY = 1024
MAX_FOOTER = 60
MAX_BUTTONS = 10
MAX_BUTTON_TEXT = 25
MAX_URL_BUTTONS = 2
MAX_PHONE_BUTTONS = 1
MAX_COPY_CODE_BUTTONS = 1
MAX_COPY_CODE = 15
MAX_URL = 2000
MAX_PHONE = 20
MAX_EXAMPLE = 200
MAX_EDITS_PER_WINDOW = 10
EDIT_WINDOW_DAYS = 30
# Meta refuses bodies with too many parameters for their length; this is the ratio Parley
# enforces before submitting: at least this many words of fixed text per parameter.
MIN_WORDS_PER_PARAMETER = 2

CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
HEADER_FORMATS = ("TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION")
MEDIA_HEADER_FORMATS = ("IMAGE", "VIDEO", "DOCUMENT")
BUTTON_TYPES = ("QUICK_REPLY", "URL", "PHONE_NUMBER", "COPY_CODE")
PARAMETER_FORMATS = ("POSITIONAL", "NAMED")

NAME_RE = re.compile(r"^[a-z0-9_]+$")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2}|_[A-Z][a-z]{3})?$")
NAMED_PARAMETER_RE = re.compile(r"^[a-z][a-z0-9_]*$")
PLACEHOLDER_RE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
PHONE_RE = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclasses.dataclass(frozen=True)
class RuleError:
    """One broken rule: `field` names where (`body.text`, `buttons.1.url`), `message` says
    what to change, in words a person can act on."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def placeholders(text: Any) -> list[str]:
    """The placeholder names of `text` in order of appearance, repeats included."""
    if not isinstance(text, str):
        return []
    return [m.group(1) for m in PLACEHOLDER_RE.finditer(text)]


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


class _Checker:
    def __init__(self) -> None:
        self.errors: list[RuleError] = []

    def add(self, field: str, message: str) -> None:
        self.errors.append(RuleError(field, message))

    def length(self, field: str, value: str, limit: int, what: str) -> None:
        if len(value) > limit:
            self.add(field, f"{what} is {len(value)} characters; Meta allows {limit}.")


def parameter_format_of(components: Any, declared: str | None = None) -> str:
    """POSITIONAL or NAMED: as declared, else as the body's and header's placeholders show."""
    fmt = (declared or "").upper()
    if fmt in PARAMETER_FORMATS:
        return fmt
    names: list[str] = []
    for component in components if isinstance(components, list) else ():
        if isinstance(component, Mapping) and str(component.get("type", "")).upper() in (
            "HEADER",
            "BODY",
        ):
            names += placeholders(component.get("text"))
    return "NAMED" if any(not n.isdigit() for n in names) else "POSITIONAL"


def template_problems(definition: Mapping[str, Any]) -> list[RuleError]:
    """Every rule of Meta's that `definition` breaks; an empty list when it may be submitted."""
    check = _Checker()
    name = _text(definition.get("name"))
    if not name:
        check.add("name", "A name is required.")
    elif not NAME_RE.match(name):
        check.add("name", "Use lower-case letters, digits and underscores only, e.g. order_update.")
    check.length("name", name, MAX_NAME, "The name")
    language = _text(definition.get("language"))
    if not language:
        check.add("language", "A language is required, e.g. en or en_US.")
    elif not LANGUAGE_RE.match(language):
        check.add("language", f"{language!r} is not a language code Meta uses (en, en_US, pt_BR).")
    category = _text(definition.get("category")).upper()
    if category not in CATEGORIES:
        check.add("category", f"Choose one of {', '.join(CATEGORIES)}.")
    elif category == "AUTHENTICATION":
        check.add(
            "category",
            "Authentication templates use Meta's fixed one-time-code layout: create them in "
            "WhatsApp Manager and sync them.",
        )
    components = definition.get("components")
    if not isinstance(components, list):
        check.add("components", "Components must be a list of HEADER, BODY, FOOTER, BUTTONS.")
        return check.errors
    declared = _text(definition.get("parameter_format")).upper()
    if declared and declared not in PARAMETER_FORMATS:
        check.add("parameter_format", "Use POSITIONAL ({{1}}) or NAMED ({{first_name}}).")
        declared = ""
    fmt = parameter_format_of(components, declared)

    by_type: dict[str, Mapping[str, Any]] = {}
    for index, component in enumerate(components):
        kind = str(component.get("type", "")).upper() if isinstance(component, Mapping) else ""
        if kind not in ("HEADER", "BODY", "FOOTER", "BUTTONS"):
            check.add(f"components.{index}", "Each component is a HEADER, BODY, FOOTER or BUTTONS.")
            continue
        if kind in by_type:
            check.add(kind.lower(), f"A template has at most one {kind}.")
            continue
        by_type[kind] = component
    if "BODY" not in by_type:
        check.add("body.text", "The body text is required.")
    else:
        _check_body(check, by_type["BODY"], fmt)
    if "HEADER" in by_type:
        _check_header(check, by_type["HEADER"], fmt)
    if "FOOTER" in by_type:
        footer = _text(by_type["FOOTER"].get("text"))
        if not footer.strip():
            check.add("footer.text", "A footer needs text (or leave the footer out).")
        check.length("footer.text", footer, MAX_FOOTER, "The footer")
        if placeholders(footer):
            check.add("footer.text", "The footer cannot contain variables.")
    if "BUTTONS" in by_type:
        _check_buttons(check, by_type["BUTTONS"], category)
    return check.errors


def _check_variables(check: _Checker, field: str, names: list[str], fmt: str) -> None:
    """Numbered {{1}}..{{n}} in order without gaps, or named lower_snake; never mixed."""
    unique = _unique(names)
    numbered = [n for n in unique if n.isdigit()]
    named = [n for n in unique if not n.isdigit()]
    if numbered and named:
        check.add(field, "Use numbered ({{1}}) or named ({{first_name}}) variables, not both.")
        return
    if fmt == "NAMED" and numbered:
        check.add(field, "This template uses named variables: write {{first_name}}, not {{1}}.")
        return
    if fmt == "POSITIONAL" and named:
        check.add(field, "This template uses numbered variables: write {{1}}, {{2}}, ...")
        return
    if numbered:
        wanted = [str(i) for i in range(1, len(numbered) + 1)]
        if numbered != wanted:
            check.add(
                field,
                "Number the variables {{1}}, {{2}}, ... in order of appearance, without gaps "
                f"(found {', '.join('{{' + n + '}}' for n in numbered)}).",
            )
    for name in named:
        if not NAMED_PARAMETER_RE.match(name):
            check.add(
                field,
                f"Variable {{{{{name}}}}}: names use lower-case letters, digits and underscores "
                "and start with a letter.",
            )


def _examples(
    check: _Checker, field: str, component: Mapping[str, Any], names: list[str], fmt: str
) -> None:
    """One example per variable, in the shape Meta wants for the component and the format."""
    unique = _unique(names)
    if not unique:
        return
    example = component.get("example")
    example = example if isinstance(example, Mapping) else {}
    kind = "header" if str(component.get("type", "")).upper() == "HEADER" else "body"
    given: dict[str, Any] = {}
    if fmt == "NAMED":
        items = example.get(f"{kind}_text_named_params") or []
        for item in items if isinstance(items, list) else ():
            if isinstance(item, Mapping) and item.get("param_name"):
                given[str(item["param_name"])] = item.get("example")
    else:
        values = example.get(f"{kind}_text") or []
        values = values if isinstance(values, list) else []
        if kind == "body" and values and isinstance(values[0], list):
            values = values[0]
        for index, value in enumerate(values if isinstance(values, list) else (), start=1):
            given[str(index)] = value
    for name in unique:
        value = given.get(name)
        if not isinstance(value, str) or not value.strip():
            check.add(
                field, f"Give an example for {{{{{name}}}}}: Meta reviews the template with it."
            )
        elif len(value) > MAX_EXAMPLE:
            check.add(field, f"The example for {{{{{name}}}}} is longer than {MAX_EXAMPLE}.")
        elif placeholders(value):
            check.add(field, f"The example for {{{{{name}}}}} cannot contain a variable.")
    extra = [k for k in given if k not in unique]
    if extra:
        check.add(field, f"Examples given for variables the text does not use: {', '.join(extra)}.")


def _check_body(check: _Checker, body: Mapping[str, Any], fmt: str) -> None:
    text = _text(body.get("text"))
    if not text.strip():
        check.add("body.text", "The body text is required.")
        return
    check.length("body.text", text, MAX_BODY, "The body")
    names = placeholders(text)
    _check_variables(check, "body.text", names, fmt)
    if not names:
        return
    stripped = text.strip()
    if PLACEHOLDER_RE.match(stripped):
        check.add("body.text", "The body cannot start with a variable: begin with some text.")
    if re.search(r"\{\{[^{}]*\}\}[\s.!?]*$", stripped):
        check.add("body.text", "The body cannot end with a variable: add text after it.")
    if re.search(r"\}\}\s*\{\{", text):
        check.add(
            "body.text",
            "Variables cannot be next to each other ({{1}}{{2}}): put words between them.",
        )
    words = len(PLACEHOLDER_RE.sub(" ", text).split())
    if words < MIN_WORDS_PER_PARAMETER * len(names):
        check.add(
            "body.text",
            f"Too many variables for the length of the text ({len(names)} variables, {words} "
            f"words): Meta wants at least {MIN_WORDS_PER_PARAMETER} words per variable.",
        )
    _examples(check, "body.example", body, names, fmt)


def _check_header(check: _Checker, header: Mapping[str, Any], fmt: str) -> None:
    header_format = str(header.get("format") or "").upper()
    if header_format not in HEADER_FORMATS:
        check.add("header.format", f"The header is one of {', '.join(HEADER_FORMATS)}.")
        return
    example = header.get("example") if isinstance(header.get("example"), Mapping) else {}
    if header_format == "TEXT":
        text = _text(header.get("text"))
        if not text.strip():
            check.add("header.text", "A text header needs text (or choose no header).")
            return
        check.length("header.text", text, MAX_HEADER_TEXT, "The header")
        names = placeholders(text)
        if len(names) > 1:
            check.add("header.text", "A text header has at most one variable.")
        _check_variables(check, "header.text", names, fmt)
        _examples(check, "header.example", header, names, fmt)
        return
    if header.get("text"):
        check.add("header.text", f"A {header_format.lower()} header has no text.")
    if header_format in MEDIA_HEADER_FORMATS:
        handles = example.get("header_handle")
        if (
            not isinstance(handles, list)
            or len(handles) != 1
            or not isinstance(handles[0], str)
            or not handles[0].strip()
        ):
            check.add(
                "header.example",
                f"A {header_format.lower()} header needs one example: the handle Meta gave "
                "the uploaded sample file.",
            )


def _check_buttons(check: _Checker, component: Mapping[str, Any], category: str) -> None:
    buttons = component.get("buttons")
    if not isinstance(buttons, list) or not buttons:
        check.add("buttons", "Add at least one button (or leave the buttons out).")
        return
    if len(buttons) > MAX_BUTTONS:
        check.add("buttons", f"{len(buttons)} buttons; Meta allows {MAX_BUTTONS}.")
    kinds = []
    texts: dict[str, int] = {}
    for index, button in enumerate(buttons):
        where = f"buttons.{index}"
        if not isinstance(button, Mapping):
            check.add(where, "Each button is an object with a type.")
            kinds.append("")
            continue
        kind = str(button.get("type") or "").upper()
        kinds.append(kind)
        if kind not in BUTTON_TYPES:
            check.add(f"{where}.type", f"A button is one of {', '.join(BUTTON_TYPES)}.")
            continue
        text = _text(button.get("text"))
        if kind != "COPY_CODE":
            if not text.strip():
                check.add(f"{where}.text", "The button needs a label.")
            check.length(f"{where}.text", text, MAX_BUTTON_TEXT, "The label")
            if placeholders(text):
                check.add(f"{where}.text", "A button label cannot contain variables.")
            folded = " ".join(text.split()).casefold()
            if folded and folded in texts:
                check.add(f"{where}.text", f"Two buttons are labelled {text!r}: make them differ.")
            texts.setdefault(folded, index)
        if kind == "URL":
            _check_url_button(check, where, button)
        elif kind == "PHONE_NUMBER":
            phone = _text(button.get("phone_number")).replace(" ", "")
            if not PHONE_RE.match(phone) or len(phone) > MAX_PHONE:
                check.add(f"{where}.phone_number", "Give the number in E.164, e.g. +919812345678.")
        elif kind == "COPY_CODE":
            code = button.get("example")
            code = code[0] if isinstance(code, list) and code else code
            if not isinstance(code, str) or not code.strip():
                check.add(f"{where}.example", "A copy-code button needs an example code.")
            elif len(code) > MAX_COPY_CODE:
                check.add(
                    f"{where}.example",
                    f"The code is {len(code)} characters; Meta allows {MAX_COPY_CODE}.",
                )
    counts = {k: kinds.count(k) for k in BUTTON_TYPES}
    for kind, limit in (
        ("URL", MAX_URL_BUTTONS),
        ("PHONE_NUMBER", MAX_PHONE_BUTTONS),
        ("COPY_CODE", MAX_COPY_CODE_BUTTONS),
    ):
        if counts[kind] > limit:
            label = kind.replace("_", " ").lower()
            check.add("buttons", f"{counts[kind]} {label} buttons; Meta allows {limit}.")
    quick = [i for i, k in enumerate(kinds) if k == "QUICK_REPLY"]
    if quick and quick[-1] - quick[0] + 1 != len(quick):
        check.add(
            "buttons",
            "Keep the quick replies together: all of them before, or all after, the other buttons.",
        )


def _check_url_button(check: _Checker, where: str, button: Mapping[str, Any]) -> None:
    url = _text(button.get("url"))
    if not url:
        check.add(f"{where}.url", "A URL button needs its web address.")
        return
    check.length(f"{where}.url", url, MAX_URL, "The address")
    if not url.lower().startswith(("https://", "http://")):
        check.add(f"{where}.url", "The address starts with https:// (or http://).")
    names = placeholders(url)
    if not names:
        if button.get("example"):
            check.add(f"{where}.example", "An example is only needed when the URL has {{1}}.")
        return
    if names != ["1"] or not url.endswith("}}") or url.count("{{") != 1:
        check.add(f"{where}.url", "A URL has at most one variable, {{1}}, at its very end.")
        return
    if url.index("{{") <= len("https://"):
        check.add(f"{where}.url", "The variable completes the address: put the site before it.")
    example = button.get("example")
    example = example[0] if isinstance(example, list) and example else example
    prefix = url[: url.index("{{")]
    if not isinstance(example, str) or not example.strip():
        check.add(f"{where}.example", "Give an example of the full address, e.g. with an order id.")
    elif not example.startswith(prefix) or example == prefix:
        check.add(f"{where}.example", f"The example is the full address, starting with {prefix}")


def template_edit_limit_problem(
    *, status: str, recent_edits: list[dt.datetime], now: dt.datetime
) -> RuleError | None:
    """Meta lets an APPROVED template be edited once a day and ten times in 30 days (rejected
    and paused ones without limit); `recent_edits` are when its edits were submitted."""
    if status != "APPROVED":
        return None
    if any(now - at < dt.timedelta(days=1) for at in recent_edits):
        return RuleError(
            "components", "An approved template can be edited once in 24 hours: try again later."
        )
    month = [at for at in recent_edits if now - at < dt.timedelta(days=EDIT_WINDOW_DAYS)]
    if len(month) >= MAX_EDITS_PER_WINDOW:
        return RuleError(
            "components",
            f"An approved template can be edited {MAX_EDITS_PER_WINDOW} times in "
            f"{EDIT_WINDOW_DAYS} days; create a new template instead.",
        )
    return None


def template_edit_problems(
    *, current: Mapping[str, Any], changes: Mapping[str, Any], status: str
) -> list[RuleError]:
    """What Meta refuses in an edit of a submitted template: its name and language never
    change, and an APPROVED template keeps its category."""
    errors = []
    for key in ("name", "language"):
        if key in changes and changes[key] != current.get(key):
            errors.append(
                RuleError(
                    key, f"The {key} of a submitted template cannot change: create a new one."
                )
            )
    if (
        status == "APPROVED"
        and "category" in changes
        and str(changes["category"]).upper() != str(current.get("category")).upper()
    ):
        errors.append(RuleError("category", "An approved template keeps its category."))
    return errors
