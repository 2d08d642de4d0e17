"""The send path's extension point: campaigns take part in dispatch without sending
importing campaigns, and dispatch works with no room registered at all."""

from unittest import mock

import pytest

from messaging.campaigns.send_hooks import CAMPAIGN_SEND_HOOKS
from messaging.models import Campaign, CampaignState, Lane, Message
from messaging.sending import hooks
from messaging.sending.dispatch import messages_claim
from tests.messaging.sending.test_dispatch import queue_texts

pytestmark = pytest.mark.django_db


def test_campaigns_register_their_hooks_at_ready():
    assert CAMPAIGN_SEND_HOOKS in hooks.send_hooks()


def test_a_paused_campaigns_messages_are_held_and_others_are_claimed(channel):
    paused = Campaign.objects.create(name="held", channel=channel, state=CampaignState.PAUSED)
    held, free = queue_texts(channel, 2)
    Message.objects.filter(pk__in=[held.pk, free.pk]).update(lane=Lane.BULK)
    Message.objects.filter(pk=held.pk).update(campaign=paused)
    claimed = messages_claim(channel_id=channel.pk, lane=Lane.BULK, limit=10)
    assert [m.pk for m in claimed] == [free.pk]


def test_with_no_room_registered_nothing_is_held(channel):
    paused = Campaign.objects.create(name="held", channel=channel, state=CampaignState.PAUSED)
    (message,) = queue_texts(channel, 1)
    Message.objects.filter(pk=message.pk).update(lane=Lane.BULK, campaign=paused)
    with mock.patch.object(hooks, "_registered", []):
        assert hooks.held_q() is None
        assert hooks.throttles({paused.pk}) == {}
        hooks.failures_seen({paused.pk})  # nobody to tell: no error
        claimed = messages_claim(channel_id=channel.pk, lane=Lane.BULK, limit=10)
    assert [m.pk for m in claimed] == [message.pk]


def test_permanent_failures_reach_every_registered_room():
    seen = []
    extra = hooks.SendHooks(
        held=lambda: None,
        paused=lambda: None,
        throttles=lambda ids: dict.fromkeys(ids, 2.0),
        failures_seen=seen.append,
        queue_drained=lambda: None,
    )
    with mock.patch.object(hooks, "_registered", [extra]):
        hooks.failures_seen({3, 4})
        hooks.failures_seen(set())  # no failures, no call
        assert hooks.throttles({3}) == {3: 2.0}
    assert seen == [{3, 4}]
