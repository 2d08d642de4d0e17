"""Staff forms for content items and notification preferences."""

from django import forms

from core.ssrf import UnsafeUrl, url_check_public
from crm.models import AdvisorTier, Segment
from messaging.channels.selectors import templates_sendable
from messaging.content.models import ContentItem, ContentTarget, UnlockKind
from messaging.content.rules import quick_reply_buttons

BUTTON_SLOTS = 3
KIND_CHOICES = [("", "—"), *UnlockKind.choices]


def announcement_templates():
    """Approved templates with quick-reply buttons (the only ones that can unlock)."""
    ids = [t.pk for t in templates_sendable() if quick_reply_buttons(t)]
    return templates_sendable().filter(pk__in=ids)


def media_url_public(url: str) -> None:
    """The SSRF guard as a field validator: every form that takes a content media link
    (the staff form and the admin) refuses private, loopback and link-local hosts."""
    try:
        url_check_public(url)
    except UnsafeUrl as exc:
        raise forms.ValidationError(exc.message) from exc


def media_url_field() -> forms.URLField:
    return forms.URLField(
        label="Media link", max_length=2048, required=False, assume_scheme="https",
        help_text="An image or document at a public URL.", validators=[media_url_public],
    )  # fmt: skip


class ContentItemForm(forms.ModelForm):
    media_url = media_url_field()
    target_tier = forms.ChoiceField(
        choices=[("", "—"), *AdvisorTier.choices], required=False, label="Tier"
    )

    class Meta:
        model = ContentItem
        fields = [
            "title", "body", "media_url", "category", "send_on", "target", "target_tier",
            "target_region", "target_segment", "template",
        ]  # fmt: skip
        widgets = {
            "body": forms.Textarea(attrs={"rows": 8}),
            "send_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }
        labels = {"target_region": "Region", "target_segment": "Segment"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = announcement_templates()
        self.fields["template"].required = True
        self.fields["target_segment"].queryset = Segment.objects.order_by("name")
        self.fields["send_on"].required = True
        buttons = list((self.instance.unlock_buttons if self.instance.pk else None) or [])
        if not self.instance.pk:
            buttons = [{"kind": UnlockKind.UNLOCK_CONTENT, "title": "Unlock content"}]
        for i in range(BUTTON_SLOTS):
            current = buttons[i] if i < len(buttons) else {}
            self.fields[f"button_{i}_kind"] = forms.ChoiceField(
                choices=KIND_CHOICES, required=False, initial=current.get("kind", ""),
                label=f"Button {i + 1} unlocks",
            )  # fmt: skip
            self.fields[f"button_{i}_title"] = forms.CharField(
                max_length=20, required=False, initial=current.get("title", ""),
                label=f"Button {i + 1} title",
                help_text="As on the template's button (at most 20 characters).",
            )  # fmt: skip

    def button_fields(self):
        return [(self[f"button_{i}_kind"], self[f"button_{i}_title"]) for i in range(BUTTON_SLOTS)]

    def content_fields(self):
        return [self[name] for name in self.Meta.fields]

    def clean(self):
        data = super().clean()
        target = data.get("target")
        if target == ContentTarget.TIER and not data.get("target_tier"):
            self.add_error("target_tier", "Choose the tier.")
        if target == ContentTarget.REGION and not (data.get("target_region") or "").strip():
            self.add_error("target_region", "Name the region.")
        if target == ContentTarget.SEGMENT and not data.get("target_segment"):
            self.add_error("target_segment", "Choose the segment.")
        buttons = []
        for i in range(BUTTON_SLOTS):
            kind = data.get(f"button_{i}_kind")
            if kind:
                buttons.append({"kind": kind, "title": (data.get(f"button_{i}_title") or "")})
        if not buttons:
            self.add_error("button_0_kind", "Choose what at least one button unlocks.")
        template = data.get("template")
        if template is not None:
            available = quick_reply_buttons(template)
            if len(buttons) > len(available):
                self.add_error(
                    "template", f"This template has {len(available)} quick-reply button(s)."
                )
            for button, (_index, text) in zip(buttons, available, strict=False):
                button["title"] = button["title"] or text[:20]
        data["unlock_buttons"] = buttons
        return data

    def service_fields(self) -> dict:
        """The cleaned values as `content_create` / `content_update` take them."""
        data = self.cleaned_data
        fields = {name: data.get(name) for name in self.Meta.fields}
        fields["target_tier"] = fields["target_tier"] or ""
        fields["target_region"] = (fields["target_region"] or "").strip()
        fields["category"] = (fields["category"] or "").strip()
        fields["unlock_buttons"] = data["unlock_buttons"]
        if fields["target"] != ContentTarget.SEGMENT:
            fields["target_segment"] = None
        return fields


class ReviewForm(forms.Form):
    note = forms.CharField(max_length=500, required=False, widget=forms.TextInput())
