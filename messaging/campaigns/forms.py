from zoneinfo import ZoneInfo, available_timezones

from django import forms
from django.conf import settings
from django.forms.models import model_to_dict
from django.utils import timezone

from crm.models import Segment, Tag
from messaging.campaigns.mapping import (
    ATTRIBUTE,
    CONSTANT,
    CONTACT_FIELDS,
    FIELD,
    SOURCES,
    Slot,
    mapping_item,
    mapping_slots,
    needs_media_link,
)
from messaging.campaigns.models import Campaign, business_time_zone
from messaging.channels.models import MessageTemplate
from messaging.channels.selectors import channels_active, templates_sendable
from messaging.media.content import asset_ref_id
from messaging.media.selectors import media_assets_of_kind
from messaging.sending.policy import template_header_format

VALUE_MAX = 500
# Offered first in the schedule's time zone list (after the business's own): where most
# businesses on WhatsApp run. The full list follows, alphabetically.
COMMON_TIMEZONES = (
    "Asia/Kolkata", "UTC", "Asia/Dubai", "Asia/Singapore", "Asia/Jakarta", "Asia/Karachi",
    "Asia/Dhaka", "Asia/Riyadh", "Africa/Lagos", "Africa/Nairobi", "Africa/Johannesburg",
    "Europe/London", "Europe/Berlin", "America/Sao_Paulo", "America/Mexico_City",
    "America/New_York", "America/Los_Angeles", "Australia/Sydney",
)  # fmt: skip


def timezone_choices() -> list:
    """The business's time zone and the common ones first, then every zone (grouped)."""
    zones = sorted(available_timezones() | {"UTC"})
    first = list(dict.fromkeys([settings.TIME_ZONE, *COMMON_TIMEZONES]))
    first = [tz for tz in first if tz in zones]
    return [
        ("Common", [(tz, tz.replace("_", " ")) for tz in first]),
        ("All time zones", [(tz, tz.replace("_", " ")) for tz in zones if tz not in first]),
    ]


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
        label="Schedule time zone",
        choices=timezone_choices,
        help_text="A scheduled time is read in this zone; the business's own comes first.",
    )

    def __init__(self, *args, campaign: Campaign | None = None, **kwargs):
        if campaign is not None:
            kwargs.setdefault("initial", model_to_dict(campaign, fields=list(self.base_fields)))
        super().__init__(*args, **kwargs)
        self.fields["schedule_timezone"].initial = business_time_zone()
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
    """Where each template variable gets its value: a contact field, a contact attribute or
    fixed text, picked from lists (`messaging.campaigns.mapping`), with a fallback for
    contacts who have no value.

    Four fields per variable (`<slot>_source`, `_field`, `_attribute`, `_text`) and its
    `_fallback`; the page shows the one its source needs. What the stored mapping holds
    beyond these (tracked links, quick-reply payloads) is kept as it was.
    """

    def __init__(self, *args, template: MessageTemplate, mapping: dict, attributes=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.template = template
        self.stored = mapping if isinstance(mapping, dict) else {}
        self.slots = mapping_slots(template)
        attribute_choices = list(attributes if attributes is not None else [])
        known = {key for key, _ in attribute_choices}
        for slot in self.slots:  # a key mapped before its definition went: keep it choosable
            item = mapping_item(self.stored, slot)
            key = str(item.get("value", ""))
            if item.get("source") == ATTRIBUTE and key and key not in known:
                attribute_choices.append((key, f"{key} (not a defined attribute)"))
                known.add(key)
        self.attribute_choices = attribute_choices
        for slot in self.slots:
            self._add(slot, mapping_item(self.stored, slot))
        self.needs_media = needs_media_link(template)
        if self.needs_media:
            kind = template_header_format(template).lower()
            self.fields["header_media_asset"] = forms.ModelChoiceField(
                label=f"Header {kind} from the media library",
                queryset=media_assets_of_kind(kind),
                initial=asset_ref_id(self.stored.get("header_media_asset")),
                required=False,
                empty_label="None: use the link below",
                help_text="Uploaded to WhatsApp once and reused for every recipient.",
            )
            self.fields["header_media_link"] = forms.URLField(
                label="Header media link",
                initial=self.stored.get("header_media_link", ""),
                assume_scheme="https",
                max_length=2048,
                required=False,
                help_text="Or a public http(s) URL; private and loopback addresses are refused.",
            )

    def _add(self, slot: Slot, item: dict) -> None:
        source = item.get("source") if item.get("source") in dict(SOURCES) else FIELD
        value = str(item.get("value", ""))
        key = slot.key
        self.fields[f"{key}_source"] = forms.ChoiceField(
            label="Value from", choices=SOURCES, initial=source,
            widget=forms.Select(attrs={"data-mapping-source": key}),
        )  # fmt: skip
        self.fields[f"{key}_field"] = forms.ChoiceField(
            label="Contact field", required=False,
            choices=[("", "Choose a field"), *CONTACT_FIELDS.items()],
            initial=value if source == FIELD else "",
        )  # fmt: skip
        self.fields[f"{key}_attribute"] = forms.ChoiceField(
            label="Contact attribute", required=False,
            choices=[("", "Choose an attribute"), *self.attribute_choices],
            initial=value if source == ATTRIBUTE else "",
        )  # fmt: skip
        self.fields[f"{key}_text"] = forms.CharField(
            label="Text", required=False, max_length=VALUE_MAX,
            initial=value if source == CONSTANT else "",
        )  # fmt: skip
        self.fields[f"{key}_fallback"] = forms.CharField(
            label="If the contact has none", required=False, max_length=VALUE_MAX,
            initial=str(item.get("fallback", "")) if source != CONSTANT else "",
            help_text="Sent instead when the contact's value is empty.",
            widget=forms.TextInput(attrs={"placeholder": "e.g. there"}),
        )  # fmt: skip

    def rows(self) -> list[dict]:
        """One row per variable for the template: its label and its bound fields."""
        return [
            {
                "slot": slot,
                "source": self[f"{slot.key}_source"],
                "field": self[f"{slot.key}_field"],
                "attribute": self[f"{slot.key}_attribute"],
                "text": self[f"{slot.key}_text"],
                "fallback": self[f"{slot.key}_fallback"],
            }
            for slot in self.slots
        ]

    def clean(self):
        data = super().clean()
        for slot in self.slots:
            source = data.get(f"{slot.key}_source")
            if source == FIELD and not data.get(f"{slot.key}_field"):
                self.add_error(f"{slot.key}_field", f"Choose the contact field for {slot.label}.")
            elif source == ATTRIBUTE and not data.get(f"{slot.key}_attribute"):
                self.add_error(
                    f"{slot.key}_attribute", f"Choose the contact attribute for {slot.label}."
                )
            elif source == CONSTANT and not (data.get(f"{slot.key}_text") or "").strip():
                self.add_error(f"{slot.key}_text", f"Give the text for {slot.label}.")
        if self.needs_media and not (
            data.get("header_media_asset") or data.get("header_media_link")
        ):
            self.add_error("header_media_asset", "Choose a library file or give a media link.")
        return data

    def _item(self, slot: Slot, data: dict) -> dict | None:
        source = data.get(f"{slot.key}_source")
        value = {
            FIELD: data.get(f"{slot.key}_field"),
            ATTRIBUTE: data.get(f"{slot.key}_attribute"),
            CONSTANT: (data.get(f"{slot.key}_text") or "").strip(),
        }.get(source)
        if not value:
            return None
        stored = mapping_item(self.stored, slot)
        item: dict = {"source": source, "value": value}
        fallback = (data.get(f"{slot.key}_fallback") or "").strip()
        if source != CONSTANT and fallback:
            item["fallback"] = fallback
        if slot.part != "buttons" and (self.template.parameter_format or "") == "named":
            item["name"] = slot.name
        if stored.get("track"):
            item["track"] = True
        return item

    def _build(self, data: dict, *, placeholders: bool) -> dict:
        result: dict = {
            key: value
            for key, value in self.stored.items()
            if key not in ("header", "body", "buttons", "header_media_link", "header_media_asset")
        }
        result.update({"header": [], "body": [], "buttons": {}})
        for slot in self.slots:
            item = self._item(slot, data)
            if item is None:
                if not placeholders:
                    continue
                item = {"source": CONSTANT, "value": f"{{{{{slot.name}}}}}"}
            if slot.part == "buttons":
                result["buttons"][str(slot.index)] = item
            else:
                result[slot.part].append(item)
        asset = data.get("header_media_asset")
        link = data.get("header_media_link")
        if self.is_bound and not (asset or link):  # nothing chosen yet: keep what was stored
            asset_id = asset_ref_id(self.stored.get("header_media_asset"))
            link = self.stored.get("header_media_link")
        else:
            asset_id = asset.pk if asset else None
        if self.needs_media and asset_id:  # a library file wins over a link
            result["header_media_asset"] = asset_id
        elif self.needs_media and link:
            result["header_media_link"] = link
        return result

    def mapping(self) -> dict:
        """The mapping to store (the form is valid)."""
        return self._build(self.cleaned_data, placeholders=False)

    def mapping_draft(self) -> dict:
        """What the form holds so far, valid or not, for a preview: a variable not mapped yet
        shows as its placeholder."""
        if not self.is_bound:
            return self.stored
        data = getattr(self, "cleaned_data", None) or {}
        if not data:
            self.is_valid()
            data = self.cleaned_data
        return self._build(data, placeholders=True)


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
