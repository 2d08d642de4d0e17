"""Meta's template rules (`messaging.providers.template_rules`): one test per rule, each
checking the field the error names."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from messaging.providers.template_rules import (
    template_edit_limit_problem,
    template_edit_problems,
    template_problems,
)

GOOD = {
    "name": "order_update",
    "language": "en_US",
    "category": "UTILITY",
    "components": [
        {
            "type": "HEADER",
            "format": "TEXT",
            "text": "Order {{1}}",
            "example": {"header_text": ["#40321"]},
        },
        {
            "type": "BODY",
            "text": "Hello {{1}}, your order {{2}} ships on Friday.",
            "example": {"body_text": [["Asha", "#40321"]]},
        },
        {"type": "FOOTER", "text": "Reply HELP for help"},
        {
            "type": "BUTTONS",
            "buttons": [
                {"type": "QUICK_REPLY", "text": "Thanks"},
                {"type": "QUICK_REPLY", "text": "Call me"},
                {
                    "type": "URL",
                    "text": "Track",
                    "url": "https://shop.example.com/t/{{1}}",
                    "example": ["https://shop.example.com/t/40321"],
                },
                {"type": "PHONE_NUMBER", "text": "Call us", "phone_number": "+919812345678"},
            ],
        },
    ],
}


def with_(path: str, value):
    """GOOD with one component's key replaced: `body.text`, `buttons` (the list), ..."""
    definition = copy.deepcopy(GOOD)
    kind, _, key = path.partition(".")
    if kind in ("name", "language", "category", "parameter_format", "components"):
        definition[kind] = value
        return definition
    for component in definition["components"]:
        if component["type"] == kind.upper():
            component[key] = value
    return definition


def fields(definition) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for error in template_problems(definition):
        found.setdefault(error.field, []).append(error.message)
    return found


def test_a_good_template_breaks_no_rule():
    assert template_problems(GOOD) == []


@pytest.mark.parametrize(
    ("name", "ok"),
    [("order_update", True), ("Order_update", False), ("order-update", False),
     ("order update", False), ("", False), ("a" * 512, True), ("a" * 513, False)],
)  # fmt: skip
def test_names_are_lower_snake_up_to_512(name, ok):
    assert ("name" not in fields(with_("name", name))) is ok


@pytest.mark.parametrize(
    ("language", "ok"),
    [
        ("en", True),
        ("en_US", True),
        ("pt_BR", True),
        ("english", False),
        ("EN", False),
        ("", False),
    ],
)
def test_languages_are_meta_codes(language, ok):
    assert ("language" not in fields(with_("language", language))) is ok


def test_category_is_one_of_meta_categories_and_authentication_is_made_at_meta():
    assert "category" in fields(with_("category", "NEWS"))
    assert "Authentication" in fields(with_("category", "AUTHENTICATION"))["category"][0]
    assert "category" not in fields(with_("category", "marketing"))


def test_the_body_is_required_and_at_most_1024_characters():
    assert "body.text" in fields(with_("body.text", ""))
    long = "Hello {{1}} and {{2}} " + "x" * 1010
    assert any("1024" in m for m in fields(with_("body.text", long))["body.text"])
    no_body = copy.deepcopy(GOOD)
    no_body["components"] = [c for c in no_body["components"] if c["type"] != "BODY"]
    assert "body.text" in fields(no_body)


def test_body_variables_are_numbered_in_order_without_gaps():
    text = "Hello {{1}}, your order {{3}} ships on Friday."
    problems = fields(with_("body.text", text))["body.text"]
    assert any("without gaps" in m for m in problems)
    reordered = "Hello {{2}}, your order {{1}} ships on Friday."
    assert "body.text" in fields(with_("body.text", reordered))


def test_named_and_numbered_variables_are_not_mixed():
    definition = with_("body.text", "Hello {{first_name}}, your order {{1}} ships soon today.")
    assert any("not both" in m for m in fields(definition)["body.text"])


def test_named_variables_are_lower_snake_with_named_examples():
    definition = with_("body.text", "Hello {{first_name}}, your order {{order_id}} ships soon.")
    definition["parameter_format"] = "NAMED"
    definition["components"][0] = {"type": "HEADER", "format": "TEXT", "text": "Your order"}
    body = definition["components"][1]
    body["example"] = {
        "body_text_named_params": [
            {"param_name": "first_name", "example": "Asha"},
            {"param_name": "order_id", "example": "#40321"},
        ]
    }
    assert template_problems(definition) == []
    body["text"] = "Hello {{FirstName}}, your order {{order_id}} ships soon."
    assert any("lower-case" in m for m in fields(definition)["body.text"])


def test_every_variable_needs_an_example():
    definition = with_("body.example", {"body_text": [["Asha"]]})
    assert any("{{2}}" in m for m in fields(definition)["body.example"])
    assert "body.example" in fields(with_("body.example", {}))
    assert "body.example" in fields(with_("body.example", {"body_text": [["Asha", "  "]]}))


def test_the_body_neither_starts_nor_ends_with_a_variable():
    starts = with_("body.text", "{{1}} is your name and {{2}} your order number here.")
    assert any("start" in m for m in fields(starts)["body.text"])
    ends = with_("body.text", "Hello there friend, your order number is {{1}} and {{2}}.")
    assert any("end" in m for m in fields(ends)["body.text"])


def test_variables_cannot_touch():
    text = "Hello friend, your order {{1}}{{2}} ships on Friday as planned."
    assert any("next to each other" in m for m in fields(with_("body.text", text))["body.text"])


def test_too_many_variables_for_the_length():
    text = "Hi {{1}} {{2}} ok"  # touching and too dense
    assert any("Too many variables" in m for m in fields(with_("body.text", text))["body.text"])


def test_a_text_header_has_at_most_one_variable_and_60_characters_with_its_example():
    assert "header.text" in fields(with_("header.text", "Order {{1}} for {{2}}"))
    assert "header.text" in fields(with_("header.text", "x" * 61))
    assert "header.example" in fields(with_("header.example", {}))


def test_a_media_header_needs_one_example_handle():
    definition = copy.deepcopy(GOOD)
    definition["components"][0] = {"type": "HEADER", "format": "IMAGE"}
    assert "header.example" in fields(definition)
    definition["components"][0]["example"] = {"header_handle": ["4::aW1hZ2U="]}
    assert template_problems(definition) == []
    definition["components"][0]["format"] = "GIF"
    assert "header.format" in fields(definition)


def test_the_footer_has_no_variables_and_60_characters():
    assert "footer.text" in fields(with_("footer.text", "Reply {{1}}"))
    assert "footer.text" in fields(with_("footer.text", "x" * 61))


def _buttons(*buttons):
    return with_("buttons.buttons", list(buttons))


def test_at_most_ten_buttons():
    many = [{"type": "QUICK_REPLY", "text": f"Option {i}"} for i in range(11)]
    assert any("10" in m for m in fields(_buttons(*many))["buttons"])


def test_quick_replies_stay_together():
    definition = _buttons(
        {"type": "QUICK_REPLY", "text": "Yes"},
        {"type": "URL", "text": "Site", "url": "https://example.com"},
        {"type": "QUICK_REPLY", "text": "No"},
    )
    assert any("together" in m for m in fields(definition)["buttons"])


def test_at_most_two_url_buttons_one_phone_and_one_copy_code():
    url = {"type": "URL", "text": "A", "url": "https://example.com/a"}
    problems = fields(_buttons(url, {**url, "text": "B"}, {**url, "text": "C"}))["buttons"]
    assert any("url buttons" in m for m in problems)
    phone = {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "+919812345678"}
    assert "buttons" in fields(_buttons(phone, {**phone, "text": "Call 2"}))
    code = {"type": "COPY_CODE", "example": "SAVE10"}
    assert "buttons" in fields(_buttons(code, dict(code)))


def test_button_labels_are_required_short_unique_and_fixed():
    assert "buttons.0.text" in fields(_buttons({"type": "QUICK_REPLY", "text": ""}))
    assert "buttons.0.text" in fields(_buttons({"type": "QUICK_REPLY", "text": "x" * 26}))
    assert "buttons.1.text" in fields(
        _buttons({"type": "QUICK_REPLY", "text": "Yes"}, {"type": "QUICK_REPLY", "text": "yes"})
    )
    assert "buttons.0.type" in fields(_buttons({"type": "FLOW", "text": "Go"}))


def test_a_url_variable_is_one_trailing_placeholder_with_a_full_example():
    def url_button(url, example=None):
        button = {"type": "URL", "text": "Go", "url": url}
        if example is not None:
            button["example"] = example
        return fields(_buttons(button))

    assert url_button("https://example.com/t/{{1}}/x", ["x"])["buttons.0.url"]
    assert url_button("https://example.com/{{2}}", ["https://example.com/1"])["buttons.0.url"]
    assert url_button("https://example.com/t/{{1}}")["buttons.0.example"]
    assert url_button("https://example.com/t/{{1}}", ["https://other.com/1"])["buttons.0.example"]
    assert url_button("ftp://example.com")["buttons.0.url"]
    assert url_button("https://example.com/t/{{1}}", ["https://example.com/t/9"]) == {}


def test_phone_numbers_are_e164_and_copy_codes_at_most_15():
    bad_phone = {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "98123"}
    assert "buttons.0.phone_number" in fields(_buttons(bad_phone))
    assert "buttons.0.example" in fields(_buttons({"type": "COPY_CODE", "example": "X" * 16}))
    assert "buttons.0.example" in fields(_buttons({"type": "COPY_CODE"}))


def test_components_are_known_and_single():
    assert "components.0" in fields(with_("components", [{"type": "CAROUSEL"}]))
    twice = copy.deepcopy(GOOD)
    twice["components"].append({"type": "FOOTER", "text": "again"})
    assert "footer" in fields(twice)
    assert "components" in fields(with_("components", "nope"))


def test_an_edit_keeps_name_language_and_an_approved_templates_category():
    current = {"name": "a", "language": "en", "category": "UTILITY"}
    assert {e.field for e in template_edit_problems(
        current=current, changes={"name": "b", "language": "fr", "category": "MARKETING"},
        status="APPROVED",
    )} == {"name", "language", "category"}  # fmt: skip
    assert (
        template_edit_problems(
            current=current, changes={"category": "MARKETING"}, status="REJECTED"
        )
        == []
    )


def test_an_approved_template_is_edited_once_a_day_and_ten_times_a_month():
    now = dt.datetime(2026, 3, 31, 12, tzinfo=dt.UTC)
    day = dt.timedelta(days=1)
    limit = template_edit_limit_problem
    assert limit(status="APPROVED", recent_edits=[now - day / 2], now=now)
    assert limit(status="APPROVED", recent_edits=[now - 2 * day], now=now) is None
    ten = [now - (i + 2) * day for i in range(10)]
    assert "10 times" in limit(status="APPROVED", recent_edits=ten, now=now).message
    assert limit(status="REJECTED", recent_edits=[now - day / 2, *ten], now=now) is None
