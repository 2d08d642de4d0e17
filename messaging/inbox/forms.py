"""Forms of the inbox pages: filters, the reply box (text, template, media) and assignment."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Q

from messaging.channels.models import MessageTemplate
from messaging.channels.rendering import template_render
from messaging.inbox.selectors import ASSIGNED_FILTERS, STATE_FILTERS
from messaging.inbox.services import LINK_TYPES

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


class TemplateReplyForm(forms.Form):
    """One input per parameter the template declares (header, body, URL buttons), plus the
    header's media link when the header is an image, video or document."""

    def __init__(self, *args, template: MessageTemplate, **kwargs):
        kwargs.setdefault("prefix", f"t{template.pk}")
        super().__init__(*args, **kwargs)
        self.template = template
        declared = template.parameters or {}
        self.slots: list[tuple[str, str, str]] = []  # (field, part, parameter name)
        for part in ("header", "body"):
            for i, name in enumerate(declared.get(part) or []):
                key = f"{part}_{i}"
                self.fields[key] = forms.CharField(label=f"{part.title()} {{{{{name}}}}}",
                                                   max_length=1024)  # fmt: skip
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
        self.preview = template_render(template, {}).text

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


class MediaLinkForm(forms.Form):
    kind = forms.ChoiceField(label="Type", choices=[(k, k.title()) for k in LINK_TYPES])
    link = forms.URLField(label="Public link", max_length=2048, assume_scheme="https")
    caption = forms.CharField(required=False, max_length=1024)


def inbox_users():
    """Active users who may use the inbox (the assignable ones)."""
    User = get_user_model()
    perm = Permission.objects.filter(
        content_type__app_label="messaging", codename="view_conversation"
    ).first()
    return (
        User.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__permissions=perm) | Q(user_permissions=perm))
        .distinct()
        .order_by("username")
    )


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(), required=False, empty_label="Nobody"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = inbox_users()
