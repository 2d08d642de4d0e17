"""Staff forms of automation: an auto-reply rule, a sample message to try the rules with, an
FAQ entry, and a question to try the FAQ responder with."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.urls import reverse

from messaging.automation.models import AutoReplyAction, AutoReplyRule, FaqEntry
from messaging.channels.models import MessageTemplate
from messaging.channels.rendering import template_examples
from messaging.channels.selectors import templates_sendable
from messaging.sending.policy import template_header_format

MEDIA_HEADERS = ("IMAGE", "VIDEO", "DOCUMENT")


class AutoReplyRuleForm(forms.ModelForm):
    """A rule with one input per template parameter instead of raw JSON.

    The parameter inputs follow the chosen template: `param_header_<name>` and
    `param_body_<name>` for its declared placeholders (positional `1`, `2`... or named), and
    `header_media_link` for an image, video or document header. They are put together into
    `template_parameters` (lists for positional templates, objects by name for named ones),
    which the model validates with the same `rule_problems` as everywhere else.
    """

    class Meta:
        model = AutoReplyRule
        fields = [
            "name", "enabled", "trigger", "trigger_value", "action", "text", "template",
            "content_payload", "assign_to", "tag", "order", "cooldown_minutes",
            "stop_processing", "fallback",
        ]  # fmt: skip
        widgets = {"text": forms.Textarea(attrs={"rows": 4, "maxlength": 4096})}
        labels = {
            "trigger": "When a message",
            "trigger_value": "Matching",
            "action": "Action",
            "text": "Reply text",
            "content_payload": "Content unlock payload",
            "assign_to": "Assign to",
            "tag": "Tag to add",
            "cooldown_minutes": "Cooldown (minutes)",
            "stop_processing": "Stop after this rule",
            "fallback": "Fallback only",
        }
        help_texts = {
            "name": "A name staff recognise, e.g. 'Refund questions'.",
            "trigger_value": "Keywords: words or phrases separated by commas, matched as whole "
            "words, any case (REFUND, money back). Button payload or reply id: the exact "
            "value (or its start, for a prefix). Expression: a Python regular expression, any "
            "case. Leave empty for office hours.",
            "order": "Rules run lowest first; the built-in Click-to-Unlock rule runs before all.",
            "template": "Only approved templates on active numbers can be sent.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The rule's own template stays listed when it can no longer be sent (paused, say),
        # so the form says why instead of silently dropping it.
        self.fields["template"].queryset = (
            MessageTemplate.objects.filter(
                Q(pk__in=templates_sendable().values("pk")) | Q(pk=self.instance.template_id)
            )
            .select_related("channel")
            .order_by("name", "language")
        )
        self.fields["template"].label_from_instance = lambda t: (
            f"{t.name} [{t.language}] · {t.get_category_display()} · {t.channel.name}"
        )
        self.fields["assign_to"].queryset = (
            get_user_model().objects.filter(is_active=True, is_staff=True).order_by("username")
        )
        self.fields["tag"].queryset = self.fields["tag"].queryset.order_by("name")
        # Choosing a template fetches its value inputs (htmx); without JavaScript, saving
        # with another template asks for its values instead.
        self.fields["template"].widget.attrs.update(
            {
                "hx-get": reverse("messaging:autoreply-template-fields"),
                "hx-target": "#template-fields",
                "hx-swap": "outerHTML",
                "hx-trigger": "change",
                **({"hx-vals": json.dumps({"rule": self.instance.pk})} if self.instance.pk else {}),
            }
        )
        self.chosen_template = self._chosen_template()
        self.parameter_names: list[str] = []
        if self.chosen_template is not None:
            self._add_parameter_fields(self.chosen_template)

    # --- The template's parameters ---------------------------------------------------------

    def _chosen_template(self) -> MessageTemplate | None:
        """The template the parameter inputs are for: the one submitted, else the rule's."""
        if self.is_bound:
            raw = self.data.get(self.add_prefix("template"))
            if not raw:
                return None
            try:
                return self.fields["template"].queryset.filter(pk=int(raw)).first()
            except (TypeError, ValueError):
                return None
        return self.instance.template if self.instance.template_id else None

    def _add_parameter_fields(self, template: MessageTemplate) -> None:
        declared = template.parameters or {}
        examples = template_examples(template)
        stored = self.instance.template_parameters or {}
        same_template = self.instance.template_id == template.pk
        for part in ("header", "body"):
            given = stored.get(part) if same_template else None
            for position, name in enumerate(declared.get(part) or []):
                key = f"param_{part}_{name}"
                if isinstance(given, dict):
                    initial = given.get(str(name), "")
                elif isinstance(given, list) and position < len(given):
                    initial = given[position]
                else:
                    initial = ""
                example = examples[part].get(str(name))
                self.fields[key] = forms.CharField(
                    label=f"{part.title()} {{{{{name}}}}}",
                    required=False,
                    max_length=1024,
                    initial=initial,
                    help_text=f"Example from the template: {example}" if example else "",
                )
                self.parameter_names.append(key)
        if template_header_format(template) in MEDIA_HEADERS:
            self.fields["header_media_link"] = forms.URLField(
                label="Header media link",
                required=False,
                assume_scheme="https",
                initial=stored.get("header_media_link", "") if same_template else "",
                help_text="A public https link to the image, video or document the header shows.",
            )
            self.parameter_names.append("header_media_link")

    def parameter_fields(self):
        return [self[name] for name in self.parameter_names]

    def _template_parameters(self, template: MessageTemplate) -> dict[str, Any]:
        declared = template.parameters or {}
        named = (template.parameter_format or "").lower() == "named"
        values: dict[str, Any] = {}
        for part in ("header", "body"):
            names = declared.get(part) or []
            if not names:
                continue
            given = [(self.cleaned_data.get(f"param_{part}_{n}") or "").strip() for n in names]
            values[part] = dict(zip(map(str, names), given, strict=True)) if named else given
        link = (self.cleaned_data.get("header_media_link") or "").strip()
        if link:
            values["header_media_link"] = link
        return values

    def clean(self):
        data = super().clean()
        template = data.get("template")
        if data.get("action") == AutoReplyAction.SEND_TEMPLATE and template is not None:
            if template != self.chosen_template:
                # The inputs shown were for another template (or none): ask again.
                raise forms.ValidationError("Fill in the values of the template you chose.")
            for key in self.parameter_names:
                if not (data.get(key) or "").strip():
                    self.add_error(key, "Give a value: the template needs it.")
            self.instance.template_parameters = self._template_parameters(template)
        elif data.get("action") != AutoReplyAction.SEND_TEMPLATE:
            self.instance.template_parameters = {}
        return data

    def _update_errors(self, errors):
        """The model reports parameter problems under `template_parameters`, which is not an
        input here: show them at the parameter inputs (or the template choice)."""
        error_dict = getattr(errors, "error_dict", None)
        if error_dict and "template_parameters" in error_dict:
            moved = error_dict.pop("template_parameters")
            target = self.parameter_names[0] if self.parameter_names else "template"
            if target not in self.errors:
                self.add_error(target, moved)
            if not error_dict:
                return
        super()._update_errors(errors)


class AutoReplyTryForm(forms.Form):
    """A sample customer message, to see which rule would fire (nothing is sent)."""

    KINDS = [
        ("text", "Text message"),
        ("button", "Template button tap (payload)"),
        ("interactive", "Interactive reply (id)"),
    ]
    kind = forms.ChoiceField(choices=KINDS, initial="text", label="The customer sends")
    text = forms.CharField(
        required=False, max_length=4096, widget=forms.Textarea(attrs={"rows": 2}),
        label="Message", help_text="What the customer wrote (or the button's text).",
    )  # fmt: skip
    payload = forms.CharField(required=False, max_length=256, help_text="Button payload.")
    reply_id = forms.CharField(required=False, max_length=256, help_text="Interactive reply id.")
    at = forms.DateTimeField(
        required=False, label="Received at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Empty: now (matters for the office-hours trigger).",
    )  # fmt: skip

    def clean(self):
        data = super().clean()
        if not (data.get("text") or data.get("payload") or data.get("reply_id")):
            raise forms.ValidationError("Type a sample message, payload or reply id.")
        return data


class FaqEntryForm(forms.ModelForm):
    class Meta:
        model = FaqEntry
        fields = ["question", "keywords", "answer", "topic", "enabled"]
        widgets = {"answer": forms.Textarea(attrs={"rows": 4})}
        help_texts = {
            "question": "The question as a customer would ask it; its words count too.",
            "keywords": "Words or short phrases separated by commas; each one found in a "
            "question counts strongly (refund, money back).",
            "answer": "Sent as a text message (at most 4,096 characters).",
            "topic": "One word or two, for reports (refunds, delivery).",
        }

    def clean_answer(self):
        answer = self.cleaned_data["answer"].strip()
        if len(answer) > 4096:
            raise forms.ValidationError("At most 4,096 characters (WhatsApp's text limit).")
        return answer

    def clean_topic(self):
        return " ".join(self.cleaned_data["topic"].split()).lower()


class FaqTryForm(forms.Form):
    question = forms.CharField(label="Try a question", max_length=1000)
