"""`rule_problems`: a rule's configuration checked without the database.

No test here is marked `django_db`: any query the function made would fail it. The rules and
templates are unsaved instances carrying what the admin form or `select_related` would attach.
"""

import pytest
from django.core.exceptions import ValidationError

from messaging.automation.rules import (
    MAX_TEXT,
    AutoReplyAction,
    AutoReplyTrigger,
    rule_problems,
    template_parameters_problem,
    trigger_keywords,
)
from messaging.models import AutoReplyRule, MessageTemplate, TemplateStatus

OPEN = "Daily 00:00-24:00"


def rule(**fields) -> AutoReplyRule:
    fields = {"trigger": "keyword", "trigger_value": "HI", "action": "opt_out", **fields}
    return AutoReplyRule(**fields)


def template(status=TemplateStatus.APPROVED, **parameters) -> MessageTemplate:
    return MessageTemplate(name="order_update", language="en", status=status, parameters=parameters)


def test_a_complete_rule_has_no_problems():
    assert rule_problems(rule(), office_hours=OPEN) == {}
    assert rule_problems(rule(action="send_text", text="Hello"), office_hours=OPEN) == {}


@pytest.mark.parametrize(
    ("trigger", "value", "problem"),
    [
        ("payload", "", "Give the payload, prefix or reply id."),
        ("payload_prefix", "  ", "Give the payload, prefix or reply id."),
        ("interactive_id", "", "Give the payload, prefix or reply id."),
        ("keyword", " , ,", "Give at least one keyword."),
        ("regex", "", "Give a regular expression."),
        ("regex", "(", "Not a regular expression: "),  # then what `re` says
    ],
)
def test_a_trigger_without_a_usable_value(trigger, value, problem):
    problems = rule_problems(rule(trigger=trigger, trigger_value=value), office_hours=OPEN)
    assert problems.keys() == {"trigger_value"}
    assert problems["trigger_value"].startswith(problem)


@pytest.mark.parametrize(
    ("trigger", "value"),
    [
        ("payload", "ORDER_STATUS"),
        ("payload_prefix", "ORDER_"),
        ("interactive_id", "slot-2"),
        ("keyword", "opening time, HOURS"),
        ("regex", r"^order\s*#?\d+$"),
        ("outside_hours", ""),
    ],
)
def test_a_trigger_with_its_value(trigger, value):
    assert rule_problems(rule(trigger=trigger, trigger_value=value), office_hours=OPEN) == {}


def test_office_hours_are_read_from_what_is_passed_or_else_the_setting(settings):
    ooo = rule(trigger=AutoReplyTrigger.OUTSIDE_OFFICE_HOURS, trigger_value="")
    problems = rule_problems(ooo, office_hours="weekdays nine to five")
    assert problems.keys() == {"trigger"}
    assert problems["trigger"].startswith("OFFICE_HOURS cannot be read: cannot read")
    assert rule_problems(ooo, office_hours="Mon-Fri 09:00-18:00") == {}
    assert rule_problems(ooo, office_hours="") == {}  # no hours: always open
    settings.OFFICE_HOURS = "weekdays nine to five"
    assert rule_problems(ooo).keys() == {"trigger"}
    settings.OFFICE_HOURS = "Mon-Fri 09:00-18:00"
    assert rule_problems(ooo) == {}


def test_a_text_reply_needs_text_within_whatsapp_s_limit():
    assert rule_problems(rule(action="send_text", text="  "), office_hours=OPEN) == {
        "text": "Write the reply."
    }
    too_long = rule(action="send_text", text="x" * (MAX_TEXT + 1))
    assert rule_problems(too_long, office_hours=OPEN) == {"text": "At most 4096 characters."}
    assert rule_problems(rule(action="send_text", text="x" * MAX_TEXT), office_hours=OPEN) == {}


def test_a_template_reply_needs_an_approved_template_and_its_parameters():
    send = AutoReplyAction.SEND_TEMPLATE
    assert rule_problems(rule(action=send), office_hours=OPEN) == {"template": "Choose a template."}
    positional = template(body=["1", "2"])
    assert rule_problems(
        rule(action=send, template=positional, template_parameters={"body": ["a", "b"]}),
        office_hours=OPEN,
    ) == {}  # fmt: skip
    assert rule_problems(
        rule(action=send, template=positional, template_parameters={"body": ["a"]}),
        office_hours=OPEN,
    ) == {"template_parameters": "Body needs 2 value(s): 1, 2."}  # fmt: skip
    paused = template(TemplateStatus.PAUSED, body=["name"])
    assert rule_problems(
        rule(action=send, template=paused, template_parameters={"body": {"name": "Asha"}}),
        office_hours=OPEN,
    ) == {"template": "Template 'order_update' [en] is PAUSED, not APPROVED."}  # fmt: skip


@pytest.mark.parametrize(
    ("link", "problem"),
    [
        ("https://93.184.215.14/banner.png", None),
        ("http://169.254.169.254/latest/meta-data/", "non-public address"),
        ("http://192.168.1.20/banner.png", "non-public address"),
        ("http://localhost/banner.png", "non-public address"),
        ("file:///etc/passwd", "Only http and https"),
        (["x"], "must be a URL"),
    ],
)
def test_a_template_reply_s_header_media_link_passes_the_ssrf_guard(settings, link, problem):
    """The send would refuse it on every message; the rule is refused when saved instead."""
    settings.MEDIA_URL_ALLOW_PRIVATE = False
    values = {"body": ["a", "b"], "header_media_link": link}
    problems = rule_problems(
        rule(action=AutoReplyAction.SEND_TEMPLATE, template=template(body=["1", "2"]),
             template_parameters=values),
        office_hours=OPEN,
    )  # fmt: skip
    if problem is None:
        assert problems == {}
    else:
        assert problem in problems["template_parameters"]


def test_template_parameters_by_position_or_by_name():
    named = template(header=["title"], body=["name", "order"])
    assert template_parameters_problem(named, {}) == "Header needs 1 value(s): title."
    assert template_parameters_problem(
        named, {"header": {"title": "Hi"}, "body": {"name": "Asha"}}
    ) == "Body needs 2 value(s): name, order."  # fmt: skip
    assert template_parameters_problem(
        named, {"header": ["Hi"], "body": {"name": "Asha", "order": "#1"}}
    ) == ""  # fmt: skip
    assert template_parameters_problem(named, ["Hi"]) == (
        'Give an object like {"body": ["value 1", "value 2"]}.'
    )
    assert template_parameters_problem(template(), {}) == ""  # nothing declared


@pytest.mark.parametrize(
    ("action", "problem"),
    [
        ("send_content", {"content_payload": "Give the content's unlock payload."}),
        ("assign", {"assign_to": "Choose the user."}),
        ("add_tag", {"tag": "Choose the tag."}),
        ("opt_in", {}),
    ],
)
def test_actions_name_what_they_miss(action, problem):
    assert rule_problems(rule(action=action), office_hours=OPEN) == problem


def test_every_problem_is_reported_at_once():
    broken = rule(trigger="regex", trigger_value="", action="send_text", text="")
    assert rule_problems(broken, office_hours=OPEN).keys() == {"trigger_value", "text"}


def test_keywords_are_split_on_commas_and_normalised():
    assert trigger_keywords(" opening   time, hours ,, ") == ["OPENING TIME", "HOURS"]
    assert trigger_keywords("") == []


def test_the_model_s_clean_raises_the_problems_by_field(settings):
    settings.OFFICE_HOURS = OPEN
    with pytest.raises(ValidationError) as raised:
        rule(trigger="keyword", trigger_value=" , ", action="send_text").clean()
    assert raised.value.message_dict == {
        "trigger_value": ["Give at least one keyword."],
        "text": ["Write the reply."],
    }
    rule(action="send_text", text="Hello").clean()  # a complete rule passes
