"""Replies and clicks credited to the outbound messages they answer (`replied_at`,
`clicked_at`, messaging.sending.engagement): set by the inbound webhook path, the button
recorder and the link recorder as they happen, and made good by the rollup's pass for what
was stored another way, with the same result."""

import datetime as dt

import pytest
import time_machine

from analytics.services.engagement import engagement_reconcile_span
from messaging.links.services import link_click_record
from messaging.models import Campaign, LinkClick, Message, Status, TrackedLink
from messaging.sending.engagement import click_mark, replies_mark
from tests.factories import ChannelFactory, ContactFactory, InboundMessageFactory, MessageFactory
from tests.messaging.webhooks.support import messages_payload, process, text_message

pytestmark = pytest.mark.django_db

WA_ID = "919812345678"
T0 = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)
BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1"


def at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def ts(moment: dt.datetime) -> int:
    return int(moment.timestamp())


@pytest.fixture(autouse=True)
def _window(settings):
    settings.ATTRIBUTION_WINDOW_DAYS = 7
    with time_machine.travel(at(24 * 20), tick=False):
        yield


@pytest.fixture
def channel():
    return ChannelFactory(phone_number_id="200000000000001")


@pytest.fixture
def contact():
    return ContactFactory(wa_id=WA_ID, phone=f"+{WA_ID}")


def send(channel, contact, sent_at, **fields):
    fields.setdefault("status", Status.DELIVERED)
    if "created_at" not in fields:
        fields["created_at"] = sent_at - dt.timedelta(seconds=2)
    return MessageFactory(
        channel=channel, contact=contact, type="template", sent_at=sent_at, **fields
    )


def marks(*messages):
    out = []
    for message in messages:
        message.refresh_from_db()
        out.append((message.replied_at, message.clicked_at))
    return out


def test_an_inbound_message_marks_the_sends_of_the_window_before_it(channel, contact):
    old = send(channel, contact, at(-24 * 8))  # more than a window before the reply
    first = send(channel, contact, at(0))
    second = send(channel, contact, at(5))
    later = send(channel, contact, at(30))  # after the reply
    other = send(channel, ContactFactory(), at(1))  # someone else's
    unsent = MessageFactory(channel=channel, contact=contact, status=Status.QUEUED,
                            created_at=at(1))  # fmt: skip

    process(messages_payload(text_message("wamid.in1", "Thanks!", ts(at(6)))))
    process(messages_payload(text_message("wamid.in2", "And again", ts(at(7)))))

    assert Message.objects.get(wamid="wamid.in1").contact_id == contact.pk
    assert marks(old, first, second, later, other, unsent) == [
        (None, None), (at(6), None), (at(6), None), (None, None), (None, None), (None, None),
    ]  # fmt: skip


def test_a_reaction_is_no_reply(channel, contact):
    message = send(channel, contact, at(0))
    reaction = text_message("wamid.r", "", ts(at(1)))
    reaction.pop("text")
    reaction.update(type="reaction", reaction={"message_id": message.wamid or "x", "emoji": "👍"})
    process(messages_payload(reaction))
    assert marks(message) == [(None, None)]


def test_the_earliest_reply_wins_whatever_order_they_are_taken_in(channel, contact):
    message = send(channel, contact, at(0))
    replies_mark(contact_id=contact.pk, at=at(3))
    replies_mark(contact_id=contact.pk, at=at(2))
    replies_mark(contact_id=contact.pk, at=at(4))
    assert marks(message) == [(at(2), None)]


def test_a_tap_marks_the_message_it_answers(channel, contact, django_capture_on_commit_callbacks):
    campaign = Campaign.objects.create(name="Offer", channel=channel)
    message = send(channel, contact, at(0), wamid="wamid.OUT.offer", campaign=campaign)
    tap = text_message("wamid.tap", "", ts(at(2)), context={"from": "15550001111",
                                                            "id": "wamid.OUT.offer"})  # fmt: skip
    tap.pop("text")
    tap.update(type="button", button={"payload": "MORE", "text": "Tell me more"})
    with django_capture_on_commit_callbacks(execute=True):
        process(messages_payload(tap))
    assert marks(message) == [(at(2), at(2))]


def test_a_click_outside_the_window_or_by_a_bot_marks_nothing(channel, contact):
    message = send(channel, contact, at(0))
    TrackedLink.objects.create(
        token="tok-a", url="https://shop.example.com/", contact=contact, message=message
    )
    with time_machine.travel(at(24 * 8), tick=False):
        link_click_record(token="tok-a", user_agent=BROWSER, ip="10.0.0.1")
    with time_machine.travel(at(1), tick=False):
        link_click_record(token="tok-a", user_agent="facebookexternalhit/1.1", ip="10.0.0.2")
    assert marks(message) == [(None, None)]
    with time_machine.travel(at(3), tick=False):
        link_click_record(token="tok-a", user_agent=BROWSER, ip="10.0.0.1")
    assert marks(message) == [(None, at(3))]
    assert click_mark(message_id=message.pk, at=at(5)) == 0  # a later click changes nothing


def test_a_campaign_link_credits_the_campaign_message_to_the_contact(channel, contact):
    campaign = Campaign.objects.create(name="Offer", channel=channel)
    message = send(channel, contact, at(0), campaign=campaign)
    TrackedLink.objects.create(token="tok-c", url="https://shop.example.com/", contact=contact,
                               campaign=campaign)  # fmt: skip
    with time_machine.travel(at(2), tick=False):
        link_click_record(token="tok-c", user_agent=BROWSER, ip="10.0.0.1")
    assert marks(message) == [(None, at(2))]


def test_the_rollup_pass_credits_what_was_stored_another_way_as_the_live_path_would(
    channel, contact
):
    """The same history taken in live and loaded behind the paths' backs ends with the same
    marks once the rollup's pass ran over its days; a second pass changes nothing."""
    campaign = Campaign.objects.create(name="Offer", channel=channel)
    stranger = ContactFactory()
    sends = [
        send(channel, contact, at(0), campaign=campaign),
        send(channel, contact, at(4)),
        send(channel, contact, at(-24 * 9)),
        send(channel, stranger, at(1)),
    ]
    # A reply taken before its message's "sent" status came: the live mark cannot see it.
    early = send(channel, stranger, None, status=Status.ACCEPTED, accepted_at=at(1),
                 created_at=at(1))  # fmt: skip
    InboundMessageFactory(channel=channel, contact=contact, received_at=at(6), created_at=at(6))
    InboundMessageFactory(channel=channel, contact=stranger, received_at=at(2), created_at=at(2))
    InboundMessageFactory(channel=channel, contact=contact, type="reaction", received_at=at(3),
                          created_at=at(3), content={"emoji": "👍"})  # fmt: skip
    link = TrackedLink.objects.create(token="tok-r", url="https://shop.example.com/",
                                      contact=contact, campaign=campaign)  # fmt: skip
    LinkClick.objects.create(link=link, clicked_at=at(7))
    LinkClick.objects.create(link=link, clicked_at=at(6.5), is_bot=True)
    Message.objects.filter(pk=early.pk).update(sent_at=at(1.5))

    engagement_reconcile_span(at(-24 * 10), at(24))
    assert marks(*sends, early) == [
        (at(6), at(7)), (at(6), None), (None, None), (at(2), None), (at(2), None),
    ]  # fmt: skip
    assert engagement_reconcile_span(at(-24 * 10), at(24)) == {"replied": 0, "clicked": 0}
