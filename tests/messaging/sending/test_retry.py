"""Staff retries of failed messages (the operations centre's job) through sending's service."""

import pytest

from messaging.models import Message, Status
from messaging.sending.retry import messages_failed_retry
from tests.factories import MessageFactory

pytestmark = pytest.mark.django_db


def test_failed_messages_go_back_to_the_queue_with_their_attempts_reset(
    channel, django_capture_on_commit_callbacks
):
    failed = MessageFactory(channel=channel, status=Status.FAILED, attempts=3, refusal="opted_out")
    with django_capture_on_commit_callbacks() as callbacks:
        assert messages_failed_retry(message_ids=[failed.pk]) == 1
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.refusal) == (Status.QUEUED, 0, "")
    assert len(callbacks) == 1  # the channel's drainer is nudged after commit


def test_a_message_already_sent_again_by_hand_stays_failed():
    failed = MessageFactory(status=Status.FAILED)
    MessageFactory(channel=failed.channel, contact=failed.contact, resent_from=failed)
    assert messages_failed_retry(message_ids=[failed.pk]) == 0
    assert Message.objects.get(pk=failed.pk).status == Status.FAILED
