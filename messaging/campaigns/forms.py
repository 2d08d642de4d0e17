from zoneinfo import ZoneInfo, available_timezones

from django import forms
from django.forms.models import model_to_dict
from django.utils import timezone

from crm.models import Segment, Tag
from messaging.campaigns.models import Campaign
from messaging.campaigns.selectors import CONTACT_FIELDS
from messaging.channels.models import MessageTemplate
from messaging.channels.selectors import channels_active, templates_sendable

SOURCES = [("field", "Contact field"), ("attribute", "Contact attribute"), ("constant", "Text")]
TIMEZONES = sorted(available_timezones())


def _model_field(name: str, **kwargs) -> forms.Field:
    """The form field Campaign's model field asks for (label, limits, help text)."""
    return Campaign._meta.get_field(name).formfield(**kwargs)


class CampaignForm(forms.Form):
    """Checks a campaign's settings; `messaging.campaigns.services` creates and edits it.

    A plain form, not a ModelForm: it never saves, and never touches the campaign it edits.
    """

    name = _model_field("name")
    description = _model_field("description", widget=forms.Textarea(attrs={"rows": 3}))
    channel = _model_field("channel")
    template = _model_field("template")
    segment = _model_field("segment")
    tags = forms.ModelMultipleChoiceField(
        queryset=Tag.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )
    tags_match = _model_field("tags_match")
    throttle_mps = _model_field("throttle_mps")
    spread_over_budget = _model_field("spread_over_budget", required=False)
    schedule_timezone = forms.ChoiceField(
        choices=[(tz, tz) for tz in TIMEZONES],
        initial=Campaign._meta.get_field("schedule_timezone").default,
    )

    def __init__(self, *args, campaign: Campaign | None = None, **kwargs):
        if campaign is not None:
            kwargs.setdefault("initial", model_to_dict(campaign, fields=list(self.base_fields)))
        super().__init__(*args, **kwargs)
        self.fields["channel"].queryset = channels_active()
        self.fields["template"].queryset = templates_sendable()
        self.fields["template"].required = True
        self.fields["segment"].queryset = Segment.objects.all()

    def clean(self):
        data = super().clean()
        if not data.get("segment") and not data.get("tags"):
            self.add_error("segment", "Choose a segment or at least one tag.")
        return data


class ParameterMappingForm(forms.Form):
    """One source/value pair per template parameter, built from the template's definition."""

    def __init__(self, *args, template: MessageTemplate, mapping: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.template = template
        self.slots = []
        declared = template.parameters or {}
        for part in ("header", "body"):
            for i, name in enumerate(declared.get(part) or []):
                item = ((mapping.get(part) or [])[i : i + 1] or [{}])[0]
                self._add(f"{part}_{i}", f"{part.title()} {{{{{name}}}}}", item, part, name)
        for index, names in (declared.get("buttons") or {}).items():
            item = (mapping.get("buttons") or {}).get(str(index)) or {}
            self._add(
                f"button_{index}",
                f"Button {index} URL {{{{{names[0] if names else 1}}}}}",
                item,
                "buttons",
                str(index),
            )
        header = next(
            (c for c in template.components if str(c.get("type", "")).upper() == "HEADER"), {}
        )
        self.needs_media = str(header.get("format", "")).upper() in {"IMAGE", "VIDEO", "DOCUMENT"}
        if self.needs_media:
            self.fields["header_media_link"] = forms.URLField(
                label="Header media link",
                initial=mapping.get("header_media_link", ""),
                assume_scheme="https",
                help_text="A public http(s) URL; private and loopback addresses are refused.",
            )

    def _add(self, key, label, item, part, name):
        self.fields[f"{key}_source"] = forms.ChoiceField(
            choices=SOURCES, initial=item.get("source", "field"), label=f"{label}: source"
        )
        self.fields[f"{key}_value"] = forms.CharField(
            initial=item.get("value", ""),
            label=f"{label}: value",
            max_length=500,
            help_text=f"Fields: {', '.join(CONTACT_FIELDS)}; or an attribute key; or text.",
        )
        self.slots.append((key, part, name, label))

    def rows(self):
        return [
            (label, self[f"{key}_source"], self[f"{key}_value"]) for key, _, _, label in self.slots
        ]

    def mapping(self) -> dict:
        data = self.cleaned_data
        result: dict = {"header": [], "body": [], "buttons": {}}
        named = (self.template.parameter_format or "") == "named"
        for key, part, name, _ in self.slots:
            item = {"source": data[f"{key}_source"], "value": data[f"{key}_value"].strip()}
            if part == "buttons":
                result["buttons"][name] = item
            else:
                if named:
                    item["name"] = name
                result[part].append(item)
        if self.needs_media:
            result["header_media_link"] = data["header_media_link"]
        return result


class ScheduleForm(forms.Form):
    scheduled_at = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="In the campaign's time zone.",
    )

    def __init__(self, *args, tz_name: str = "UTC", **kwargs):
        super().__init__(*args, **kwargs)
        self.tz_name = tz_name

    def clean_scheduled_at(self):
        value = self.cleaned_data["scheduled_at"]
        if timezone.is_aware(value):
            value = timezone.make_naive(value)
        return value.replace(tzinfo=ZoneInfo(self.tz_name))
