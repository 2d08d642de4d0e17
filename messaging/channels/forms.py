"""Staff forms of channels: a number's non-secret settings, the template list's filters and
the template builder."""

from __future__ import annotations

from django import forms

from messaging.channels.models import Channel, TemplateCategory, TemplateStatus
from messaging.channels.template_media import header_example_source
from messaging.providers.template_rules import MEDIA_HEADER_FORMATS, placeholders


class ChannelSettingsForm(forms.ModelForm):
    """What an Admin may change on the staff page. Secrets and the setting names that hold
    them, the provider and its API address stay in the admin (and the environment); number
    health comes from Meta and is never typed in."""

    class Meta:
        model = Channel
        fields = ["name", "display_phone_number", "waba_id", "throughput_mps", "is_active"]
        help_texts = {
            "name": "How staff pages call this number, e.g. 'Sales India'.",
            "display_phone_number": "The number as customers see it, e.g. +91 98765 43210.",
            "waba_id": "The WhatsApp Business Account the number belongs to (Meta's id).",
            "throughput_mps": "Messages per second sends are paced at: Meta allows 80 by "
            "default, up to 1,000 once the number is upgraded.",
            "is_active": "Off: nothing is sent from this number and it is not offered anywhere.",
        }

    def clean_throughput_mps(self):
        value = self.cleaned_data["throughput_mps"]
        if not 1 <= value <= 1000:
            raise forms.ValidationError("Between 1 and 1,000 messages per second.")
        return value


class TemplateFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Name")
    status = forms.ChoiceField(required=False)
    category = forms.ChoiceField(required=False)
    channel = forms.ChoiceField(required=False, label="Number")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", "any status"), *TemplateStatus.choices]
        self.fields["category"].choices = [("", "any category"), *TemplateCategory.choices]
        self.fields["channel"].choices = [("", "any number")] + [
            (str(c.pk), c.name) for c in Channel.objects.order_by("name")
        ]

    def filters(self) -> dict[str, str]:
        if not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v}


# --- The template builder (README "Template builder") -----------------------------------------

NO_HEADER = ""
MEDIA_HEADER_LABELS = (("IMAGE", "Images"), ("VIDEO", "Videos"), ("DOCUMENT", "Documents"))
OPT_OUT = "MARKETING_OPT_OUT"
BUTTON_CHOICES = [
    ("", "—"),
    ("QUICK_REPLY", "Quick reply"),
    (OPT_OUT, "Marketing opt-out"),
    ("URL", "Website (URL)"),
    ("PHONE_NUMBER", "Call a number"),
    ("COPY_CODE", "Copy offer code"),
]
MAX_BUTTON_ROWS = 10


class TemplateBuilderForm(forms.Form):
    """Every part of a template as separate fields; `definition()` turns them into Meta's
    components. Meta's rules are checked by the services (`template_rules`), whose problems
    `add_rule_errors` puts back on the field each one names."""

    channel = forms.ModelChoiceField(
        queryset=Channel.objects.none(), label="Number", empty_label=None,
        help_text="The WhatsApp number (and its business account) the template belongs to.",
    )  # fmt: skip
    name = forms.CharField(
        max_length=512,
        help_text="Lower-case letters, digits and underscores, e.g. order_update.",
    )
    language = forms.CharField(
        max_length=16, initial="en", help_text="Meta's language code: en, en_US, hi, pt_BR, ..."
    )
    category = forms.ChoiceField(
        choices=[
            (TemplateCategory.UTILITY, "Utility: about an order, account or request"),
            (TemplateCategory.MARKETING, "Marketing: offers, news, invitations"),
        ],
        help_text="Meta may re-categorise it; authentication templates are made in WhatsApp "
        "Manager.",
    )
    header_format = forms.ChoiceField(
        required=False,
        label="Header",
        choices=[
            (NO_HEADER, "No header"),
            ("TEXT", "Text"),
            ("IMAGE", "Image"),
            ("VIDEO", "Video"),
            ("DOCUMENT", "Document"),
            ("LOCATION", "Location"),
        ],
    )
    header_text = forms.CharField(
        required=False, max_length=200, label="Header text",
        help_text="Up to 60 characters and at most one variable, e.g. Order {{1}}.",
    )  # fmt: skip
    header_example = forms.CharField(
        required=False, max_length=200, label="Header variable example",
        help_text="What the header's variable stands for in Meta's review, e.g. #40321.",
    )  # fmt: skip
    header_asset = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Library file",
        help_text="For an image, video or document header: the sample Meta reviews, from the "
        "media library (uploaded to Meta when the template is submitted).",
    )  # fmt: skip
    header_handle = forms.CharField(
        required=False, max_length=500, label="Or: media example handle (advanced)",
        help_text="Instead of a library file: a handle Meta returned for a sample file you "
        "uploaded yourself (Resumable Upload API), e.g. 4::aW1h...",
    )  # fmt: skip
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=2000,
        help_text="Up to 1,024 characters. Variables: {{1}}, {{2}}, ... in order, or named "
        "like {{first_name}} (not both). Not at the very start or end.",
    )
    body_examples = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Body variable examples",
        help_text="One per line, in the order the variables first appear.",
    )
    footer = forms.CharField(
        required=False, max_length=200, help_text="Up to 60 characters, no variables."
    )

    def __init__(self, *args, channels=None, locked: bool = False, existing=False, **kwargs):
        super().__init__(*args, **kwargs)
        if existing:  # a template stays on its number
            self.fields["channel"].disabled = True
        self.fields["channel"].queryset = (
            channels if channels is not None else Channel.objects.none()
        )
        self.header_source = header_example_source()
        if self.header_source is None:  # no library: a pasted handle only
            del self.fields["header_asset"]
        else:
            self.fields["header_asset"].choices = [("", "—")] + [
                (label, self.header_source.choices(header_format))
                for header_format, label in MEDIA_HEADER_LABELS
            ]
        self.locked = locked
        if locked:  # submitted: Meta fixes the name, language and number
            for name in ("channel", "name", "language"):
                self.fields[name].disabled = True

    def clean(self):
        data = super().clean()
        header_format = data.get("header_format")
        if header_format not in MEDIA_HEADER_FORMATS or "header_asset" not in self.fields:
            data["header_asset"] = None
            return data
        asset_id, handle = data.get("header_asset"), (data.get("header_handle") or "").strip()
        if "header_asset" in self.errors:  # not a file of the list: already said
            return data
        if asset_id is not None and handle:
            self.add_error("header_asset", "Choose a library file or paste a handle, not both.")
        elif asset_id is None and not handle:
            self.add_error(
                "header_asset",
                f"Choose the {header_format.lower()} Meta reviews as the example (or paste a "
                "handle below).",
            )
        elif asset_id is not None:
            problem = self.header_source.problem(asset_id, header_format)
            if problem:
                self.add_error("header_asset", problem)
        return data

    def body_names(self) -> list[str]:
        return list(dict.fromkeys(placeholders(self.cleaned_data.get("body", ""))))


class TemplateButtonForm(forms.Form):
    type = forms.ChoiceField(choices=BUTTON_CHOICES, required=False, label="Button")
    text = forms.CharField(required=False, max_length=100, label="Label")
    value = forms.CharField(
        required=False, max_length=2000, label="URL, number or code",
        help_text="The web address (may end with {{1}}), phone number (+91...) or offer code.",
    )  # fmt: skip
    example = forms.CharField(
        required=False, max_length=2000, label="URL example",
        help_text="For a URL ending in {{1}}: a full example address.",
    )  # fmt: skip


def button_formset(*, data=None, initial=None) -> forms.BaseFormSet:
    """The button rows: the template's buttons, then empty rows up to ten."""
    initial = list(initial or [])
    formset_class = forms.formset_factory(
        TemplateButtonForm,
        extra=max(0, MAX_BUTTON_ROWS - len(initial)),
        max_num=MAX_BUTTON_ROWS,
        absolute_max=MAX_BUTTON_ROWS,
    )
    return formset_class(data=data, initial=initial, prefix="buttons")


def builder_initial(template) -> tuple[dict, list[dict]]:
    """The builder's fields and button rows for an existing template."""
    initial: dict = {
        "channel": template.channel_id,
        "name": template.name,
        "language": template.language,
        "category": template.category,
    }
    named = (template.parameter_format or "").lower() == "named"
    opt_out = {str(b.get("index")) for b in template.opt_out_buttons or ()}
    rows: list[dict] = []
    for component in template.components or ():
        kind = str(component.get("type", "")).upper()
        example = component.get("example") or {}
        if kind == "HEADER":
            initial["header_format"] = str(component.get("format") or "TEXT").upper()
            initial["header_text"] = component.get("text", "")
            values = _example_values(example, "header", named)
            initial["header_example"] = values[0] if values else ""
            handles = example.get("header_handle") or []
            initial["header_handle"] = handles[0] if handles else ""
            assets = example.get("header_asset") or []
            initial["header_asset"] = assets[0] if assets else None
        elif kind == "BODY":
            initial["body"] = component.get("text", "")
            initial["body_examples"] = "\n".join(_example_values(example, "body", named))
        elif kind == "FOOTER":
            initial["footer"] = component.get("text", "")
        elif kind == "BUTTONS":
            for index, button in enumerate(component.get("buttons") or ()):
                rows.append(_button_row(index, button, opt_out))
    return initial, rows


def _example_values(example: dict, kind: str, named: bool) -> list[str]:
    if named:
        return [str(i.get("example", "")) for i in example.get(f"{kind}_text_named_params") or ()]
    values = example.get(f"{kind}_text") or []
    values = values if isinstance(values, list) else []
    if kind == "body" and values and isinstance(values[0], list):
        values = values[0]
    return [str(v) for v in values]


def _button_row(index: int, button: dict, opt_out: set[str]) -> dict:
    kind = str(button.get("type", "")).upper()
    example = button.get("example")
    example = example[0] if isinstance(example, list) and example else example or ""
    row = {"type": kind, "text": button.get("text", ""), "value": "", "example": ""}
    if kind == "QUICK_REPLY" and str(index) in opt_out:
        row["type"] = OPT_OUT
    elif kind == "URL":
        row.update(value=button.get("url", ""), example=example)
    elif kind == "PHONE_NUMBER":
        row["value"] = button.get("phone_number", "")
    elif kind == "COPY_CODE":
        row.update(value=example, text="")
    return row


class TemplateBuilder:
    """The builder form and its button rows together: validation, Meta's components, and
    the rule problems put back on the fields they name."""

    def __init__(self, *, data=None, template=None, channels=None, opt_out_label: str = ""):
        initial, rows = builder_initial(template) if template is not None else ({}, [])
        if template is not None:  # its own number, even if it has since been turned off
            channels = Channel.objects.filter(pk=template.channel_id)
        self.template = template
        self.locked = template is not None and template.at_provider
        self.opt_out_label = opt_out_label
        self.form = TemplateBuilderForm(
            data=data, initial=initial, channels=channels, locked=self.locked,
            existing=template is not None,
        )  # fmt: skip
        self.buttons = button_formset(data=data, initial=rows)
        self.row_of_button: list[int] = []  # component button index -> row index
        self.button_errors: list[str] = []

    def is_valid(self) -> bool:
        ok = self.form.is_valid() & self.buttons.is_valid()
        if ok:
            category = self.form.cleaned_data["category"]
            for form in self.buttons.forms:
                if form.cleaned_data.get("type") == OPT_OUT and category != "MARKETING":
                    form.add_error("type", "A marketing opt-out button is for MARKETING templates.")
                    ok = False
        return ok

    def definition(self) -> dict:
        data = self.form.cleaned_data
        components: list[dict] = []
        header_format = data.get("header_format") or NO_HEADER
        named = any(not n.isdigit() for n in placeholders(data["body"] + data["header_text"]))
        if header_format == "TEXT":
            header: dict = {"type": "HEADER", "format": "TEXT", "text": data["header_text"]}
            names = list(dict.fromkeys(placeholders(data["header_text"])))
            if names:
                value = data["header_example"].strip()
                header["example"] = (
                    {"header_text_named_params": [{"param_name": names[0], "example": value}]}
                    if named
                    else {"header_text": [value]}
                )
            components.append(header)
        elif header_format:
            header = {"type": "HEADER", "format": header_format}
            if data.get("header_asset") is not None:  # resolved to a handle at submission
                header["example"] = {"header_asset": [data["header_asset"]]}
            elif data["header_handle"].strip():
                header["example"] = {"header_handle": [data["header_handle"].strip()]}
            components.append(header)
        body: dict = {"type": "BODY", "text": data["body"]}
        names = self.form.body_names()
        if names:
            values = [line.strip() for line in data["body_examples"].splitlines() if line.strip()]
            if named:
                body["example"] = {
                    "body_text_named_params": [
                        {"param_name": name, "example": values[i] if i < len(values) else ""}
                        for i, name in enumerate(names)
                    ]
                }
            else:
                body["example"] = {"body_text": [values]}
        components.append(body)
        if data["footer"].strip():
            components.append({"type": "FOOTER", "text": data["footer"]})
        buttons = []
        self.row_of_button = []
        for row, form in enumerate(self.buttons.forms):
            button = self._button(form.cleaned_data)
            if button is not None:
                buttons.append(button)
                self.row_of_button.append(row)
        if buttons:
            components.append({"type": "BUTTONS", "buttons": buttons})
        return {
            "channel": data.get("channel") or (self.template.channel if self.template else None),
            "name": data.get("name") or (self.template.name if self.template else ""),
            "language": data.get("language") or (self.template.language if self.template else ""),
            "category": data["category"],
            "components": components,
            "parameter_format": "NAMED" if named else "POSITIONAL",
        }

    def _button(self, row: dict) -> dict | None:
        kind = row.get("type") or ""
        text, value, example = (
            (row.get("text") or "").strip(),
            (row.get("value") or "").strip(),
            (row.get("example") or "").strip(),
        )
        if kind == OPT_OUT:
            return {"type": "QUICK_REPLY", "text": text or self.opt_out_label}
        if kind == "QUICK_REPLY":
            return {"type": kind, "text": text}
        if kind == "URL":
            button = {"type": kind, "text": text, "url": value}
            if example:
                button["example"] = [example]
            return button
        if kind == "PHONE_NUMBER":
            return {"type": kind, "text": text, "phone_number": value}
        if kind == "COPY_CODE":
            return {"type": kind, "example": value}
        return None

    FIELD_OF = {
        "name": "name", "language": "language", "category": "category",
        "header.format": "header_format", "header.text": "header_text",
        "header.example": "header_example", "header": "header_format",
        "body.text": "body", "body.example": "body_examples", "body": "body",
        "footer.text": "footer", "footer": "footer",
    }  # fmt: skip

    def add_rule_errors(self, details: dict[str, list[str]]) -> None:
        """Put each problem on the field (or button row) it names."""
        header_format = self.form.cleaned_data.get("header_format")
        for key, messages in details.items():
            for message in messages:
                self._add(key, message, header_format)

    def _add(self, key: str, message: str, header_format: str | None) -> None:
        if key == "header.example" and header_format not in ("TEXT", None, ""):
            used_library = self.form.cleaned_data.get("header_asset") is not None
            self.form.add_error("header_asset" if used_library else "header_handle", message)
            return
        if key in self.FIELD_OF:
            field = self.FIELD_OF[key]
            if self.form.fields[field].disabled:
                self.form.add_error(None, message)
            else:
                self.form.add_error(field, message)
            return
        parts = key.split(".")
        if parts[0] == "buttons" and len(parts) == 3 and parts[1].isdigit():
            index = int(parts[1])
            if index < len(self.row_of_button):
                form = self.buttons.forms[self.row_of_button[index]]
                kind = form.cleaned_data.get("type")
                field = {"text": "text", "type": "type", "url": "value",
                         "phone_number": "value"}.get(parts[2])  # fmt: skip
                if parts[2] == "example":
                    field = "example" if kind == "URL" else "value"
                form.add_error(field or None, message)
                return
        if parts[0] == "buttons":
            self.button_errors.append(message)
            return
        self.form.add_error(None, message)
