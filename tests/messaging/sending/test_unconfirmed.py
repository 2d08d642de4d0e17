"""Unknown sends end: unconfirmed after SEND_UNKNOWN_SETTLE_HOURS, still settled by a late
webhook, and sent again only deliberately, once, as a new linked message."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from core.services import api_token_create
from messaging.models import Campaign, Message, Status, WebhookState
from messaging.sending.dispatch import send_batch_run
from messaging.sending.send import SendRefused
from messaging.sending.tasks import send_unknown_settle
from messaging.sending.unconfirmed import (
    NotResendable,
    message_resend,
    messages_resend,
    messages_unconfirmed,
    messages_unconfirmed_mark,
)
from tests.messaging.sending.test_dispatch import queue_texts
from tests.messaging.webhooks.support import failed, process, status, statuses_payload

pytestmark = pytest.mark.django_db


def unknown(channel, *, hours_ago: float, n: int = 1) -> list[Message]:
    """Messages whose send was ambiguous `hours_ago` (the answer lost, no webhook since)."""
    messages = queue_texts(channel, n)
    at = timezone.now() - timedelta(hours=hours_ago)
    Message.objects.filter(pk__in=[m.pk for m in messages]).update(
        status=Status.UNKNOWN, attempts=1, claimed_at=at, request_started_at=at
    )
    for message in messages:
        message.refresh_from_db()
    return messages


def unconfirmed(channel, n: int = 1) -> list[Message]:
    messages = unknown(channel, hours_ago=30, n=n)
    assert messages_unconfirmed_mark() == n
    for message in messages:
        message.refresh_from_db()
    return messages


# --- Settling ---------------------------------------------------------------------------------


def test_unknown_sends_become_unconfirmed_after_the_settle_time(channel, settings):
    settings.SEND_UNKNOWN_SETTLE_HOURS = 24
    (old,) = unknown(channel, hours_ago=25)
    (recent,) = unknown(channel, hours_ago=23)
    (sent,) = queue_texts(channel, 1)
    Message.objects.filter(pk=sent.pk).update(
        status=Status.SENT, claimed_at=timezone.now() - timedelta(hours=30)
    )

    assert send_unknown_settle.apply().result == {"unconfirmed": 1}

    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.unconfirmed and old.unconfirmed_at is not None
    assert old.status == Status.UNKNOWN  # a flag, not a status: a webhook may still settle it
    assert not recent.unconfirmed and recent.unconfirmed_at is None
    assert list(messages_unconfirmed()) == [old]
    # Marking again changes nothing (the first time stays).
    first = old.unconfirmed_at
    assert messages_unconfirmed_mark() == 0
    old.refresh_from_db()
    assert old.unconfirmed_at == first


def test_the_settle_time_is_a_setting(channel, settings):
    settings.SEND_UNKNOWN_SETTLE_HOURS = 1
    unknown(channel, hours_ago=2)
    assert messages_unconfirmed_mark() == 1


def test_beat_runs_the_settle_task():
    row = PeriodicTask.objects.get(task="messaging.send_unknown_settle")
    assert row.enabled and row.crontab is not None


def test_a_late_webhook_still_settles_an_unconfirmed_message(channel):
    (message,) = unconfirmed(channel)
    payload = statuses_payload(
        status(
            "wamid.LATE.1", "delivered", int(time.time()),
            biz_opaque_callback_data=str(message.uuid),
        ),
        phone_number_id=channel.phone_number_id,
    )  # fmt: skip
    event = process(payload)
    assert event.state == WebhookState.PROCESSED, event.error
    message.refresh_from_db()
    assert message.status == Status.DELIVERED
    assert message.wamid == "wamid.LATE.1"
    assert not message.unconfirmed
    assert message.unconfirmed_at is not None  # when it was given up on, kept for the record
    assert not messages_unconfirmed().exists()
    with pytest.raises(NotResendable, match="settled"):
        message_resend(message=message)
    assert not Message.objects.filter(resent_from=message).exists()


def test_a_late_retryable_failure_never_queues_a_message_that_was_sent_again(channel):
    """WhatsApp asks to retry (131000) a send staff already repeated: the old message stays
    failed, so the contact does not get it a third time."""
    (message,) = unconfirmed(channel)
    new, _ = message_resend(message=message)
    payload = statuses_payload(
        failed(
            "wamid.LATE.2", 131000, int(time.time()), biz_opaque_callback_data=str(message.uuid)
        ),
        phone_number_id=channel.phone_number_id,
    )
    assert process(payload).state == WebhookState.PROCESSED
    message.refresh_from_db()
    new.refresh_from_db()
    assert message.status == Status.FAILED and message.error_code == 131000
    assert new.status == Status.QUEUED and new.resent_from_id == message.pk


# --- Sending again ----------------------------------------------------------------------------


def test_resend_creates_one_new_linked_message_and_a_second_submit_returns_it(
    channel, simulator, make_user
):
    (message,) = unconfirmed(channel)
    staff = make_user("Campaign manager")
    new, created = message_resend(message=message, actor=staff)
    assert created
    assert new.pk != message.pk and new.uuid != message.uuid
    assert new.resent_from == message
    assert new.status == Status.QUEUED and new.attempts == 0
    assert (new.contact, new.channel, new.type, new.content, new.lane) == (
        message.contact, message.channel, message.type, message.content, message.lane,
    )  # fmt: skip
    assert new.sent_by == staff
    # Double submit: the same resend, nothing more.
    again, created_again = message_resend(message=message, actor=staff)
    assert (again.pk, created_again) == (new.pk, False)
    assert Message.objects.filter(resent_from=message).count() == 1
    # The old message stays as it was: unconfirmed, and linked to its resend.
    message.refresh_from_db()
    assert message.unconfirmed and message.resent_as == new
    # The new message goes out like any other.
    assert send_batch_run(channel_id=channel.pk, max_seconds=5)["accepted"] == 1
    assert simulator.counts() == {message.contact.wa_id: 1}


def test_only_unconfirmed_messages_are_sent_again(channel):
    (still_waiting,) = unknown(channel, hours_ago=1)
    (queued,) = queue_texts(channel, 1)
    for message in (still_waiting, queued):
        with pytest.raises(NotResendable):
            message_resend(message=message)
    assert not Message.objects.filter(resent_from__isnull=False).exists()


def test_a_resend_passes_the_send_rules_again(channel):
    (message,) = unconfirmed(channel)
    message.contact.blocked = True
    message.contact.save()
    with pytest.raises(SendRefused) as refused:
        message_resend(message=message)
    assert refused.value.code == "contact_blocked"
    assert not Message.objects.filter(resent_from=message).exists()


def test_a_resend_of_a_campaign_message_leaves_the_campaign(channel):
    """A campaign reaches each contact once (unique constraint); a person's resend is a
    message of its own, linked to the campaign's through `resent_from`."""
    campaign = Campaign.objects.create(name="c", channel=channel)
    (message,) = unconfirmed(channel)
    Message.objects.filter(pk=message.pk).update(campaign=campaign)
    new, _ = message_resend(message=message)
    assert new.campaign_id is None and new.resent_from.campaign_id == campaign.pk


def test_bulk_resend_reports_each_outcome(channel):
    first, second, blocked = unconfirmed(channel, n=3)
    message_resend(message=first)
    blocked.contact.blocked = True
    blocked.contact.save()
    report = messages_resend(messages=[first, second, blocked])
    assert [m.resent_from_id for m in report.resent] == [second.pk]
    assert report.already == 1
    assert [(m.pk, "blocked" in reason.lower()) for m, reason in report.refused] == [
        (blocked.pk, True)
    ]


# --- API --------------------------------------------------------------------------------------


def token_client(api_client, user):
    _, key = api_token_create(user=user, name="integration")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api_client


def test_the_api_shows_unconfirmed_and_filters_on_it(channel, api_client, make_user):
    (message,) = unconfirmed(channel)
    queue_texts(channel, 1)
    client = token_client(api_client, make_user("Analyst"))
    body = client.get(f"/api/v1/messages/{message.uuid}/").json()
    assert body["status"] == "unknown"
    assert body["unconfirmed"] is True and body["unconfirmed_at"]
    assert body["resent_from"] is None and body["resent_as"] is None
    listed = client.get("/api/v1/messages/?unconfirmed=true").json()["results"]
    assert [row["id"] for row in listed] == [str(message.uuid)]
    others = client.get("/api/v1/messages/?unconfirmed=false").json()["results"]
    assert str(message.uuid) not in {row["id"] for row in others} and len(others) == 1


def test_api_resend_creates_a_linked_message_once(channel, api_client, make_user):
    (message,) = unconfirmed(channel)
    client = token_client(api_client, make_user("Campaign manager"))
    url = f"/api/v1/messages/{message.uuid}/resend/"
    first = client.post(url)
    assert first.status_code == 202, first.json()
    body = first.json()
    assert body["resent_from"] == str(message.uuid) and body["status"] == "queued"
    again = client.post(url)
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert Message.objects.filter(resent_from=message).count() == 1
    old = client.get(f"/api/v1/messages/{message.uuid}/").json()
    assert old["resent_as"] == body["id"]


def test_api_resend_refuses_a_message_that_is_not_unconfirmed(channel, api_client, make_user):
    (message,) = queue_texts(channel, 1)
    client = token_client(api_client, make_user("Campaign manager"))
    response = client.post(f"/api/v1/messages/{message.uuid}/resend/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_resendable"


@pytest.mark.parametrize("role", [None, "Agent", "Analyst", "Content reviewer"])
def test_api_resend_needs_the_permission(channel, api_client, make_user, role):
    (message,) = unconfirmed(channel)
    url = f"/api/v1/messages/{message.uuid}/resend/"
    assert api_client.post(url).status_code == 401  # anonymous
    client = token_client(api_client, make_user(role))
    assert client.post(url).status_code == 403
    assert not Message.objects.filter(resent_from=message).exists()


# --- Admin ------------------------------------------------------------------------------------


def test_admin_lists_unconfirmed_and_sends_them_again(channel, client, admin_user):
    message, other = unconfirmed(channel, n=2)
    (queued,) = queue_texts(channel, 1)
    client.force_login(admin_user)
    listing = client.get("/admin/messaging/message/?confirmation=unconfirmed")
    assert listing.status_code == 200
    assert {m.pk for m in listing.context["cl"].result_list} == {message.pk, other.pk}
    response = client.post(
        "/admin/messaging/message/",
        {"action": "resend_unconfirmed", "_selected_action": [message.pk, queued.pk]},
        follow=True,
    )
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    assert any("1 message(s) sent again" in text for text in shown), shown
    assert any("Only an unconfirmed message" in text for text in shown), shown
    assert Message.objects.filter(resent_from=message).count() == 1
    assert not Message.objects.filter(resent_from__in=[other, queued]).exists()


def test_admin_resend_action_needs_the_permission(channel, client, make_user):
    (message,) = unconfirmed(channel)
    client.force_login(make_user("Analyst"))  # may read messages in the admin, not resend
    listing = client.get("/admin/messaging/message/")
    assert listing.status_code == 200
    assert "resend_unconfirmed" not in listing.content.decode()
    client.post(
        "/admin/messaging/message/",
        {"action": "resend_unconfirmed", "_selected_action": [message.pk]},
    )
    assert not Message.objects.filter(resent_from=message).exists()
