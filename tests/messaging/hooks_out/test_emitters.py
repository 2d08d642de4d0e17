"""Each event is written where its change happens, in the same transaction: message statuses
(send path and status webhooks), inbound messages, consent, conversions, campaign states,
notification statuses."""

from __future__ import annotations

import pytest
from django.utils import timezone

from crm.models import Consent, ConsentSource
from crm.services import consent_set
from messaging.hooks_out.models import HookEvent, WebhookDelivery
from messaging.models import Campaign, Message, Notification, NotificationType, Status
from messaging.notifications.services import notification_send
from messaging.sending.dispatch import send_batch_run
from tests.factories import ContactFactory, TemplateFactory, WebhookSubscriptionFactory
from tests.messaging.webhooks.support import (
    failed,
    messages_payload,
    process,
    status,
    statuses_payload,
    text_message,
)

pytestmark = pytest.mark.django_db

T0 = 1767225700
ORDER = {"order_id": "#40321", "amount": "₹1,499.00", "delivery_date": "Friday",
         "tracking_id": "40321"}  # fmt: skip


def events(event_type: str) -> list[dict]:
    return [d.payload for d in WebhookDelivery.objects.filter(event_type=event_type).order_by("id")]


@pytest.fixture
def subscribed(db):
    return WebhookSubscriptionFactory()


def _sent_notification(channel, contact, reference="ORD-1") -> Notification:
    notification = notification_send(
        event_type="order_confirmation", contact=contact, variables=ORDER, reference_id=reference
    )
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    notification.refresh_from_db()
    assert notification.message.status == Status.ACCEPTED
    return notification


def test_a_message_lifecycle_becomes_ordered_status_events(subscribed, channel):
    contact = ContactFactory(phone="+919812345678")
    notification = _sent_notification(channel, contact)
    message = notification.message
    process(statuses_payload(status(message.wamid, "sent", T0)))
    # Delivered and read in one webhook: both are told, in order, each with its own time.
    process(
        statuses_payload(
            status(message.wamid, "read", T0 + 9), status(message.wamid, "delivered", T0 + 5)
        )
    )
    process(statuses_payload(status(message.wamid, "delivered", T0 + 5)))  # a duplicate
    told = [e["data"]["message"] for e in events(HookEvent.MESSAGE_STATUS)]
    assert [m["status"] for m in told] == ["accepted", "sent", "delivered", "read"]
    assert {m["id"] for m in told} == {str(message.uuid)}
    assert told[0]["wamid"] == message.wamid and told[0]["phone"] == "+919812345678"
    assert told[0]["channel"] == channel.phone_number_id
    assert told[3]["timestamp"] == "2026-01-01T00:01:49+00:00"
    keys = set(
        WebhookDelivery.objects.filter(event_type=HookEvent.MESSAGE_STATUS).values_list(
            "ordering_key", flat=True
        )
    )
    assert keys == {str(message.uuid)}

    # The notification's status follows its message's, queued first.
    told = [e["data"]["notification"] for e in events(HookEvent.NOTIFICATION_STATUS)]
    assert [n["status"] for n in told] == ["queued", "accepted", "sent", "delivered", "read"]
    assert {n["reference_id"] for n in told} == {"ORD-1"}
    assert {n["message_id"] for n in told} == {str(message.uuid)}


def test_a_failure_carries_its_code(subscribed, channel):
    notification = _sent_notification(channel, ContactFactory(phone="+919812345679"))
    wamid = notification.message.wamid
    process(statuses_payload(failed(wamid, 131026, T0, title="Message undeliverable")))
    last = events(HookEvent.MESSAGE_STATUS)[-1]["data"]["message"]
    assert last["status"] == "failed"
    assert last["error"]["code"] == 131026 and last["error"]["title"] == "Message undeliverable"
    assert events(HookEvent.NOTIFICATION_STATUS)[-1]["data"]["notification"]["status"] == "failed"


def test_a_refused_notification_is_told_with_its_reason(subscribed, channel):
    NotificationType.objects.filter(code="order_confirmation").update(enabled=False)
    notification_send(
        event_type="order_confirmation", contact=ContactFactory(), variables=ORDER,
        reference_id="ORD-9",
    )  # fmt: skip
    [told] = [e["data"]["notification"] for e in events(HookEvent.NOTIFICATION_STATUS)]
    assert told["status"] == "refused" and told["message_id"] is None
    assert told["refusal"]["code"] == "notification_type_disabled"


def test_subscribing_to_notifications_only_emits_no_message_status(channel):
    WebhookSubscriptionFactory(events=[HookEvent.NOTIFICATION_STATUS])
    _sent_notification(channel, ContactFactory(phone="+919812345670"))
    assert not events(HookEvent.MESSAGE_STATUS)
    assert [e["data"]["notification"]["status"] for e in events(HookEvent.NOTIFICATION_STATUS)] == [
        "queued", "accepted",
    ]  # fmt: skip


def test_an_inbound_message_is_told_with_its_content(subscribed):
    from tests.factories import ChannelFactory
    from tests.messaging.webhooks.support import PHONE_NUMBER_ID

    ChannelFactory(phone_number_id=PHONE_NUMBER_ID)
    process(messages_payload(text_message("wamid.IN.1", "Where is my order?", T0)))
    [told] = events(HookEvent.MESSAGE_INBOUND)
    message = Message.objects.get(wamid="wamid.IN.1")
    data = told["data"]["message"]
    assert data["id"] == str(message.uuid) and data["type"] == "text"
    assert data["content"] == {"body": "Where is my order?"}
    assert data["phone"] == "+919812345678" and data["channel"] == PHONE_NUMBER_ID
    # Meta delivering the same message again stores nothing and tells nothing.
    process(messages_payload(text_message("wamid.IN.1", "Where is my order?", T0), name="A."))
    assert len(events(HookEvent.MESSAGE_INBOUND)) == 1


def test_a_stop_keyword_tells_the_inbound_message_then_the_opt_out(subscribed):
    from tests.factories import ChannelFactory
    from tests.messaging.webhooks.support import PHONE_NUMBER_ID

    ChannelFactory(phone_number_id=PHONE_NUMBER_ID)
    ContactFactory(phone="+919812345678", wa_id="919812345678", consent=Consent.OPTED_IN)
    process(messages_payload(text_message("wamid.IN.2", "STOP", T0)))
    kinds = list(
        WebhookDelivery.objects.filter(
            event_type__in=[HookEvent.MESSAGE_INBOUND, HookEvent.CONTACT_CONSENT]
        )
        .order_by("id")
        .values_list("event_type", "ordering_key")
    )
    assert [k for k, _ in kinds] == [HookEvent.MESSAGE_INBOUND, HookEvent.CONTACT_CONSENT]
    assert len({key for _, key in kinds}) == 1  # one contact: delivered in this order
    consent = events(HookEvent.CONTACT_CONSENT)[0]["data"]["contact"]
    assert consent["consent"] == "opted_out" and consent["previous"] == "opted_in"
    assert consent["source"] == ConsentSource.KEYWORD


def test_a_consent_change_by_staff_is_told_with_its_source(subscribed):
    contact = ContactFactory(consent=Consent.UNKNOWN)
    consent_set(contact=contact, consent=Consent.OPTED_IN, source=ConsentSource.STAFF, note="form")
    consent_set(contact=contact, consent=Consent.OPTED_IN, source=ConsentSource.STAFF)  # no change
    [told] = events(HookEvent.CONTACT_CONSENT)
    assert told["data"]["contact"] == {
        "id": contact.pk, "phone": contact.phone, "consent": "opted_in", "previous": "unknown",
        "source": "staff", "note": "form", "at": told["data"]["contact"]["at"],
    }  # fmt: skip


def test_a_conversion_is_told_with_its_attribution(subscribed):
    from analytics.services.conversions import conversion_record

    contact = ContactFactory()
    conversion, created = conversion_record(
        reference_id="ORD-77", type="order", contact=contact, value="1499.00", currency="INR"
    )
    assert created
    conversion_record(reference_id="ORD-77", type="order", contact=contact)  # a repeat
    [told] = events(HookEvent.CONVERSION_CREATED)
    data = told["data"]["conversion"]
    assert data["id"] == conversion.pk and data["reference_id"] == "ORD-77"
    assert data["value"] == "1499.00" and data["currency"] == "INR"
    assert data["attribution"]["source"] == conversion.attribution_source


def test_campaign_transitions_are_told_in_order(subscribed, channel):
    from messaging.campaigns.services import campaign_cancel, campaign_unschedule

    template = TemplateFactory(channel=channel, name="campaign_hooks")
    campaign = Campaign.objects.create(
        name="Diwali", channel=channel, template=template, state="scheduled",
        scheduled_at=timezone.now() + timezone.timedelta(days=1),
    )  # fmt: skip
    campaign_unschedule(campaign=campaign, actor=None)
    campaign_cancel(campaign=campaign, reason="changed our mind")
    told = [e["data"]["campaign"] for e in events(HookEvent.CAMPAIGN_STATE)]
    assert [(c["previous_state"], c["state"]) for c in told] == [
        ("scheduled", "draft"), ("draft", "cancelled"),
    ]  # fmt: skip
    assert told[0]["id"] == campaign.pk and told[0]["name"] == "Diwali"
    assert told[1]["note"] == "changed our mind"
