"""Where each template variable gets its value (`messaging.campaigns.mapping`), the builder's
form over it, and the rule that launch renders exactly what the preview shows."""

import pytest

from crm.models import Tag
from messaging.campaigns.forms import ParameterMappingForm
from messaging.campaigns.mapping import (
    mapping_content,
    mapping_item_problem,
    mapping_item_resolve,
    mapping_preview,
    mapping_slots,
)
from messaging.campaigns.selectors import campaign_preflight
from messaging.campaigns.services import campaign_create, campaign_launch
from messaging.models import Message
from messaging.templatetags.campaign_tags import wa_format
from tests.factories import ChannelFactory, ContactFactory, TemplateFactory

pytestmark = pytest.mark.django_db

ASHA = {"pk": 1, "name": "Asha Patel", "profile_name": "Ash", "phone": "+919800000001",
        "wa_id": "919800000001", "language": "en",
        "attributes": {"city": "Pune", "vip": True}}  # fmt: skip
NOBODY = {"pk": 2, "name": "", "profile_name": "", "phone": None, "wa_id": None,
          "language": "", "attributes": {}}  # fmt: skip


@pytest.mark.parametrize(
    ("item", "contact", "value", "fallback_used"),
    [
        ({"source": "field", "value": "name"}, ASHA, "Asha Patel", False),
        ({"source": "field", "value": "first_name"}, ASHA, "Asha", False),
        ({"source": "field", "value": "first_name"}, {**NOBODY, "profile_name": "Ravi K"},
         "Ravi", False),
        ({"source": "field", "value": "name"}, {**NOBODY, "profile_name": "Ravi K"},
         "Ravi K", False),
        ({"source": "field", "value": "phone"}, ASHA, "+919800000001", False),
        ({"source": "field", "value": "first_name", "fallback": "there"}, NOBODY, "there", True),
        ({"source": "field", "value": "phone"}, NOBODY, "", True),
        ({"source": "attribute", "value": "city"}, ASHA, "Pune", False),
        ({"source": "attribute", "value": "city", "fallback": "your city"}, NOBODY,
         "your city", True),
        ({"source": "attribute", "value": "vip"}, ASHA, "true", False),
        ({"source": "constant", "value": "DIWALI20", "fallback": "x"}, NOBODY, "DIWALI20", False),
    ],
)  # fmt: skip
def test_each_source_resolves_with_its_fallback(item, contact, value, fallback_used):
    resolved = mapping_item_resolve(item, contact)
    assert (resolved.value, resolved.fallback_used) == (value, fallback_used)


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        (None, "not mapped"),
        ({"source": "sql", "value": "x"}, "choose where the value comes from"),
        ({"source": "field", "value": "email"}, "unknown contact field 'email'"),
        ({"source": "attribute", "value": " "}, "choose the attribute"),
        ({"source": "constant", "value": ""}, "give the text"),
        ({"source": "field", "value": "first_name"}, None),
    ],
)
def test_an_item_that_cannot_give_a_value_says_why(item, problem):
    assert mapping_item_problem(item) == problem


def named_template(channel):
    return TemplateFactory(
        channel=channel,
        parameter_format="named",
        components=[
            {"type": "HEADER", "format": "TEXT", "text": "{{offer}} is here"},
            {"type": "BODY", "text": "Hi {{first_name}}, {{discount}} off."},
            {"type": "BUTTONS", "buttons": [
                {"type": "URL", "text": "Shop", "url": "https://shop.example.com/{{1}}"}]},
        ],
        parameters={"header": ["offer"], "body": ["first_name", "discount"],
                    "buttons": {"0": ["1"]}},
    )  # fmt: skip


def test_the_slots_are_the_templates_variables_in_reading_order(db):
    template = named_template(ChannelFactory())
    assert [(s.key, s.label) for s in mapping_slots(template)] == [
        ("header_0", "Header {{offer}}"),
        ("body_0", "Body {{first_name}}"),
        ("body_1", "Body {{discount}}"),
        ("button_0", "Button 1 link {{1}}"),
    ]


def test_a_named_template_renders_every_part_for_the_contact(db):
    template = named_template(ChannelFactory())
    mapping = {
        "header": [{"name": "offer", "source": "constant", "value": "Diwali"}],
        "body": [
            {"name": "first_name", "source": "field", "value": "first_name", "fallback": "there"},
            {"name": "discount", "source": "attribute", "value": "discount", "fallback": "10%"},
        ],
        "buttons": {"0": {"source": "field", "value": "wa_id"}},
    }
    content = mapping_content(template=template, mapping=mapping, contact=ASHA)
    header, body, button = content["components"]
    assert header["parameters"] == [{"type": "text", "parameter_name": "offer", "text": "Diwali"}]
    assert [p["text"] for p in body["parameters"]] == ["Asha", "10%"]
    assert button["parameters"] == [{"type": "text", "text": "919800000001"}]
    preview = mapping_preview(template=template, mapping=mapping, contact=NOBODY)
    assert preview.rendered.header == "Diwali is here"
    assert preview.rendered.body == "Hi there, 10% off."
    assert [s.key for s in preview.empty] == ["button_0"]  # no WhatsApp id, no fallback


# --- The form ------------------------------------------------------------------------------------


def form(template, data=None, mapping=None, attributes=(("city", "City"),)):
    return ParameterMappingForm(
        data, template=template, mapping=mapping or {}, attributes=list(attributes)
    )


def test_the_form_offers_fields_and_attributes_to_pick(db):
    template = TemplateFactory(channel=ChannelFactory())
    unbound = form(template)
    assert [row["slot"].key for row in unbound.rows()] == ["body_0", "body_1"]
    fields = dict(unbound.fields["body_0_field"].choices)
    assert {"name", "first_name", "phone", "wa_id", "language"} <= set(fields)
    assert dict(unbound.fields["body_0_attribute"].choices)["city"] == "City"
    assert dict(unbound.fields["body_0_source"].choices) == {
        "field": "Contact field", "attribute": "Contact attribute", "constant": "Fixed text"
    }  # fmt: skip


def test_the_form_asks_for_what_the_chosen_source_needs(db):
    template = TemplateFactory(channel=ChannelFactory())
    bound = form(template, {"body_0_source": "attribute", "body_1_source": "constant",
                            "body_1_text": "  "})  # fmt: skip
    assert not bound.is_valid()
    assert bound.errors["body_0_attribute"] == ["Choose the contact attribute for Body {{1}}."]
    assert bound.errors["body_1_text"] == ["Give the text for Body {{2}}."]
    # The preview still renders what there is: unmapped variables keep their placeholder.
    draft = bound.mapping_draft()
    assert draft["body"] == [
        {"source": "constant", "value": "{{1}}"},
        {"source": "constant", "value": "{{2}}"},
    ]


def test_the_form_stores_the_chosen_value_and_keeps_what_it_does_not_show(db):
    template = TemplateFactory(channel=ChannelFactory())
    stored = {
        "body": [{"source": "attribute", "value": "tier", "track": True}, {}],
        "button_payloads": {"1": "OPT_OUT"},
    }
    unbound = form(template, mapping=stored)
    # An attribute mapped before its definition went is still offered, and preselected.
    assert "tier" in dict(unbound.fields["body_0_attribute"].choices)
    assert unbound["body_0_attribute"].value() == "tier"
    bound = form(
        template,
        {
            "body_0_source": "attribute", "body_0_attribute": "city",
            "body_0_fallback": " your city ", "body_0_field": "phone",
            "body_1_source": "field", "body_1_field": "first_name", "body_1_text": "ignored",
        },
        mapping=stored,
    )  # fmt: skip
    assert bound.is_valid(), bound.errors
    assert bound.mapping() == {
        "header": [],
        "body": [
            {"source": "attribute", "value": "city", "fallback": "your city", "track": True},
            {"source": "field", "value": "first_name"},
        ],
        "buttons": {},
        "button_payloads": {"1": "OPT_OUT"},
    }


def test_the_form_refuses_a_field_that_is_not_offered(db):
    template = TemplateFactory(channel=ChannelFactory())
    bound = form(template, {"body_0_source": "field", "body_0_field": "email",
                            "body_1_source": "constant", "body_1_text": "x"})  # fmt: skip
    assert not bound.is_valid()
    assert "body_0_field" in bound.errors


# --- The send path uses the mapping -----------------------------------------------------------


def test_launch_renders_what_the_preview_shows(db):
    channel = ChannelFactory(throughput_mps=80)
    template = TemplateFactory(channel=channel)
    tag = Tag.objects.create(name="vip")
    asha = ContactFactory(name="Asha Patel", attributes={"city": "Pune"})
    nameless = ContactFactory(name="", profile_name="", attributes={})
    tag.contacts.add(asha, nameless)
    mapping = {
        "body": [
            {"source": "field", "value": "first_name", "fallback": "there"},
            {"source": "attribute", "value": "city", "fallback": "your city"},
        ]
    }
    campaign = campaign_create(
        name="c", channel=channel, template=template, parameter_mapping=mapping, tags=[tag]
    )
    assert campaign_preflight(campaign).ok
    campaign_launch(campaign=campaign)
    sent = {m.contact_id: m.content for m in Message.objects.filter(campaign=campaign)}
    for contact in (asha, nameless):
        preview = mapping_preview(
            template=template,
            mapping=mapping,
            contact={"pk": contact.pk, "attributes": contact.attributes, "name": contact.name,
                     "profile_name": contact.profile_name, "phone": contact.phone,
                     "wa_id": contact.wa_id, "language": contact.language},
        )  # fmt: skip
        body = [p["text"] for p in sent[contact.pk]["components"][0]["parameters"]]
        assert preview.rendered.body == f"Hello {body[0]}, your order {body[1]} is confirmed."
    assert [p["text"] for p in sent[asha.pk]["components"][0]["parameters"]] == ["Asha", "Pune"]
    assert [p["text"] for p in sent[nameless.pk]["components"][0]["parameters"]] == [
        "there",
        "your city",
    ]


def test_preflight_refuses_an_unknown_contact_field(db):
    channel = ChannelFactory(throughput_mps=80)
    tag = Tag.objects.create(name="vip")
    tag.contacts.add(ContactFactory())
    campaign = campaign_create(
        name="c", channel=channel, template=TemplateFactory(channel=channel), tags=[tag],
        parameter_mapping={"body": [{"source": "field", "value": "email"},
                                    {"source": "constant", "value": "x"}]},
    )  # fmt: skip
    assert "Map every body parameter (2 needed, 2 mapped)." in campaign_preflight(campaign).problems


def test_the_bubble_shows_whatsapp_formatting_and_nothing_else_as_markup():
    text = "Hi *Asha*, _only_ ~today~: <script>alert(1)</script>\nsnake_case_name"
    assert wa_format(text) == (
        "Hi <strong>Asha</strong>, <em>only</em> <s>today</s>: "
        "&lt;script&gt;alert(1)&lt;/script&gt;<br>snake_case_name"
    )
