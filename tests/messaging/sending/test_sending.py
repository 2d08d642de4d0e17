"""The send rules: every refusal happens before anything is queued or reaches a provider."""

from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.models import Message, Status
from messaging.sending.send import SendRefused, message_send, template_content_build
from tests.factories import ContactFactory, window_open

pytestmark = pytest.mark.django_db


def in_window(channel, **kwargs):
    """A contact who wrote to `channel` an hour ago: its 24-hour window is open."""
    contact = ContactFactory(**kwargs)
    window_open(contact, channel, at=timezone.now() - timedelta(hours=1))
    return contact


def send_text(channel, contact, body="Hello"):
    return message_send(channel=channel, contact=contact, type="text", content={"body": body})


def order_template(channel):
    from messaging.models import MessageTemplate

    template = MessageTemplate.objects.get(
        channel=channel, name="order_confirmation", language="en"
    )
    return template, template_content_build(
        template=template,
        header=["#40321"],
        body=["Asha", "#40321", "₹1,499.00", "Friday"],
        button_url_values={"0": "40321"},
    )


def test_text_inside_the_window_is_queued_and_enqueued(channel, django_capture_on_commit_callbacks):
    contact = in_window(channel)
    with django_capture_on_commit_callbacks() as callbacks:
        message = send_text(channel, contact)
    assert message.status == Status.QUEUED
    assert message.direction == "out"
    assert len(callbacks) == 1


def test_free_form_outside_the_window_is_refused(channel, simulator):
    contact = ContactFactory()
    window_open(contact, channel, at=timezone.now() - timedelta(hours=25))
    with pytest.raises(SendRefused) as exc:
        send_text(channel, contact)
    assert exc.value.code == "window_closed"
    assert "template" in exc.value.message
    never = ContactFactory(last_inbound_at=None)
    with pytest.raises(SendRefused):
        send_text(channel, never)
    assert not Message.objects.exists()
    assert simulator.counts() == {}


def test_approved_template_outside_the_window_is_allowed(channel):
    contact = ContactFactory(last_inbound_at=None)
    template, content = order_template(channel)
    message = message_send(channel=channel, contact=contact, type="template", content=content)
    assert message.template == template
    assert message.is_marketing is False


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"blocked": True}, "contact_blocked"),
        ({"undeliverable": True, "undeliverable_reason": "131026"}, "contact_undeliverable"),
        ({"phone": None, "wa_id": None, "bsuid": None}, "no_address"),
    ],
)
def test_contact_state_refusals(channel, changes, code):
    contact = in_window(channel, **changes)
    with pytest.raises(SendRefused) as exc:
        send_text(channel, contact)
    assert exc.value.code == code


def marketing_content(channel):
    from messaging.models import MessageTemplate

    template = MessageTemplate.objects.filter(
        channel=channel, category="MARKETING", status="APPROVED"
    ).first()
    assert template is not None
    declared = template.parameters
    return template_content_build(
        template=template,
        body=["x"] * len(declared.get("body", [])),
        header=["x"] * len(declared.get("header", [])) or None,
        header_media_link="https://93.184.215.14/banner.png",
        button_url_values=dict.fromkeys(declared.get("buttons", {}), "x"),
    )


@pytest.mark.parametrize(
    ("consent", "code"), [("unknown", "no_consent"), ("opted_out", "opted_out")]
)
def test_marketing_needs_consent(channel, consent, code):
    content = marketing_content(channel)
    with pytest.raises(SendRefused) as exc:
        message_send(
            channel=channel, contact=ContactFactory(consent=consent), type="template",
            content=content,
        )  # fmt: skip
    assert exc.value.code == code


def test_marketing_with_consent_is_queued(channel):
    message = message_send(
        channel=channel, contact=ContactFactory(consent="opted_in"), type="template",
        content=marketing_content(channel),
    )  # fmt: skip
    assert message.is_marketing is True


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda c: c.update(name="no_such_template"), "template_unknown"),
        (lambda c: c["components"].pop(1), "template_parameters_missing"),
        (lambda c: c["components"][1]["parameters"].pop(), "template_parameters_missing"),
        (lambda c: c["components"].pop(0), "template_parameters_missing"),
    ],
)
def test_template_checks(channel, mutate, code):
    _, content = order_template(channel)
    mutate(content)
    with pytest.raises(SendRefused) as exc:
        message_send(channel=channel, contact=ContactFactory(), type="template", content=content)
    assert exc.value.code == code


def test_unapproved_template_is_refused(channel):
    from messaging.models import MessageTemplate

    pending = MessageTemplate.objects.filter(channel=channel).exclude(status="APPROVED").first()
    assert pending is not None
    content = {"name": pending.name, "language": {"code": pending.language}}
    with pytest.raises(SendRefused) as exc:
        message_send(channel=channel, contact=ContactFactory(), type="template", content=content)
    assert exc.value.code == "template_not_approved"


def test_named_parameters_are_checked_by_name(channel):
    from messaging.models import MessageTemplate

    template = MessageTemplate.objects.get(channel=channel, name="payment_received")
    values = {"customer_name": "Asha", "amount": "₹10", "paid_on": "today", "reference": "R1"}
    content = template_content_build(template=template, body=values)
    message_send(channel=channel, contact=ContactFactory(), type="template", content=content)
    content["components"][0]["parameters"].pop()
    with pytest.raises(SendRefused) as exc:
        message_send(channel=channel, contact=ContactFactory(), type="template", content=content)
    assert exc.value.details["missing"] == ["reference"]


@pytest.mark.parametrize(
    "link",
    [
        "http://127.0.0.1/x.png",
        "http://10.0.0.5/x.png",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x.png",
        "file:///etc/passwd",
        "http://user:pw@example.com/x.png",
        "https://example.com:8443/x.png",
    ],
)
def test_media_links_pass_the_ssrf_guard(channel, link, settings):
    settings.MEDIA_URL_ALLOW_PRIVATE = False
    with pytest.raises(SendRefused) as exc:
        message_send(
            channel=channel, contact=in_window(channel), type="image", content={"link": link}
        )
    assert exc.value.code == "media_url_refused"


def test_public_media_link_is_accepted(channel, settings):
    settings.MEDIA_URL_ALLOW_PRIVATE = False
    message = message_send(
        channel=channel,
        contact=in_window(channel),
        type="image",
        content={"link": "https://93.184.215.14/cat.png", "caption": "A cat"},
    )
    assert message.type == "image"


@pytest.mark.parametrize(
    ("type_", "content"),
    [
        ("text", {"body": "x" * 4097}),
        (
            "interactive",
            {
                "type": "button",
                "body": {"text": "Pick"},
                "action": {
                    "buttons": [
                        {"type": "reply", "reply": {"id": str(i), "title": f"B{i}"}}
                        for i in range(4)
                    ]
                },
            },
        ),
        (
            "interactive",
            {
                "type": "button",
                "body": {"text": "Pick"},
                "action": {"buttons": [{"type": "reply", "reply": {"id": "1", "title": "x" * 21}}]},
            },
        ),
        ("image", {"id": "1", "link": "https://93.184.215.14/a.png"}),
    ],
)
def test_documented_limits_are_enforced_before_queueing(channel, type_, content):
    with pytest.raises(SendRefused) as exc:
        message_send(channel=channel, contact=in_window(channel), type=type_, content=content)
    assert exc.value.code == "invalid_message"


def test_paused_channel_refuses(channel):
    channel.paused_reason = "token expired"
    channel.save()
    with pytest.raises(SendRefused) as exc:
        send_text(channel, in_window(channel))
    assert exc.value.code == "channel_inactive"
