"""Forms of the event webhook staff pages (the services validate again)."""

from __future__ import annotations

from django import forms

from messaging.hooks_out.models import DeliveryState, HookEvent


class SubscriptionForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Whose system this is, e.g. Order service.")
    url = forms.CharField(
        label="URL", max_length=2048,
        help_text="Where Parley POSTs the events: http(s), a public address.",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/parley/events"}),
    )  # fmt: skip
    events = forms.MultipleChoiceField(
        choices=HookEvent.choices, widget=forms.CheckboxSelectMultiple,
        help_text="What this subscription receives (README: the event catalogue).",
    )  # fmt: skip


class SubscriptionEditForm(SubscriptionForm):
    is_active = forms.BooleanField(
        label="Active", required=False,
        help_text="Turning a disabled subscription on sends its waiting events at once.",
    )  # fmt: skip


class DeliveryFilterForm(forms.Form):
    state = forms.ChoiceField(choices=[("", "Any"), *DeliveryState.choices], required=False)
    event_type = forms.ChoiceField(choices=[("", "Any"), *HookEvent.choices], required=False)
    event_id = forms.UUIDField(label="Event id", required=False)


class ReplayRangeForm(forms.Form):
    since = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    until = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            self.add_error("until", "Choose an end after the start.")
        return data
