"""Staff forms of channels: a number's non-secret settings, and the template list's filters."""

from __future__ import annotations

from django import forms

from messaging.channels.models import Channel, TemplateCategory, TemplateStatus


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
