"""The send policy at queue time: every reason code, the window per number, one query for
many messages. (Send time is in test_dispatch.py; campaigns in tests/messaging/campaigns.)"""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.services import api_token_create
from messaging.models import Conversation, Lane, Message, MessageTemplate
from messaging.sending import policy
from messaging.sending.dispatch import messages_claim
from messaging.sending.policy import (
    Reason,
    SendCheck,
    SendKind,
    send_policy_check,
    send_policy_check_many,
    send_policy_check_messages,
)
from messaging.sending.send import SendRefused, message_send, template_content_build
from tests.factories import ChannelFactory, ContactFactory, window_open
from tests.messaging.webhooks.support import messages_payload, process, text_message

pytestmark = pytest.mark.django_db


def order_content(channel, **overrides):
    template = MessageTemplate.objects.get(
        channel=channel, name="order_confirmation", language="en"
    )
    content = template_content_build(
        template=template,
        header=["#40321"],
        body=["Asha", "#40321", "₹1,499.00", "Friday"],
        button_url_values={"0": "40321"},
    )
    return {**content, **overrides}


def marketing_content(channel):
    template = MessageTemplate.objects.filter(
        channel=channel, category="MARKETING", status="APPROVED"
    ).first()
    declared = template.parameters
    return template_content_build(
        template=template,
        body=["x"] * len(declared.get("body", [])),
        header=["x"] * len(declared.get("header", [])) or None,
        header_media_link="https://93.184.215.14/banner.png",
        button_url_values=dict.fromkeys(declared.get("buttons", {}), "x"),
    )


def text(channel, contact):
    return {"channel": channel, "contact": contact, "type": "text", "content": {"body": "Hi"}}


def template(channel, contact, content):
    return {"channel": channel, "contact": contact, "type": "template", "content": content}


def other_template(channel, contact, name):
    found = MessageTemplate.objects.get(channel=channel, name=name)
    content = {"name": found.name, "language": {"code": found.language}}
    return template(channel, contact, content)


def with_window(channel, **contact_fields):
    contact = ContactFactory(**contact_fields)
    window_open(contact, channel)
    return contact


def _inactive(channel, monkeypatch):
    channel.is_active = False
    channel.save()
    return text(channel, with_window(channel))


def _restricted(channel, monkeypatch):
    # Meta restricted the number (account_update): it may not start conversations.
    channel.number_status = "RESTRICTED"
    channel.save(update_fields=["number_status"])
    return template(channel, ContactFactory(), order_content(channel))


def _over_budget(channel, monkeypatch):
    monkeypatch.setattr(policy, "channel_budget_left", lambda channel: 0)
    return template(channel, ContactFactory(), order_content(channel))


def _not_approved(channel, monkeypatch):
    return other_template(channel, ContactFactory(), "account_statement_ready")  # DISABLED


def _paused_template(channel, monkeypatch):
    return other_template(channel, ContactFactory(), "advisor_content_drop")  # PAUSED


def _parameters_missing(channel, monkeypatch):
    content = order_content(channel)
    content["components"] = [c for c in content["components"] if c["type"] != "body"]
    return template(channel, ContactFactory(), content)


def _blocked(channel, monkeypatch):
    return text(channel, with_window(channel, blocked=True))


def _undeliverable(channel, monkeypatch):
    contact = with_window(channel, undeliverable=True, undeliverable_reason="131026")
    return text(channel, contact)


def _no_address(channel, monkeypatch):
    return text(channel, with_window(channel, phone=None, wa_id=None, bsuid=None))


def _opted_out(channel, monkeypatch):
    return template(channel, ContactFactory(consent="opted_out"), marketing_content(channel))


def _no_consent(channel, monkeypatch):
    return template(channel, ContactFactory(consent="unknown"), marketing_content(channel))


def _window_closed(channel, monkeypatch):
    contact = ContactFactory()
    window_open(contact, channel, at=timezone.now() - timedelta(hours=24, minutes=1))
    return text(channel, contact)


QUEUE_CASES = {
    Reason.CHANNEL_INACTIVE: _inactive,
    Reason.CHANNEL_RESTRICTED: _restricted,
    Reason.OVER_BUDGET: _over_budget,
    Reason.TEMPLATE_NOT_APPROVED: _not_approved,
    Reason.TEMPLATE_PAUSED: _paused_template,
    Reason.TEMPLATE_PARAMETERS_MISSING: _parameters_missing,
    Reason.CONTACT_BLOCKED: _blocked,
    Reason.CONTACT_UNDELIVERABLE: _undeliverable,
    Reason.NO_ADDRESS: _no_address,
    Reason.OPTED_OUT: _opted_out,
    Reason.NO_CONSENT: _no_consent,
    Reason.WINDOW_CLOSED: _window_closed,
}


def test_every_reason_has_a_queue_time_case():
    assert set(QUEUE_CASES) == set(Reason)


@pytest.mark.parametrize("reason", list(QUEUE_CASES), ids=str)
def test_each_reason_refuses_at_queue_time(channel, simulator, monkeypatch, reason):
    send = QUEUE_CASES[reason](channel, monkeypatch)
    with pytest.raises(SendRefused) as exc:
        message_send(**send)
    assert exc.value.code == reason
    assert exc.value.message
    assert not Message.objects.exists()
    assert simulator.counts() == {}


def test_a_refusal_reaches_the_api_with_its_code(channel, make_user, api_client):
    _, key = api_token_create(user=make_user("Campaign manager"), name="shop")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    contact = ContactFactory(consent="opted_in")
    window_open(contact, channel)
    body = {"to": contact.phone, "type": "template", "template": {}}
    body["template"] = {"name": "advisor_content_drop", "language": {"code": "en"}}
    response = api_client.post("/api/v1/messages/", body, format="json")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "template_paused"


def test_the_window_is_per_number(channel, simulator):
    """A customer who wrote to number A gets free-form text from A, not from B."""
    second = ChannelFactory(
        name="Second", phone_number_id="200000000000002", base_url=simulator.url
    )
    now = int(timezone.now().timestamp())
    event = process(
        messages_payload(
            text_message("wamid.A1", "Where is my order?", now - 60),
            phone_number_id=channel.phone_number_id,
        )
    )
    assert not event.error
    conversation = Conversation.objects.get(channel=channel)
    contact = conversation.contact
    assert conversation.last_inbound_at is not None
    assert contact.last_inbound_at is not None  # the contact wrote: but not to B

    assert message_send(**text(channel, contact)).channel == channel
    with pytest.raises(SendRefused) as exc:
        message_send(**text(second, contact))
    assert exc.value.code == "window_closed"
    assert Message.objects.filter(channel=second).count() == 0
    refusal = send_policy_check(
        contact=contact, channel=second, kind=SendKind.SERVICE, needs_window=True
    )
    assert refusal is not None and refusal.code == "window_closed"


def test_the_window_is_asked_at_a_time(channel):
    contact = ContactFactory()
    window_open(contact, channel, at=timezone.now() - timedelta(hours=23))
    ask = {"contact": contact, "channel": channel, "kind": "service", "needs_window": True}
    assert send_policy_check(**ask) is None
    later = send_policy_check(**ask, at=timezone.now() + timedelta(hours=2))
    assert later is not None and later.code == "window_closed"
    assert later.details["window_expires_at"]


def test_templates_need_no_window_and_service_messages_no_budget(channel, monkeypatch):
    contact = ContactFactory()
    assert message_send(**template(channel, contact, order_content(channel))).template
    monkeypatch.setattr(policy, "channel_budget_left", lambda channel: 0)
    window_open(contact, channel)
    assert message_send(**text(channel, contact)).type == "text"


def test_number_refusals_hold_and_message_refusals_do_not():
    assert policy.Refusal(Reason.CHANNEL_INACTIVE, "x").holds
    assert policy.Refusal(Reason.OVER_BUDGET, "x").holds
    assert not policy.Refusal(Reason.WINDOW_CLOSED, "x").holds
    assert not policy.Refusal(Reason.NO_CONSENT, "x").holds


def test_many_messages_cost_one_query(channel, django_assert_num_queries):
    contacts = ContactFactory.create_batch(20)
    for contact in contacts[:10]:
        window_open(contact, channel)
    checks = [SendCheck(contact=c, kind=SendKind.SERVICE, needs_window=True) for c in contacts]
    with django_assert_num_queries(1):
        refusals = send_policy_check_many(channel=channel, checks=checks)
    assert [r is None for r in refusals] == [True] * 10 + [False] * 10


def test_a_claimed_batch_costs_two_queries(channel, django_assert_num_queries):
    for contact in ContactFactory.create_batch(5):
        window_open(contact, channel)
        message_send(**text(channel, contact))
    for contact in ContactFactory.create_batch(5):
        message_send(**template(channel, contact, order_content(channel)))
    claimed = messages_claim(channel_id=channel.pk, lane=Lane.PRIORITY, limit=50)
    assert len(claimed) == 10
    # One for the windows of every contact, one for the number's budget (templates count).
    with django_assert_num_queries(2):
        assert send_policy_check_messages(channel=channel, messages=claimed) == {}
