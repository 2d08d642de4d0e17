"""Attribution: last delivered campaign, content or notification touch within the window."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from analytics.models import ConversionEvent
from analytics.services.conversions import (
    ConversionInvalid,
    conversion_record,
    conversions_attribute,
)
from messaging.models import (
    Campaign,
    ContentDelivery,
    ContentUnlock,
    Notification,
    NotificationType,
    Status,
)
from tests.factories import ChannelFactory, ContactFactory, ContentItemFactory, MessageFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
T = datetime(2026, 5, 20, 10, 0, tzinfo=UTC)  # the conversion


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def contact():
    return ContactFactory()


@pytest.fixture
def campaign():
    return Campaign.objects.create(name="Sale", channel=ChannelFactory())


def touch(contact, *, delivered=None, read=None, status=Status.DELIVERED, **fields):
    return MessageFactory(
        contact=contact, status=status, delivered_at=delivered, read_at=read, **fields
    )


def record(contact, when=T, ref="ORD-1", **kwargs):
    conversion, _ = conversion_record(
        reference_id=ref,
        type=kwargs.pop("type", "order"),
        contact=contact,
        occurred_at=when,
        value=kwargs.pop("value", 100),
        **kwargs,
    )
    return conversion


def test_a_delivered_campaign_message_gets_the_credit(contact, campaign):
    message = touch(contact, campaign=campaign, delivered=T - timedelta(hours=2))
    conversion = record(contact)
    assert conversion.attribution_source == "campaign"
    assert conversion.attributed_message == message
    assert conversion.attributed_campaign == campaign
    assert conversion.attributed_channel_id == message.channel_id
    assert conversion.touched_at == T - timedelta(hours=2)


def test_a_message_delivered_after_the_conversion_does_not_count(contact, campaign):
    touch(contact, campaign=campaign, delivered=T + timedelta(seconds=1))
    assert record(contact).attribution_source == "organic"


def test_a_delivery_at_the_very_instant_counts(contact, campaign):
    touch(contact, campaign=campaign, delivered=T)
    assert record(contact).attribution_source == "campaign"


@pytest.mark.parametrize(
    ("age", "source"),
    [
        (timedelta(days=7), "campaign"),  # the window's edge is inside
        (timedelta(days=7, seconds=1), "organic"),
        (timedelta(days=30), "organic"),
    ],
)
def test_the_window(contact, campaign, age, source, settings):
    settings.ATTRIBUTION_WINDOW_DAYS = 7
    touch(contact, campaign=campaign, delivered=T - age)
    assert record(contact).attribution_source == source


def test_the_window_is_a_setting(contact, campaign, settings):
    settings.ATTRIBUTION_WINDOW_DAYS = 1
    touch(contact, campaign=campaign, delivered=T - timedelta(days=2))
    assert record(contact).attribution_source == "organic"


def test_failed_messages_do_not_count(contact, campaign):
    touch(contact, campaign=campaign, status=Status.FAILED, error_code=131026)
    other = Campaign.objects.create(name="Other", channel=campaign.channel)
    touch(contact, campaign=other, status=Status.SENT, sent_at=T - timedelta(hours=1))
    assert record(contact).attribution_source == "organic"


def test_the_latest_touch_wins(contact, campaign):
    item = ContentItemFactory()
    early = touch(contact, campaign=campaign, delivered=T - timedelta(days=2))
    late = touch(contact, delivered=T - timedelta(hours=1))
    ContentDelivery.objects.create(content_item=item, contact=contact, message=late)
    conversion = record(contact)
    assert conversion.attributed_message == late != early
    assert conversion.attribution_source == "content"
    assert conversion.attributed_content_item == item
    assert conversion.attributed_campaign is None


def test_a_read_receipt_without_a_delivery_receipt_counts_from_its_time(contact, campaign):
    touch(contact, campaign=campaign, status=Status.READ, read=T - timedelta(minutes=5))
    conversion = record(contact)
    assert conversion.attribution_source == "campaign"
    assert conversion.touched_at == T - timedelta(minutes=5)


def test_unlocked_content_and_notifications_count(contact):
    item = ContentItemFactory()
    announcement = touch(contact, delivered=T - timedelta(days=3))
    delivery = ContentDelivery.objects.create(
        content_item=item, contact=contact, message=announcement
    )
    unlocked = touch(contact, delivered=T - timedelta(days=2))
    ContentUnlock.objects.create(delivery=delivery, kind="UNLOCK_CONTENT", message=unlocked)
    conversion = record(contact, ref="A")
    assert conversion.attributed_message == unlocked
    assert conversion.attributed_content_item == item

    kind = NotificationType.objects.get_or_create(code="payment", defaults={"name": "P"})[0]
    receipt = touch(contact, delivered=T - timedelta(days=1))
    notification = Notification.objects.create(
        event_type=kind, contact=contact, reference_id="N1", message=receipt
    )
    conversion = record(contact, ref="B")
    assert conversion.attribution_source == "notification"
    assert conversion.attributed_notification == notification


def test_plain_messages_and_other_contacts_are_not_touches(contact, campaign):
    touch(contact, delivered=T - timedelta(hours=1))  # an inbox reply: not attributable
    touch(ContactFactory(), campaign=campaign, delivered=T - timedelta(hours=1))
    assert record(contact).attribution_source == "organic"


def test_a_late_delivery_receipt_is_taken_into_account_on_recompute(contact, campaign):
    message = touch(contact, campaign=campaign, status=Status.SENT, sent_at=T - timedelta(hours=3))
    conversion = record(contact)
    assert conversion.attribution_source == "organic"
    message.status, message.delivered_at = Status.DELIVERED, T - timedelta(hours=2)
    message.save(update_fields=["status", "delivered_at"])
    conversions_attribute(ConversionEvent.objects.all())
    conversion.refresh_from_db()
    assert conversion.attribution_source == "campaign"
    assert conversion.attributed_message == message


def test_the_same_reference_returns_the_first(contact, campaign):
    first, created = conversion_record(
        reference_id="X", type="order", contact=contact, occurred_at=T, value="10.005"
    )
    again, created_again = conversion_record(
        reference_id="X", type="payment", contact=ContactFactory(), occurred_at=T, value=99
    )
    assert created and not created_again
    assert again.pk == first.pk and again.type == "order" and again.value == Decimal("10.01")
    assert ConversionEvent.objects.count() == 1


def test_currencies_are_converted_to_the_reporting_currency(contact, settings):
    settings.ANALYTICS_CURRENCY = "INR"
    settings.ANALYTICS_EXCHANGE_RATES = {"USD": "83.5"}
    conversion = record(contact, value="2", currency="usd")
    assert conversion.currency == "USD" and conversion.value_base == Decimal("167.00")
    with pytest.raises(ConversionInvalid) as exc:
        record(contact, ref="EUR-1", value="2", currency="EUR")
    assert exc.value.code == "unsupported_currency"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"type": "refund"}, "type"),
        ({"type": "page_view"}, "page_name"),
        ({"type": "custom"}, "name"),
        ({"value": -1}, "value"),
        ({"value": "abc"}, "value"),
        ({"currency": "RUPEES"}, "currency"),
        ({"when": NOW + timedelta(days=1)}, "occurred_at"),
        ({"when": datetime(2026, 5, 20, 10, 0)}, "occurred_at"),  # naive
    ],
)
def test_invalid_conversions_are_refused(contact, kwargs, field):
    when = kwargs.pop("when", T)
    with pytest.raises(ConversionInvalid) as exc:
        record(contact, when=when, **kwargs)
    assert field in exc.value.details
    assert not ConversionEvent.objects.exists()
