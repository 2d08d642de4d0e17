"""Staff page forms. They validate and shape input; the writes are services."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from crm.models import (
    AdvisorTier,
    AttributeDefinition,
    AttributeType,
    Consent,
    Contact,
    Segment,
    Tag,
)
from crm.segment_filters import OPERATORS, segment_filter_clean
from crm.services.advisors import content_preferences_clean
from crm.services.contacts import tag_names_clean

YES_NO = [("", "Any"), ("yes", "Yes"), ("no", "No")]
ATTRIBUTE_ROWS = 3


def _yes_no(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


class ContactFilterForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=100)
    tag = forms.CharField(required=False, max_length=64)
    consent = forms.ChoiceField(choices=[("", "Any"), *Consent.choices], required=False)
    blocked = forms.ChoiceField(choices=YES_NO, required=False)
    advisor = forms.ChoiceField(choices=YES_NO, required=False)
    segment = forms.ModelChoiceField(queryset=Segment.objects.all(), required=False)

    def search_kwargs(self) -> dict:
        data = self.cleaned_data if self.is_valid() else {}
        return {
            "search": data.get("q") or "",
            "tag": data.get("tag") or "",
            "consent": data.get("consent") or "",
            "blocked": _yes_no(data.get("blocked")),
            "advisor": _yes_no(data.get("advisor")),
            "segment": data.get("segment"),
        }


class TagsField(forms.CharField):
    """Tags typed as `vip; newsletter` (or `|`-separated)."""

    def to_python(self, value):
        try:
            return tag_names_clean(super().to_python(value))
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return "; ".join(value)
        return value


def attribute_form_field(definition: AttributeDefinition) -> forms.Field:
    common = {"label": definition.label or definition.key, "required": False,
              "help_text": definition.help_text}  # fmt: skip
    if definition.type == AttributeType.NUMBER:
        return forms.FloatField(**common)
    if definition.type == AttributeType.DATE:
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if definition.type == AttributeType.BOOLEAN:
        return forms.NullBooleanField(widget=forms.NullBooleanSelect, **common)
    if definition.type == AttributeType.CHOICE:
        choices = [("", "—"), *((c, c) for c in definition.choices or [])]
        return forms.ChoiceField(choices=choices, **common)
    return forms.CharField(max_length=500, **common)


class ContactForm(forms.Form):
    """Create or edit a contact's details (not consent, not blocking: they have their own)."""

    phone = forms.CharField(max_length=32, required=False, help_text="E.164 or national.")
    name = forms.CharField(max_length=200, required=False)
    language = forms.CharField(max_length=16, required=False, help_text="e.g. en, hi, en_US")
    tags = TagsField(required=False, help_text="Separated by ; or |")
    pinned = forms.BooleanField(required=False)

    def __init__(self, *args, contact: Contact | None = None, **kwargs):
        self.definitions = list(AttributeDefinition.objects.order_by("key"))
        if contact is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "phone": contact.phone, "name": contact.name, "language": contact.language,
                "tags": [t.name for t in contact.tags.all()], "pinned": contact.pinned,
                **{f"attr_{k}": v for k, v in (contact.attributes or {}).items()},
            }  # fmt: skip
        super().__init__(*args, **kwargs)
        for definition in self.definitions:
            self.fields[f"attr_{definition.key}"] = attribute_form_field(definition)

    def attribute_fields(self):
        return [self[f"attr_{d.key}"] for d in self.definitions]

    def attributes(self) -> dict:
        values = {}
        for definition in self.definitions:
            value = self.cleaned_data.get(f"attr_{definition.key}")
            if value not in (None, ""):
                values[definition.key] = value
        return values


class ConsentForm(forms.Form):
    consent = forms.ChoiceField(choices=Consent.choices)
    note = forms.CharField(
        label="Reason", max_length=500, help_text="Why, e.g. 'asked by phone on 3 Nov'."
    )


class MergeForm(forms.Form):
    duplicate = forms.CharField(
        label="Duplicate contact", max_length=32, help_text="Its phone number or contact id."
    )


class EraseForm(forms.Form):
    """Erasure is irreversible: the person typing ERASE is the confirmation."""

    confirm = forms.CharField(
        label="Type ERASE to confirm", max_length=10, help_text="This cannot be undone."
    )

    def clean_confirm(self):
        value = self.cleaned_data["confirm"].strip()
        if value != "ERASE":
            raise forms.ValidationError("Type ERASE, in capitals, to confirm.")
        return value


class SegmentForm(forms.Form):
    """A structured editor for `Segment.filter` (validated by `segment_filter_clean`)."""

    name = forms.CharField(max_length=100)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    tags_any = forms.ModelMultipleChoiceField(
        Tag.objects.all(), to_field_name="name", required=False, label="Tagged with any of"
    )
    tags_all = forms.ModelMultipleChoiceField(
        Tag.objects.all(), to_field_name="name", required=False, label="Tagged with all of"
    )
    tags_none = forms.ModelMultipleChoiceField(
        Tag.objects.all(), to_field_name="name", required=False, label="Tagged with none of"
    )
    consent = forms.MultipleChoiceField(
        choices=Consent.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    active_within_days = forms.IntegerField(
        min_value=1, max_value=3650, required=False, label="Wrote to us within (days)"
    )
    advisors_only = forms.BooleanField(required=False, label="Active advisors only")
    advisor_tiers = forms.MultipleChoiceField(
        choices=AdvisorTier.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    advisor_regions = forms.CharField(required=False, help_text="Separated by ;")
    channel = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)

    def __init__(self, *args, segment: Segment | None = None, channels=(), **kwargs):
        if segment is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_from(segment)
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [("", "Any channel"), *channels]
        keys = [("", "—"), *AttributeDefinition.objects.values_list("key", "key")]
        for i in range(ATTRIBUTE_ROWS):
            self.fields[f"attr_{i}_key"] = forms.ChoiceField(
                choices=keys, required=False, label="Attribute"
            )
            self.fields[f"attr_{i}_op"] = forms.ChoiceField(
                choices=list(OPERATORS.items()), required=False, label="Operator"
            )
            self.fields[f"attr_{i}_value"] = forms.CharField(
                required=False, max_length=200, label="Value"
            )

    @staticmethod
    def initial_from(segment: Segment) -> dict:
        f = segment.filter or {}
        tags = f.get("tags") or {}
        initial = {
            "name": segment.name, "description": segment.description,
            "tags_any": tags.get("any", []), "tags_all": tags.get("all", []),
            "tags_none": tags.get("none", []), "consent": f.get("consent", []),
            "active_within_days": f.get("active_within_days"),
            "advisors_only": f.get("advisors_only", False),
            "advisor_tiers": f.get("advisor_tiers", []),
            "advisor_regions": "; ".join(f.get("advisor_regions", [])),
            "channel": f.get("channel"),
        }  # fmt: skip
        for i, condition in enumerate((f.get("attributes") or [])[:ATTRIBUTE_ROWS]):
            initial[f"attr_{i}_key"] = condition["key"]
            initial[f"attr_{i}_op"] = condition["op"]
            initial[f"attr_{i}_value"] = condition["value"]
        return initial

    def attribute_rows(self):
        return [
            (self[f"attr_{i}_key"], self[f"attr_{i}_op"], self[f"attr_{i}_value"])
            for i in range(ATTRIBUTE_ROWS)
        ]

    def clean(self):
        data = super().clean()
        raw = {
            "tags": {
                "any": [t.name for t in data.get("tags_any") or []],
                "all": [t.name for t in data.get("tags_all") or []],
                "none": [t.name for t in data.get("tags_none") or []],
            },
            "consent": data.get("consent") or [],
            "active_within_days": data.get("active_within_days"),
            "advisors_only": bool(data.get("advisors_only")),
            "advisor_tiers": data.get("advisor_tiers") or [],
            "advisor_regions": [
                r.strip() for r in (data.get("advisor_regions") or "").split(";") if r.strip()
            ],
            "channel": data.get("channel"),
            "attributes": [
                {
                    "key": data[f"attr_{i}_key"],
                    "op": data.get(f"attr_{i}_op") or "eq",
                    "value": data.get(f"attr_{i}_value", ""),
                }
                for i in range(ATTRIBUTE_ROWS)
                if data.get(f"attr_{i}_key")
            ],
        }
        try:
            data["filter"] = segment_filter_clean(raw)
        except ValidationError as exc:
            for part, messages in exc.message_dict.items():
                for message in messages:
                    self.add_error(None, f"{part}: {message}")
        return data


class AdvisorCreateForm(forms.Form):
    phone = forms.CharField(max_length=32, help_text="The advisor's WhatsApp number.")
    name = forms.CharField(max_length=200, required=False)
    firm = forms.CharField(max_length=200, required=False)
    region = forms.CharField(max_length=100, required=False)
    tier = forms.ChoiceField(choices=AdvisorTier.choices, initial=AdvisorTier.BRONZE)
    content_preferences = forms.CharField(
        required=False, help_text="Categories separated by ; (e.g. markets; tax)"
    )
    onboarded_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean_content_preferences(self):
        try:
            return content_preferences_clean(self.cleaned_data.get("content_preferences"))
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class AdvisorEditForm(AdvisorCreateForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["phone"]
        del self.fields["name"]


class AdvisorDisableForm(forms.Form):
    reason = forms.CharField(max_length=300, help_text="Why content stops, e.g. 'left the firm'.")


class AdvisorFilterForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=100)
    region = forms.ChoiceField(required=False)
    tier = forms.ChoiceField(choices=[("", "Any"), *AdvisorTier.choices], required=False)
    active = forms.ChoiceField(choices=YES_NO, required=False)

    def __init__(self, *args, regions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = [("", "Any"), *((r, r) for r in regions)]

    def search_kwargs(self) -> dict:
        data = self.cleaned_data if self.is_valid() else {}
        return {
            "search": data.get("q") or "",
            "region": data.get("region") or "",
            "tier": data.get("tier") or "",
            "active": _yes_no(data.get("active")),
        }


class ImportForm(forms.Form):
    file = forms.FileField(help_text="CSV (UTF-8, header row with a phone column), JSON or JSONL.")
    dry_run = forms.BooleanField(
        required=False, initial=True, help_text="Check the file and count changes; write nothing."
    )
    as_advisors = forms.BooleanField(
        required=False, label="Import as advisors", help_text="Uses firm, region, tier columns."
    )


class StaffProfileForm(forms.Form):
    """The staff member's own number; `crm.services.staff_phone_set` checks and saves it."""

    phone = forms.CharField(
        label="My WhatsApp number",
        required=False,
        max_length=32,
        help_text="Campaign tests go here. Any format; national numbers are read in the "
        "business's default region. Leave empty to remove it.",
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    consent = forms.BooleanField(
        label="I agree to receive test messages, marketing ones included, on this number",
        required=False,
    )
