"""What the thread renders from customers' and providers' content: only http(s), mailto and
tel become live links (never `javascript:`, `data:` or `vbscript:`, however spelled); template
messages show their parameters, not `{{1}}`, wherever a template is rendered."""

from __future__ import annotations

import re

import pytest

from crm.extensions import contact_messaging
from messaging.channels.rendering import template_contact_values, template_examples
from messaging.demo import demo_template_content
from messaging.sending.send import template_content_build
from messaging.templatetags.inbox_tags import link_is_safe, linkify, safe_href
from tests.factories import (
    ChannelFactory,
    ConversationFactory,
    InboundMessageFactory,
    MessageFactory,
    TemplateFactory,
    window_open,
)

pytestmark = pytest.mark.django_db

HOSTILE = [
    "javascript:alert(document.cookie)",
    "JavaScript:alert(1)",
    "java\tscript:alert(1)",
    " javascript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
]


@pytest.mark.parametrize("url", HOSTILE)
def test_hostile_schemes_never_become_links(url):
    assert not link_is_safe(url) and safe_href(url) == ""
    assert "<a " not in linkify(f"click {url} now")


def test_safe_schemes_become_links_and_the_rest_stays_escaped():
    html = linkify(
        "Track: https://shop.example.com/t?o=1&x=2. Mail mailto:help@example.com or "
        "tel:+919800011122\n<b>bold</b>"
    )
    assert '<a href="https://shop.example.com/t?o=1&amp;x=2"' in html  # trailing dot left out
    assert 'href="mailto:help@example.com"' in html and 'href="tel:+919800011122"' in html
    assert 'rel="noopener noreferrer nofollow"' in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<br>" in html


def test_the_thread_keeps_hostile_links_dead(client, make_user):
    channel = ChannelFactory()
    conversation = ConversationFactory(channel=channel)
    window_open(conversation.contact, channel)
    contact = conversation.contact
    text = "see javascript:alert(1) and https://ok.example.com"
    InboundMessageFactory(
        channel=channel, contact=contact, conversation=conversation, content={"body": text}
    )
    InboundMessageFactory(
        channel=channel, contact=contact, conversation=conversation, type="document",
        content={"link": "javascript:alert(2)", "caption": "data:text/html,<script>x</script>"},
    )  # fmt: skip
    client.force_login(make_user("Agent"))
    html = client.get(f"/staff/inbox/{conversation.pk}/thread/").content.decode()
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert not [h for h in hrefs if not h.startswith(("/", "http", "mailto:", "tel:", "?"))]
    assert 'href="https://ok.example.com"' in html
    assert 'data-testid="unsafe-link"' in html and "javascript:alert(2)" in html  # as text
    assert "<script>x" not in html


def test_template_messages_show_their_parameters(client, make_user):
    channel = ChannelFactory()
    template = TemplateFactory(
        channel=channel, name="order_ready",
        components=[{"type": "HEADER", "format": "TEXT", "text": "Order {{1}}"},
                    {"type": "BODY", "text": "Hi {{1}}, order {{2}} ships today."}],
        parameters={"header": ["1"], "body": ["1", "2"]},
    )  # fmt: skip
    conversation = ConversationFactory(channel=channel)
    content = template_content_build(template=template, header=["#42"], body=["Asha", "#42"])
    MessageFactory(channel=channel, contact=conversation.contact, conversation=conversation,
                   type="template", template=template, content=content)  # fmt: skip
    client.force_login(make_user("Agent"))
    thread = client.get(f"/staff/inbox/{conversation.pk}/").content.decode()
    assert "Order #42" in thread and "Hi Asha, order #42 ships today." in thread
    assert "{{1}}" not in thread.split('data-testid="thread"')[1].split("</ul>")[0]
    listing = client.get("/staff/inbox/").content.decode()
    assert "Hi Asha, order #42 ships today." in listing  # the list's snippet too
    rows = contact_messaging().recent_messages(conversation.contact, limit=5)
    assert rows[0].summary == "Hi Asha, order #42 ships today."  # and the contact page's


def test_demo_history_carries_its_parameters():
    channel = ChannelFactory()
    template = TemplateFactory(
        channel=channel,
        components=[
            {"type": "BODY", "text": "Hi {{1}}, your order {{2}} is late.",
             "example": {"body_text": [["Asha", "#40321"]]}},
        ],
        parameters={"body": ["1", "2"]},
    )  # fmt: skip
    contact = ConversationFactory(channel=channel).contact
    contact.name = "Kavya Menon"
    content = demo_template_content(template, contact)
    assert [p["text"] for p in content["components"][0]["parameters"]] == ["Kavya", "#40321"]


def test_examples_and_the_contacts_name_for_pickers():
    template = TemplateFactory(
        components=[
            {"type": "HEADER", "format": "TEXT", "text": "{{offer_name}} is here",
             "example": {"header_text_named_params": [{"param_name": "offer_name",
                                                       "example": "Diwali Sale"}]}},
            {"type": "BODY", "text": "Hi {{first_name}}, {{discount}} off. Dear {{3}}",
             "example": {"body_text_named_params": [{"param_name": "first_name",
                                                     "example": "Meera"}]}},
        ],
    )  # fmt: skip
    assert template_examples(template) == {
        "header": {"offer_name": "Diwali Sale"},
        "body": {"first_name": "Meera"},
        "header_media": "",
        "buttons": {},
    }
    values = template_contact_values(template, first_name="Ravi", full_name="Ravi Kumar")
    assert values == {"header": {}, "body": {"first_name": "Ravi", "3": "Ravi"}}
