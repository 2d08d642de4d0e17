"""What an auto-reply rule may say (its triggers and actions) and what is wrong with one.

`rule_problems` is pure: it reads the rule it is given (and the template attached to it) and
the office-hours spec, and returns the problems by field; it queries nothing of its own (a
header media link's host is resolved, as the SSRF guard does), writes nothing and imports no
service. `AutoReplyRule.clean()`, the admin (through the model form and
`autoreply_rules_enable`) and the services all validate through it. The vocabulary lives here,
not in `models.py`, so that the model can import this module at the top.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models

from core.ssrf import url_public_problem
from messaging.automation.office_hours import OfficeHoursInvalid, office_hours_parse
from messaging.channels.opt_out import keyword_normalise
from messaging.channels.selectors import template_unsendable_reason

if TYPE_CHECKING:
    from messaging.automation.models import AutoReplyRule
    from messaging.channels.models import MessageTemplate

MAX_TEXT = 4096  # WhatsApp's limit on a text message


class AutoReplyTrigger(models.TextChoices):
    PAYLOAD = "payload", "Button payload (exact)"
    PAYLOAD_PREFIX = "payload_prefix", "Button payload (prefix)"
    INTERACTIVE_ID = "interactive_id", "Interactive reply id"
    KEYWORD = "keyword", "Keyword in the text"
    REGEX = "regex", "Regular expression on the text"
    OUTSIDE_OFFICE_HOURS = "outside_hours", "Any message outside office hours"


class AutoReplyAction(models.TextChoices):
    SEND_CONTENT = "send_content", "Send a content item"
    SEND_TEXT = "send_text", "Send text"
    SEND_TEMPLATE = "send_template", "Send a template"
    OPT_OUT = "opt_out", "Opt out of marketing"
    OPT_IN = "opt_in", "Opt in to marketing"
    ASSIGN = "assign", "Assign to a user"
    ADD_TAG = "add_tag", "Add a tag"


text_normalise = keyword_normalise  # how keywords are compared, shared with consent keywords


def trigger_keywords(value: str) -> list[str]:
    """The keywords of a keyword trigger's comma-separated value, normalised."""
    return [k for k in (text_normalise(part) for part in (value or "").split(",")) if k]


def rule_problems(rule: AutoReplyRule, *, office_hours: str | None = None) -> dict[str, str]:
    """What is wrong with a rule's configuration, by field (empty when it can run).

    Reads the rule's fields and `rule.template` as the caller attached it (the model form's
    choice, or `select_related`); `office_hours` is the spec an office-hours trigger is read
    with (default: the OFFICE_HOURS setting).
    """
    problems: dict[str, str] = {}
    value = (rule.trigger_value or "").strip()
    if rule.trigger in (
        AutoReplyTrigger.PAYLOAD,
        AutoReplyTrigger.PAYLOAD_PREFIX,
        AutoReplyTrigger.INTERACTIVE_ID,
    ):
        if not value:
            problems["trigger_value"] = "Give the payload, prefix or reply id."
    elif rule.trigger == AutoReplyTrigger.KEYWORD:
        if not trigger_keywords(value):
            problems["trigger_value"] = "Give at least one keyword."
    elif rule.trigger == AutoReplyTrigger.REGEX:
        try:
            re.compile(value)
        except re.error as exc:
            problems["trigger_value"] = f"Not a regular expression: {exc}."
        if not value:
            problems["trigger_value"] = "Give a regular expression."
    elif rule.trigger == AutoReplyTrigger.OUTSIDE_OFFICE_HOURS:
        try:
            office_hours_parse(settings.OFFICE_HOURS if office_hours is None else office_hours)
        except OfficeHoursInvalid as exc:
            problems["trigger"] = f"OFFICE_HOURS cannot be read: {exc}."

    action = rule.action
    if action == AutoReplyAction.SEND_TEXT:
        if not (rule.text or "").strip():
            problems["text"] = "Write the reply."
        elif len(rule.text) > MAX_TEXT:
            problems["text"] = f"At most {MAX_TEXT} characters."
    elif action == AutoReplyAction.SEND_TEMPLATE:
        template = rule.template
        if template is None:
            problems["template"] = "Choose a template."
        else:
            unsendable = template_unsendable_reason(template)
            if unsendable:
                problems["template"] = unsendable
            problem = template_parameters_problem(template, rule.template_parameters or {})
            if problem or (problem := header_media_link_problem(rule.template_parameters or {})):
                problems["template_parameters"] = problem
    elif action == AutoReplyAction.SEND_CONTENT:
        if not (rule.content_payload or "").strip():
            problems["content_payload"] = "Give the content's unlock payload."
    elif action == AutoReplyAction.ASSIGN:
        if rule.assign_to_id is None:
            problems["assign_to"] = "Choose the user."
    elif action == AutoReplyAction.ADD_TAG and rule.tag_id is None:
        problems["tag"] = "Choose the tag."
    return problems


def header_media_link_problem(values: Any) -> str:
    """Why a rule's constant header media link may not be sent ('' when it may): the send
    path refuses it anyway (`core.ssrf`), but the rule would then fail on every message."""
    link = values.get("header_media_link") if isinstance(values, dict) else None
    problem = url_public_problem(link) if link else None
    return f"Header media link refused: {problem}" if problem else ""


def template_parameters_problem(template: MessageTemplate, values: Any) -> str:
    """Why `values` cannot fill `template`'s declared parameters ('' when they can)."""
    if not isinstance(values, dict):
        return 'Give an object like {"body": ["value 1", "value 2"]}.'
    declared = template.parameters or {}
    for part in ("header", "body"):
        expected = declared.get(part) or []
        given = values.get(part) or []
        if isinstance(given, dict):
            missing = [name for name in expected if name not in given]
        else:
            missing = expected[len(given) :]
        if missing:
            return f"{part.title()} needs {len(expected)} value(s): {', '.join(expected)}."
    return ""
