"""Forms of the inbox pages: filters, the reply box (text, template, media), assignment,
notes, starting a conversation, teams, canned replies and the report's period."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.core.validators import RegexValidator

from messaging.channels.models import Channel, MessageTemplate
from messaging.channels.rendering import (
    template_contact_values,
    template_examples,
    template_render,
)
from messaging.channels.selectors import channels_active
from messaging.inbox.canned import MANAGE as MANAGE_CANNED
from messaging.inbox.canned import canned_reply_teams
from messaging.inbox.models import SHORTCUT_RE, Team
from messaging.inbox.notes import NOTE_MAX_LENGTH
from messaging.inbox.routing import inbox_users
from messaging.inbox.selectors import ASSIGNED_FILTERS, STATE_FILTERS
from messaging.inbox.services import LINK_TYPES
from messaging.media.models import MediaAsset
from messaging.media.selectors import media_assets_newest

MEDIA_HEADERS = ("IMAGE", "VIDEO", "DOCUMENT")


class InboxFilterForm(forms.Form):
    assigned = forms.ChoiceField(
        required=False,
        choices=[("", "Anyone"), ("mine", "Mine"), ("unassigned", "Unassigned")],
    )
    state = forms.ChoiceField(
        required=False, choices=[("", "Open and closed"), ("open", "Open"), ("closed", "Closed")]
    )
    window = forms.BooleanField(required=False, label="Window open")
    q = forms.CharField(required=False, max_length=100, label="Search")

    def selector_kwargs(self) -> dict:
        data = self.cleaned_data if self.is_valid() else {}
        assigned = data.get("assigned") or ""
        state = data.get("state") or ""
        return {
            "assigned": assigned if assigned in ASSIGNED_FILTERS else "",
            "state": state if state in STATE_FILTERS else "",
            "window_open": bool(data.get("window")),
            "search": data.get("q") or "",
        }


class ReplyTextForm(forms.Form):
    body = forms.CharField(label="Reply", max_length=4096, widget=forms.Textarea(attrs={"rows": 3}))


def _header(template: MessageTemplate) -> dict:
    return next(
        (c for c in template.components or [] if str(c.get("type", "")).upper() == "HEADER"), {}
    )


def _component_text(template: MessageTemplate, kind: str) -> str:
    for component in template.components or []:
        if str(component.get("type", "")).upper() == kind:
            return str(component.get("text", "") or "")
    return ""


class TemplateReplyForm(forms.Form):
    """One input per parameter the template declares (header, body, URL buttons), plus the
    header's media link when the header is an image, video or document.

    With `contact`, the parameters that stand for the contact's name ("Hi {{1}}",
    `{{first_name}}`) start filled in; every input shows the template's sample value as its
    placeholder, and `preview` is the message with the values known so far (inbox.js keeps
    it up to date as the agent types)."""

    def __init__(self, *args, template: MessageTemplate, contact=None, **kwargs):
        kwargs.setdefault("prefix", f"t{template.pk}")
        super().__init__(*args, **kwargs)
        self.template = template
        declared = template.parameters or {}
        examples = template_examples(template)
        known = {"header": {}, "body": {}}
        if contact is not None:
            full = contact.display_name or ""
            known = template_contact_values(
                template, first_name=full.split()[0] if full.split() else "", full_name=full
            )
        self.slots: list[tuple[str, str, str]] = []  # (field, part, parameter name)
        for part in ("header", "body"):
            for i, name in enumerate(declared.get(part) or []):
                key = f"{part}_{i}"
                attrs = {"data-part": part, "data-param": name}
                if examples[part].get(name):
                    attrs["placeholder"] = f"e.g. {examples[part][name]}"
                self.fields[key] = forms.CharField(
                    label=f"{part.title()} {{{{{name}}}}}", max_length=1024,
                    initial=known[part].get(name, ""), widget=forms.TextInput(attrs=attrs),
                )  # fmt: skip
                self.slots.append((key, part, name))
        for index, names in sorted((declared.get("buttons") or {}).items()):
            key = f"button_{index}"
            label = f"Button {int(index) + 1} link {{{{{names[0] if names else 1}}}}}"
            self.fields[key] = forms.CharField(label=label, max_length=1024)
            self.slots.append((key, "buttons", str(index)))
        self.header_media = str(_header(template).get("format", "")).upper() in MEDIA_HEADERS
        if self.header_media:
            self.fields["header_media_link"] = forms.URLField(
                label=f"Header {str(_header(template)['format']).lower()} link",
                max_length=2048,
                assume_scheme="https",
            )
        self.preview_source = {
            "header": _component_text(template, "HEADER"),
            "body": _component_text(template, "BODY"),
            "footer": _component_text(template, "FOOTER"),
        }
        self.preview = template_render(template, self._preview_content()).text

    def _preview_content(self) -> dict:
        """A send body with the values typed (or filled in) so far; the rest show their
        placeholder."""
        components = []
        for part in ("header", "body"):
            parameters = []
            for key, slot_part, name in self.slots:
                if slot_part != part:
                    continue
                value = (self[key].value() or "").strip() or f"{{{{{name}}}}}"
                parameters.append({"type": "text", "text": value, "parameter_name": name})
            if parameters:
                components.append({"type": part, "parameters": parameters})
        return {"components": components}

    def values(self) -> dict:
        data = self.cleaned_data
        named = (self.template.parameter_format or "") == "named"
        values: dict = {"header": {} if named else [], "body": {} if named else [], "buttons": {}}
        for key, part, name in self.slots:
            value = data[key].strip()
            if part == "buttons":
                values["buttons"][name] = value
            elif named:
                values[part][name] = value
            else:
                values[part].append(value)
        if self.header_media:
            values["header_media_link"] = data["header_media_link"]
        return values


class MediaUploadForm(forms.Form):
    file = forms.FileField(label="File")
    caption = forms.CharField(required=False, max_length=1024)


class LibraryReplyForm(forms.Form):
    """A file from the media library (the newest LIBRARY_CHOICES of them)."""

    asset = forms.ModelChoiceField(queryset=MediaAsset.objects.none(), label="Library file")
    caption = forms.CharField(required=False, max_length=1024)

    LIBRARY_CHOICES = 200

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        newest = media_assets_newest().values("pk")[: self.LIBRARY_CHOICES]  # a subquery
        self.fields["asset"].queryset = MediaAsset.objects.filter(pk__in=newest).order_by(
            "-created_at", "-id"
        )
        self.fields["asset"].label_from_instance = lambda a: f"{a.name} ({a.kind})"


class MediaLinkForm(forms.Form):
    kind = forms.ChoiceField(label="Type", choices=[(k, k.title()) for k in LINK_TYPES])
    link = forms.URLField(label="Public link", max_length=2048, assume_scheme="https")
    caption = forms.CharField(required=False, max_length=1024)


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(), required=False, empty_label="Nobody"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = inbox_users()


class NoteForm(forms.Form):
    text = forms.CharField(
        label="Internal note",
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Only staff see notes; they are never sent to the contact.",
    )


class ChannelChoiceForm(forms.Form):
    """The number a new conversation starts on."""

    channel = forms.ModelChoiceField(queryset=Channel.objects.none(), empty_label=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].queryset = channels_active().order_by("name", "pk")


class TeamForm(forms.Form):
    name = forms.CharField(max_length=80)
    auto_assign = forms.BooleanField(
        required=False,
        initial=True,
        label="Assign new conversations automatically",
        help_text="In turn, to the members who are available (round robin).",
    )
    members = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Active users who may use the inbox.",
    )
    channels = forms.ModelMultipleChoiceField(
        queryset=Channel.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Numbers routed to this team",
        help_text="A number belongs to one team: choosing it here moves it from another.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["members"].queryset = inbox_users()
        self.fields["channels"].queryset = channels_active().order_by("name", "pk")


class CannedReplyForm(forms.Form):
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(), required=False, empty_label="Everyone (global)"
    )
    shortcut = forms.CharField(
        max_length=41, help_text="Typed after / in the reply box, e.g. refund-policy."
    )
    title = forms.CharField(max_length=100)
    body = forms.CharField(
        label="Text",
        max_length=4096,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="{{name}} becomes the contact's name when the reply is inserted.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = canned_reply_teams(user)
        if not user.has_perm(MANAGE_CANNED):
            # Global replies are read-only to them: a team is required.
            self.fields["team"].required = True
            self.fields["team"].empty_label = None

    def clean_shortcut(self):
        shortcut = self.cleaned_data["shortcut"].strip().lower().lstrip("/")
        RegexValidator(SHORTCUT_RE, "Letters, digits, - and _ only, without spaces.")(shortcut)
        if len(shortcut) > 40:
            raise forms.ValidationError("At most 40 characters.")
        return shortcut


class ReportPeriodForm(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
