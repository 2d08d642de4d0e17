from zoneinfo import available_timezones

from django import forms
from django.utils import timezone

from crm.models import Segment, Tag
from messaging.campaigns.services import CONTACT_FIELDS
from messaging.channels.selectors import channels_active, templates_sendable
from messaging.models import Campaign, MessageTemplate

SOURCES = [("field", "Contact field"), ("attribute", "Contact attribute"), ("constant", "Text")]
TIMEZONES = sorted(available_timezones())


class CampaignForm(forms.ModelForm):
    tags = forms.ModelMultipleChoiceField(
        queryset=Tag.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )
    schedule_timezone = forms.ChoiceField(choices=[(tz, tz) for tz in TIMEZONES])

    class Meta:
        model = Campaign
        fields = [
            "name",
            "description",
            "channel",
            "template",
            "segment",
            "tags",
            "tags_match",
            "throttle_mps",
            "cost_per_message",
            "currency",
            "schedule_timezone",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].queryset = channels_active()
        self.fields["template"].queryset = templates_sendable()
        self.fields["template"].required = True
        self.fields["segment"].queryset = Segment.objects.all()

    def clean(self):
        data = super().clean()
        template, channel = data.get("template"), data.get("channel")
        if template and channel and template.channel_id != channel.pk:
            self.add_error("template", "This template belongs to another channel.")
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
                label="Header media link", initial=mapping.get("header_media_link", "")
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
        from zoneinfo import ZoneInfo

        value = self.cleaned_data["scheduled_at"]
        if timezone.is_aware(value):
            value = timezone.make_naive(value)
        return value.replace(tzinfo=ZoneInfo(self.tz_name))
