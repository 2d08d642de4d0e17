"""Which template buttons are marketing opt-outs, and which taps hit one (no database)."""

import pytest

from messaging.channels.models import MessageTemplate
from messaging.channels.opt_out import opt_out_tap_match, template_opt_out_buttons

BUTTONS = [
    {"type": "BODY", "text": "Hi {{1}}"},
    {
        "type": "BUTTONS",
        "buttons": [
            {"type": "URL", "text": "Shop", "url": "https://shop.example.com/{{1}}"},
            {"type": "QUICK_REPLY", "text": "Tell me more"},
            {"type": "QUICK_REPLY", "text": "  stop   PROMOTIONS "},
        ],
    },
]


def template(category="MARKETING", components=BUTTONS, name="spring_sale"):
    return MessageTemplate(
        name=name,
        language="en",
        category=category,
        components=components,
        opt_out_buttons=template_opt_out_buttons(category=category, components=components),
    )


def test_only_quick_replies_of_marketing_templates_with_an_opt_out_text_are_marked():
    assert template().opt_out_buttons == [{"index": "2", "text": "  stop   PROMOTIONS "}]
    assert template("UTILITY").opt_out_buttons == []
    assert template_opt_out_buttons(category="MARKETING", components=None) == []
    assert template_opt_out_buttons(category="MARKETING", components=[{"type": "BODY"}]) == []


def test_the_setting_decides_which_texts_mark_a_button(settings):
    settings.MARKETING_OPT_OUT_BUTTONS = ["Tell me more"]
    assert template().opt_out_buttons == [{"index": "1", "text": "Tell me more"}]


@pytest.mark.parametrize(
    ("payload", "text", "sent", "hit"),
    [
        ("Stop promotions", "Stop promotions", None, True),  # Meta: payload defaults to text
        ("", "STOP PROMOTIONS", None, True),
        ("OPTOUT:7", "Promos aus", {"2": "OPTOUT:7"}, True),  # the payload the send gave it
        ("OPTOUT:8", "Promos aus", {"2": "OPTOUT:7"}, False),
        ("Tell me more", "Tell me more", None, False),
        ("MORE:7", "Tell me more", {"1": "MORE:7", "2": "OPTOUT:7"}, False),
    ],
)
def test_a_tap_hits_the_templates_button_by_text_or_sent_payload(payload, text, sent, hit):
    content = {
        "components": [
            {"type": "button", "sub_type": "quick_reply", "index": index,
             "parameters": [{"type": "payload", "payload": value}]}
            for index, value in (sent or {}).items()
        ]
    }  # fmt: skip
    match = opt_out_tap_match(payload=payload, text=text, template=template(), sent_content=content)
    assert (match is not None) == hit
    if hit:
        assert (match.index, match.via_setting) == ("2", False)
        assert match.describe().startswith(
            'Tapped the marketing opt-out button "  stop   PROMOTIONS " (index 2) of template '
            "spring_sale [en]"
        )


def test_without_a_known_template_the_setting_matches_payload_or_text(settings):
    assert opt_out_tap_match(payload="STOP", text="Stop").via_setting
    assert opt_out_tap_match(payload="x", text="stop promotions") is not None
    assert opt_out_tap_match(payload="Shop now", text="Shop now") is None
    assert opt_out_tap_match(payload="", text="") is None
    settings.MARKETING_OPT_OUT_BUTTONS = []
    assert opt_out_tap_match(payload="STOP", text="Stop promotions") is None


def test_a_utility_template_made_without_a_marked_button_still_honours_the_setting():
    utility = template("UTILITY")
    match = opt_out_tap_match(payload="Stop promotions", text="Stop promotions", template=utility)
    assert match.via_setting and match.template is utility
    assert "of template spring_sale [en]" in match.describe()
