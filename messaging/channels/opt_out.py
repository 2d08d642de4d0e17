"""Marketing opt-out buttons: which quick replies of a template stop marketing, and whether a
tap is one.

Meta lets a MARKETING template carry a marketing opt-out button: a QUICK_REPLY whose text is
"Stop promotions". WhatsApp sends its tap like any other quick reply (type `button`, the
button's `text`, the `payload` the send gave it or else the text, and the `context` wamid of
the template message), so Parley recognises it itself: template sync marks the buttons of
MARKETING templates whose text is in `MARKETING_OPT_OUT_BUTTONS` (`template_opt_out_buttons`,
stored as `MessageTemplate.opt_out_buttons`), and a tap is an opt-out when it hit one of the
replied-to template's marked buttons, or when its payload or text is in the setting (templates
made elsewhere, or sends Parley does not know). This module is the one home of that rule;
the webhook records the opt-out and automation stays quiet through it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from crm.models import Consent
from messaging.channels.models import MessageTemplate, TemplateCategory


def keyword_normalise(text: Any) -> str:
    """How typed keywords are compared (STOP, START, auto-reply keywords): upper case, runs of
    whitespace as one space."""
    return " ".join(str(text or "").split()).upper()


def consent_keyword(text: Any) -> str | None:
    """The consent a typed keyword asks for: `opted_out` for an OPT_OUT_KEYWORDS word (STOP),
    `opted_in` for an OPT_IN_KEYWORDS word (START), else None. The webhook records it; the
    auto-replies leave such messages alone."""
    word = keyword_normalise(text)
    if not word:
        return None
    if word in {keyword_normalise(k) for k in settings.OPT_OUT_KEYWORDS}:
        return Consent.OPTED_OUT
    if word in {keyword_normalise(k) for k in settings.OPT_IN_KEYWORDS}:
        return Consent.OPTED_IN
    return None


def button_label_normalise(text: Any) -> str:
    """How button texts and payloads are compared: case-folded, runs of spaces as one."""
    return " ".join(str(text or "").split()).casefold()


def opt_out_labels() -> frozenset[str]:
    """`MARKETING_OPT_OUT_BUTTONS`, normalised (read on every call: tests change it)."""
    return frozenset(
        label for label in map(button_label_normalise, settings.MARKETING_OPT_OUT_BUTTONS) if label
    )


def template_quick_replies(components: Iterable[Mapping[str, Any]] | None) -> list[dict[str, str]]:
    """`[{"index": "0", "text": ...}]`: the quick-reply buttons of a template definition.

    `index` is the button's position among all the template's buttons (what a send's
    `button` component names), not among its quick replies.
    """
    for component in components or ():
        if not isinstance(component, Mapping):
            continue
        if str(component.get("type", "")).upper() != "BUTTONS":
            continue
        return [
            {"index": str(index), "text": str(button.get("text") or "")}
            for index, button in enumerate(component.get("buttons") or ())
            if isinstance(button, Mapping) and str(button.get("type", "")).upper() == "QUICK_REPLY"
        ]
    return []


def template_opt_out_buttons(
    *, category: str, components: Iterable[Mapping[str, Any]] | None
) -> list[dict[str, str]]:
    """The marketing opt-out buttons of a template definition, as template sync stores them.

    Only MARKETING templates have one (Meta offers the button there alone); a utility
    template's "Stop" button is still honoured at tap time through the setting.
    """
    if (category or "").upper() != TemplateCategory.MARKETING:
        return []
    labels = opt_out_labels()
    return [
        button
        for button in template_quick_replies(components)
        if button_label_normalise(button["text"]) in labels
    ]


@dataclass(frozen=True)
class OptOutTap:
    """A tap that opts its contact out of marketing, and what it hit (for the audit note)."""

    button: str  # the button's text as the template defines it, or as the tap carried it
    template: MessageTemplate | None = None
    index: str | None = None  # the button's index in the template, when known
    via_setting: bool = False  # matched MARKETING_OPT_OUT_BUTTONS, not a marked button

    def describe(self) -> str:
        """Names the template and the button (the consent event's note)."""
        button = f'button "{self.button}"' + (f" (index {self.index})" if self.index else "")
        if self.template is not None:
            where = f"template {self.template.name} [{self.template.language}]"
        else:
            where = "a message Parley has no template for"
        how = " (listed in MARKETING_OPT_OUT_BUTTONS)" if self.via_setting else ""
        return f"Tapped the marketing opt-out {button}{how} of {where}"


def _sent_payloads(sent_content: Mapping[str, Any] | None) -> dict[str, str]:
    """Button index -> the quick-reply payload a template send gave it."""
    payloads: dict[str, str] = {}
    for component in (sent_content or {}).get("components") or ():
        if not isinstance(component, Mapping) or str(component.get("type", "")).lower() != "button":
            continue
        if str(component.get("sub_type", "")).lower() != "quick_reply":
            continue
        for parameter in component.get("parameters") or ():
            if isinstance(parameter, Mapping) and parameter.get("payload"):
                payloads[str(component.get("index", ""))] = str(parameter["payload"])
    return payloads


def opt_out_tap_match(
    *,
    payload: str,
    text: str,
    template: MessageTemplate | None = None,
    sent_content: Mapping[str, Any] | None = None,
) -> OptOutTap | None:
    """Is a quick-reply tap (`payload`, `text`) a marketing opt-out? None when it is not.

    `template` and `sent_content` describe the message the tap answered, when Parley sent it:
    the tap hit one of the template's marked opt-out buttons if its text is the button's, or
    its payload is the one the send gave that button (or, with none given, the button's text).
    Otherwise `MARKETING_OPT_OUT_BUTTONS` decides, on the payload or the text.
    """
    tapped_text = button_label_normalise(text)
    tapped_payload = button_label_normalise(payload)
    if template is not None and template.opt_out_buttons:
        sent = _sent_payloads(sent_content)
        for button in template.opt_out_buttons:
            label = button_label_normalise(button.get("text"))
            index = str(button.get("index", ""))
            given = sent.get(index)
            if (
                (tapped_text and tapped_text == label)
                or (given and payload.strip() == given.strip())
                or (not given and tapped_payload and tapped_payload == label)
            ):
                return OptOutTap(button=str(button.get("text") or ""), template=template,
                                 index=index or None)  # fmt: skip
    labels = opt_out_labels()
    for candidate in (payload, text):
        if button_label_normalise(candidate) in labels:
            return OptOutTap(
                button=str(text or payload).strip(), template=template, via_setting=True
            )
    return None
