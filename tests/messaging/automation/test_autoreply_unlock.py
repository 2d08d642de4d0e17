"""Click-to-Unlock end to end: a distributed content announcement, a signed inbound button
webhook tapping its unlock button, webhook processing, the auto-reply task run synchronously,
and the unlocked content queued (then sent through the simulator) inside the tap's window."""

import time
from unittest import mock

import pytest

from messaging.automation.tasks import autoreply_run
from messaging.models import (
    AutoReplyRun,
    ContentDelivery,
    ContentUnlock,
    Conversation,
    Direction,
    Lane,
    Message,
    MessageTemplate,
    Status,
    WebhookEvent,
)
from messaging.sending.dispatch import send_batch_run
from messaging.webhooks.services import webhook_event_process
from tests.factories import AdvisorFactory, ContactFactory, ContentItemFactory
from tests.messaging.webhooks.support import messages_payload, post_signed, text_message

pytestmark = pytest.mark.django_db


@pytest.fixture
def announced(channel, make_user, settings):
    """An approved content item announced to one advisor through the simulator."""
    from messaging.content.distribution import content_distribute
    from messaging.content.services import content_approve, content_submit

    settings.MEDIA_URL_ALLOW_PRIVATE = True
    settings.SEND_RECIPIENT_MIN_GAP_SECONDS = 0
    template = MessageTemplate.objects.get(channel=channel, name="advisor_content_ready")
    author, reviewer = make_user("Campaign manager"), make_user("Content reviewer")
    AdvisorFactory(contact=ContactFactory(name="Ravi Kumar"))
    item = ContentItemFactory(
        template=template, created_by=author, body="Mid-caps rallied 2.1% on strong earnings."
    )
    content_submit(item=item, actor=author)
    content_approve(item=item, reviewer=reviewer)
    content_distribute()
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    delivery = ContentDelivery.objects.select_related("message", "contact").get(content_item=item)
    assert delivery.message.wamid
    return delivery


def test_a_button_tap_unlocks_the_content_through_the_autoreply_task(
    client, channel, simulator, announced, django_capture_on_commit_callbacks
):
    delivery, contact = announced, announced.contact
    tap = text_message(
        "wamid.TAP.unlock",
        "",
        int(time.time()),
        wa_id=contact.wa_id,
        type="button",
        button={"payload": f"UNLOCK_CONTENT:{delivery.pk}", "text": "Unlock content"},
        context={"from": channel.display_phone_number, "id": delivery.message.wamid},
    )
    response = post_signed(client, messages_payload(tap), secret="simulator-app-secret")
    assert response.status_code == 200

    # The webhook worker processes the stored body and, on commit, only enqueues automation.
    event = WebhookEvent.objects.get()
    with (
        mock.patch.object(autoreply_run, "delay") as enqueued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        webhook_event_process(event_id=event.pk)
    inbound = Message.objects.get(wamid="wamid.TAP.unlock")
    enqueued.assert_called_once_with(inbound.pk)
    replies = Message.objects.filter(direction=Direction.OUTBOUND).exclude(pk=delivery.message_id)
    assert not replies.exists()  # nothing was sent inside the webhook processing

    autoreply_run.apply(args=[inbound.pk]).get()  # what a `default` worker would run

    run = AutoReplyRun.objects.get(message=inbound)
    assert (run.rule_key, run.outcome) == ("builtin:unlock", "sent")
    unlocked = run.reply
    assert unlocked.status == Status.QUEUED and unlocked.is_automated
    assert unlocked.lane == Lane.PRIORITY and unlocked.type == "text"
    assert "Mid-caps rallied" in unlocked.content["body"]
    assert ContentUnlock.objects.get(delivery=delivery).message_id == unlocked.pk
    conversation = Conversation.objects.get(contact=contact, channel=channel)
    assert conversation.first_response_automated and conversation.first_response_at

    # A redelivered task sends nothing more; the queued message really goes out.
    autoreply_run.apply(args=[inbound.pk]).get()
    assert AutoReplyRun.objects.filter(message=inbound).count() == 1
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    sent = [m for m in simulator.messages() if m["to"] == contact.wa_id]
    assert [m["type"] for m in sent] == ["template", "text"]
