"""The dispatcher against the real simulator over HTTP on loopback."""

import itertools
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from crm.models import Contact
from messaging.models import Channel, Conversation, Lane, Message, MessageTemplate, Status
from messaging.providers import TemplateStatusUpdate, UserPreference
from messaging.sending import policy
from messaging.sending.dispatch import messages_claim, send_batch_run, send_sweep
from messaging.sending.send import message_send, template_content_build
from messaging.sending.serializers import MessageSerializer
from messaging.webhooks.inbound import template_status_apply, user_preference_apply
from tests.factories import ContactFactory, window_open

pytestmark = pytest.mark.django_db


def queue_texts(channel, n, **contact_kwargs):
    messages = []
    for i in range(n):
        contact = ContactFactory(**contact_kwargs)
        window_open(contact, channel)
        messages.append(
            message_send(channel=channel, contact=contact, type="text", content={"body": f"m{i}"})
        )
    return messages


def make_due():
    Message.objects.filter(status=Status.QUEUED).update(next_attempt_at=timezone.now())


def test_queued_messages_are_accepted_once(channel, simulator):
    messages = queue_texts(channel, 5)
    totals = send_batch_run(channel_id=channel.pk, max_seconds=10)
    assert totals["accepted"] == 5
    for message in messages:
        message.refresh_from_db()
        assert message.status == Status.ACCEPTED
        assert message.wamid.startswith("wamid.")
        assert message.attempts == 1
        assert message.contact.last_outbound_at is not None
    assert sorted(simulator.counts().values()) == [1] * 5
    # Running again sends nothing more.
    assert send_batch_run(channel_id=channel.pk, max_seconds=2)["accepted"] == 0
    assert sum(simulator.counts().values()) == 5


def test_the_simulator_sees_our_uuid_as_callback_data(channel, simulator):
    (message,) = queue_texts(channel, 1)
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    (sent,) = simulator.messages()
    assert sent["callback_data"] == str(message.uuid)


def test_throughput_storm_backs_off_then_every_message_is_accepted_once(
    channel, simulator, settings
):
    # A retry made due at once would otherwise wait out the recipient's gap (tested apart).
    settings.SEND_RECIPIENT_MIN_GAP_SECONDS = 0
    simulator.configure(error_storm={"code": 130429, "count": 3})
    messages = queue_texts(channel, 4)
    first = send_batch_run(channel_id=channel.pk, max_seconds=5)
    assert first["retrying"] == 3 and first["accepted"] == 1
    retrying = Message.objects.filter(status=Status.QUEUED)
    assert retrying.count() == 3
    for message in retrying:
        assert message.error_code == 130429
        assert message.next_attempt_at > timezone.now()
    # Jitter: the three backoffs are not all the same instant.
    assert len({m.next_attempt_at for m in retrying}) > 1
    make_due()
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    assert all(m.status == Status.ACCEPTED for m in Message.objects.all())
    assert sorted(simulator.counts().values()) == [1] * len(messages)


def test_server_errors_are_retried_up_to_the_cap_then_failed(channel, simulator, settings):
    # A retry made due at once would otherwise wait out the recipient's gap (tested apart).
    settings.SEND_RECIPIENT_MIN_GAP_SECONDS = 0
    settings.SEND_MAX_ATTEMPTS = 2
    simulator.configure(error_storm={"code": 500, "count": 10})
    (message,) = queue_texts(channel, 1)
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    message.refresh_from_db()
    assert message.status == Status.QUEUED and message.attempts == 1
    make_due()
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert message.attempts == 2


def test_permanent_failure_marks_the_contact_undeliverable(channel, simulator):
    (message,) = queue_texts(channel, 1)
    simulator.configure(fail_numbers={message.contact.wa_id: 131026})
    totals = send_batch_run(channel_id=channel.pk, max_seconds=5)
    assert totals["failed"] == 1
    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert message.error_code == 131026
    assert message.error_title
    assert message.contact.undeliverable is True
    assert simulator.counts() == {}


def test_marketing_stop_code_records_an_opt_out(channel, simulator):
    (message,) = queue_texts(channel, 1)
    simulator.configure(fail_numbers={message.contact.wa_id: 131050})
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    message.contact.refresh_from_db()
    assert message.contact.consent == "opted_out"
    event = message.contact.consent_events.get()
    assert event.source == "provider_error"


def test_a_lost_response_leaves_the_message_unknown_and_never_resends(channel, simulator, settings):
    settings.PROVIDER_READ_TIMEOUT = 0.5
    (message,) = queue_texts(channel, 1)
    simulator.configure(hang_numbers=[message.contact.wa_id], hang_seconds=2)
    totals = send_batch_run(channel_id=channel.pk, max_seconds=5)
    assert totals["unknown"] == 1
    message.refresh_from_db()
    assert message.status == Status.UNKNOWN
    assert message.wamid is None
    send_batch_run(channel_id=channel.pk, max_seconds=2)
    send_sweep()
    assert simulator.counts() == {message.contact.wa_id: 1}


def test_connection_refused_is_retried_safely(channel, simulator, settings):
    # A retry made due at once would otherwise wait out the recipient's gap (tested apart).
    settings.SEND_RECIPIENT_MIN_GAP_SECONDS = 0
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    good = channel.base_url
    channel.base_url = f"http://127.0.0.1:{port}"
    channel.save()
    (message,) = queue_texts(channel, 1)
    assert send_batch_run(channel_id=channel.pk, max_seconds=5)["retrying"] == 1
    message.refresh_from_db()
    assert message.status == Status.QUEUED
    channel.base_url = good
    channel.save()
    make_due()
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    assert simulator.counts() == {message.contact.wa_id: 1}


def test_bad_credentials_pause_the_channel_and_keep_the_messages(channel, simulator, settings):
    # A retry made due at once would otherwise wait out the recipient's gap (tested apart).
    settings.SEND_RECIPIENT_MIN_GAP_SECONDS = 0
    settings.WHATSAPP_API_TOKEN = "wrong"
    messages = queue_texts(channel, 2)
    totals = send_batch_run(channel_id=channel.pk, max_seconds=5)
    assert totals["auth"] >= 1
    channel.refresh_from_db()
    assert "credentials" in channel.paused_reason
    assert {m.status for m in Message.objects.filter(pk__in=[m.pk for m in messages])} == {
        Status.QUEUED
    }
    # Nothing is sent while paused.
    settings.WHATSAPP_API_TOKEN = "simulator-token"
    assert send_batch_run(channel_id=channel.pk, max_seconds=1)["accepted"] == 0
    from messaging.channels.services import channel_resume

    channel_resume(channel=channel)
    assert send_batch_run(channel_id=channel.pk, max_seconds=5)["accepted"] == 2


def test_consent_and_blocks_are_checked_again_at_send_time(channel, simulator):
    (message,) = queue_texts(channel, 1)
    message.contact.blocked = True
    message.contact.save()
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    message.refresh_from_db()
    # Failed by the send policy (not cancelled: nobody cancelled it), with its reason.
    assert message.status == Status.FAILED and message.refusal == "contact_blocked"
    assert message.error_code is None
    assert "blocked" in message.error_title.lower()
    assert simulator.counts() == {}


def test_priority_lane_is_claimed_before_bulk(channel):
    bulk = queue_texts(channel, 3)
    Message.objects.filter(pk__in=[m.pk for m in bulk]).update(lane=Lane.BULK)
    (priority,) = queue_texts(channel, 1)
    claimed = messages_claim(channel_id=channel.pk, lane=Lane.PRIORITY, limit=10)
    assert [m.pk for m in claimed] == [priority.pk]
    assert messages_claim(channel_id=channel.pk, lane=Lane.PRIORITY, limit=10) == []
    assert len(messages_claim(channel_id=channel.pk, lane=Lane.BULK, limit=10)) == 3


def test_claims_only_take_due_queued_messages(channel):
    (later,) = queue_texts(channel, 1)
    later.next_attempt_at = timezone.now() + timedelta(minutes=5)
    later.save()
    assert messages_claim(channel_id=channel.pk, lane=Lane.PRIORITY, limit=10) == []


def test_sweeper_turns_stale_claims_into_unknown(channel, settings):
    settings.SEND_CLAIM_STALE_SECONDS = 60
    (message,) = queue_texts(channel, 1)
    # The worker had started the batch's requests: this one may have reached the provider.
    Message.objects.filter(pk=message.pk).update(
        status=Status.SENDING,
        claimed_at=timezone.now() - timedelta(minutes=5),
        request_started_at=timezone.now() - timedelta(minutes=5),
    )
    assert send_sweep()["stale_to_unknown"] == 1
    message.refresh_from_db()
    assert message.status == Status.UNKNOWN


def test_pacing_follows_the_channel_rate(channel, simulator):
    import time

    channel.throughput_mps = 20
    channel.save()
    queue_texts(channel, 10)
    started = time.monotonic()
    send_batch_run(channel_id=channel.pk, max_seconds=10)
    received = sorted(m["time"] for m in simulator.messages())
    assert len(received) == 10
    # 10 messages at 20/s are spread over about half a second, not sent in one burst.
    assert received[-1] - received[0] >= 0.4
    assert time.monotonic() - started < 5


# --- Known-unsent is never unknown ------------------------------------------------------------


def _limiter_down(monkeypatch):
    """The rate limiter's Redis refuses connections (a stopped server)."""
    from messaging.channels import ratelimit

    def refused(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(ratelimit, "reserve", refused)


def test_a_rate_limiter_outage_puts_the_batch_back_in_the_queue_unsent(
    channel, simulator, monkeypatch, settings
):
    from messaging.sending.dispatch import SendInterrupted

    settings.SEND_RETRY_BASE_SECONDS = 2
    messages = queue_texts(channel, 3)
    _limiter_down(monkeypatch)
    before = timezone.now()
    with pytest.raises(SendInterrupted) as raised:
        send_batch_run(channel_id=channel.pk, max_seconds=5)
    assert isinstance(raised.value.__cause__, ConnectionError)
    assert simulator.counts() == {}
    assert not simulator.attempts()
    for message in Message.objects.filter(pk__in=[m.pk for m in messages]):
        # Back in the queue at once, due after a short jittered pause; nothing was sent, so
        # no attempt is counted and nothing is written off as unknown.
        assert message.status == Status.QUEUED
        assert message.attempts == 0
        assert message.request_started_at is None
        assert before < message.next_attempt_at <= timezone.now() + timedelta(seconds=2)
    assert raised.value.retry_at == max(m.next_attempt_at for m in Message.objects.all())

    monkeypatch.undo()  # Redis is back
    make_due()
    assert send_batch_run(channel_id=channel.pk, max_seconds=5)["accepted"] == 3
    assert sorted(simulator.counts().values()) == [1, 1, 1]
    assert set(Message.objects.values_list("attempts", flat=True)) == {1}


def test_the_send_task_retries_a_batch_stopped_before_sending(
    channel, simulator, monkeypatch, settings
):
    from messaging.channels import ratelimit
    from messaging.sending.tasks import send_batch

    settings.SEND_RETRY_BASE_SECONDS = 0  # due again at once, so the eager retry sends
    queue_texts(channel, 2)
    real_reserve = ratelimit.reserve
    calls = []

    def down_once(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise ConnectionError("Connection refused.")
        return real_reserve(*args, **kwargs)

    monkeypatch.setattr(ratelimit, "reserve", down_once)
    result = send_batch.apply(args=[channel.pk], throw=False)
    assert result.successful(), result.traceback
    assert result.result["accepted"] == 2
    assert sorted(simulator.counts().values()) == [1, 1]


def test_a_batch_that_fails_after_its_requests_started_is_left_for_the_sweeper(
    channel, simulator, monkeypatch
):
    """Past the mark, a request may have left: the batch is not queued again."""
    from messaging.sending import dispatch
    from messaging.sending.dispatch import SendInterrupted

    (message,) = queue_texts(channel, 1)

    def recording_fails(**kwargs):
        raise RuntimeError("database went away while recording")

    monkeypatch.setattr(dispatch, "outcomes_record", recording_fails)
    with pytest.raises(SendInterrupted):
        send_batch_run(channel_id=channel.pk, max_seconds=5)
    message.refresh_from_db()
    assert message.status == Status.SENDING and message.request_started_at is not None
    assert simulator.counts() == {message.contact.wa_id: 1}


def test_sweeper_queues_stale_claims_that_never_sent_and_writes_off_the_rest(channel, settings):
    from messaging.models import Campaign, CampaignState

    settings.SEND_CLAIM_STALE_SECONDS = 60
    long_ago = timezone.now() - timedelta(minutes=5)
    unsent, maybe_sent, paused_unsent, fresh = queue_texts(channel, 4)
    paused = Campaign.objects.create(name="held", channel=channel, state=CampaignState.PAUSED)
    Message.objects.filter(pk=paused_unsent.pk).update(campaign=paused, lane=Lane.BULK)
    Message.objects.filter(pk__in=[unsent.pk, paused_unsent.pk]).update(
        status=Status.SENDING, claimed_at=long_ago
    )
    Message.objects.filter(pk=maybe_sent.pk).update(
        status=Status.SENDING, claimed_at=long_ago, request_started_at=long_ago
    )
    Message.objects.filter(pk=fresh.pk).update(status=Status.SENDING, claimed_at=timezone.now())

    result = send_sweep()

    assert result["stale_requeued"] == 2 and result["stale_to_unknown"] == 1
    statuses = dict(Message.objects.values_list("pk", "status"))
    assert statuses == {
        unsent.pk: Status.QUEUED,
        maybe_sent.pk: Status.UNKNOWN,
        paused_unsent.pk: Status.PAUSED,  # its campaign was paused meanwhile
        fresh.pk: Status.SENDING,  # not stale: its worker is still at it
    }
    assert Message.objects.get(pk=unsent.pk).next_attempt_at <= timezone.now()
    assert result["channels_redriven"] == 1


def test_a_claim_the_sweeper_took_back_is_never_sent_by_its_old_worker(
    channel, simulator, settings
):
    """A worker that hung past SEND_CLAIM_STALE_SECONDS before sending finds its claim
    queued again (and taken by another worker): it sends none of it."""
    from concurrent.futures import ThreadPoolExecutor

    from messaging.sending.dispatch import batch_send

    settings.SEND_RECIPIENT_MIN_GAP_SECONDS = 0  # about claims, not pacing: both go at once

    queue_texts(channel, 2)
    hung = messages_claim(channel_id=channel.pk, lane=Lane.PRIORITY, limit=10)
    Message.objects.update(claimed_at=timezone.now() - timedelta(hours=1))
    assert send_sweep()["stale_requeued"] == 2
    rescuer = messages_claim(channel_id=channel.pk, lane=Lane.PRIORITY, limit=10)
    assert len(rescuer) == 2
    with ThreadPoolExecutor(max_workers=2) as executor:
        assert (
            batch_send(channel=channel, messages=hung, executor=executor).count()["accepted"] == 0
        )
        assert simulator.counts() == {}
        assert (
            batch_send(channel=channel, messages=rescuer, executor=executor).count()["accepted"]
            == 2
        )
    assert sorted(simulator.counts().values()) == [1, 1]


def test_requests_are_marked_started_a_stage_at_a_time_along_the_pace(channel, simulator):
    """At 20/s a stage (a tenth of a second) is 2 requests: 6 messages are marked in 3
    statements, each just before its stage is due, so a worker dying mid-batch leaves the
    later stages unmarked (queued again by the sweeper, not written off)."""
    channel.throughput_mps = 20
    channel.save()
    queue_texts(channel, 6)
    send_batch_run(channel_id=channel.pk, max_seconds=10)
    marks = sorted(set(Message.objects.values_list("request_started_at", flat=True)))
    assert len(marks) == 3
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(marks)]
    assert all(0.05 < gap < 0.3 for gap in gaps), gaps
    assert sorted(simulator.counts().values()) == [1] * 6


# --- The send policy at send time ----------------------------------------------------------------


def queue_template(channel, contact, name="order_confirmation"):
    template = MessageTemplate.objects.get(channel=channel, name=name, language="en")
    if name == "order_confirmation":
        content = template_content_build(
            template=template, header=["#1"], body=["Asha", "#1", "₹1", "Friday"],
            button_url_values={"0": "1"},
        )  # fmt: skip
    else:  # a marketing template
        declared = template.parameters
        content = template_content_build(
            template=template,
            body=["x"] * len(declared.get("body", [])),
            header=["x"] * len(declared.get("header", [])) or None,
            header_media_link="https://93.184.215.14/banner.png",
            button_url_values=dict.fromkeys(declared.get("buttons", {}), "x"),
        )
    return message_send(channel=channel, contact=contact, type="template", content=content)


def assert_refused_unsent(message, simulator, code):
    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert message.refusal == code
    assert message.error_code is None  # not a provider failure
    assert message.error_title.startswith("Refused at send time")
    assert message.wamid is None and message.attempts == 0
    assert simulator.counts() == {}  # WhatsApp never saw it
    error = MessageSerializer(message).data["error"]  # what the messages API shows
    assert error["refusal"] == code and error["code"] is None


def test_a_window_that_closed_before_dispatch_fails_the_message_unsent(channel, simulator):
    """Queued at hour 23 of the window, dispatched at hour 25: refused, not sent."""
    contact = ContactFactory()
    window_open(contact, channel, at=timezone.now() - timedelta(hours=23))
    message = message_send(channel=channel, contact=contact, type="text", content={"body": "hi"})
    with time_machine.travel(timezone.now() + timedelta(hours=2), tick=True):
        totals = send_batch_run(channel_id=channel.pk, max_seconds=5)
    assert totals["refused"] == 1 and totals["accepted"] == 0
    assert_refused_unsent(message, simulator, "window_closed")


def test_an_opt_out_between_queue_and_send_fails_the_message_unsent(channel, simulator):
    contact = ContactFactory(consent="opted_in")
    message = queue_template(channel, contact, name=marketing_template(channel).name)
    assert message.is_marketing
    # Meta's marketing preference webhook: the user tapped "stop" in WhatsApp.
    user_preference_apply(
        preference=UserPreference(
            channel_key=channel.phone_number_id, wa_id=contact.wa_id, bsuid=None,
            category="marketing_messages", value="stop", timestamp=timezone.now(),
        )
    )  # fmt: skip
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    assert_refused_unsent(message, simulator, "opted_out")


def test_a_template_paused_after_queueing_fails_the_message_unsent(channel, simulator):
    message = queue_template(channel, ContactFactory())
    template_status_apply(
        update=TemplateStatusUpdate(name="order_confirmation", language="en", status="PAUSED"),
        channels=[channel],
    )
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    assert_refused_unsent(message, simulator, "template_paused")


def marketing_template(channel):
    return MessageTemplate.objects.filter(
        channel=channel, category="MARKETING", status="APPROVED"
    ).first()


def _block(message):
    Contact.objects.filter(pk=message.contact_id).update(blocked=True)


def _undeliverable(message):
    Contact.objects.filter(pk=message.contact_id).update(undeliverable=True)


def _no_address(message):
    Contact.objects.filter(pk=message.contact_id).update(phone=None, wa_id=None, bsuid=None)


def _consent_withdrawn(message):
    Contact.objects.filter(pk=message.contact_id).update(consent="unknown")


def _opted_out(message):
    Contact.objects.filter(pk=message.contact_id).update(consent="opted_out")


def _window_aged(message):
    Conversation.objects.filter(contact_id=message.contact_id).update(
        last_inbound_at=timezone.now() - timedelta(hours=25)
    )


def _template_disabled(message):
    MessageTemplate.objects.filter(pk=message.template_id).update(status="DISABLED")


def _template_paused(message):
    MessageTemplate.objects.filter(pk=message.template_id).update(status="PAUSED")


def _template_needs_more(message):
    # Re-synced with a new body parameter the queued content does not fill.
    template = MessageTemplate.objects.get(pk=message.template_id)
    template.parameters = {**template.parameters, "body": [*template.parameters["body"], "5"]}
    template.save(update_fields=["parameters"])


SEND_TIME_CASES = {
    "contact_blocked": ("text", _block),
    "contact_undeliverable": ("text", _undeliverable),
    "no_address": ("text", _no_address),
    "no_consent": ("marketing", _consent_withdrawn),
    "opted_out": ("marketing", _opted_out),
    "window_closed": ("text", _window_aged),
    "template_not_approved": ("template", _template_disabled),
    "template_paused": ("template", _template_paused),
    "template_parameters_missing": ("template", _template_needs_more),
}


@pytest.mark.parametrize("code", list(SEND_TIME_CASES))
def test_each_message_reason_is_asked_again_at_send_time(channel, simulator, code):
    kind, change = SEND_TIME_CASES[code]
    contact = ContactFactory(consent="opted_in")
    if kind == "text":
        (message,) = queue_texts(channel, 1)
    elif kind == "marketing":
        message = queue_template(channel, contact, name=marketing_template(channel).name)
    else:
        message = queue_template(channel, contact)
    other = queue_texts(channel, 1)[0]  # the same batch: unaffected, sent
    change(message)
    totals = send_batch_run(channel_id=channel.pk, max_seconds=5)
    assert totals["refused"] == 1 and totals["accepted"] == 1
    other.refresh_from_db()
    assert other.status == Status.ACCEPTED
    message.refresh_from_db()
    assert message.status == Status.FAILED and message.refusal == code
    assert message.error_code is None
    assert simulator.counts() == {other.contact.wa_id: 1}  # only the unaffected one went


def test_a_number_refused_at_send_time_holds_its_messages(channel, simulator):
    messages = queue_texts(channel, 2)
    Channel.objects.filter(pk=channel.pk).update(is_active=False)
    send_batch_run(channel_id=channel.pk, max_seconds=2)
    assert {m.status for m in Message.objects.filter(pk__in=[m.pk for m in messages])} == {
        Status.QUEUED
    }
    assert simulator.counts() == {}
    Channel.objects.filter(pk=channel.pk).update(is_active=True)
    assert send_batch_run(channel_id=channel.pk, max_seconds=5)["accepted"] == 2


def test_over_budget_at_send_time_holds_templates_and_lets_replies_go(
    channel, simulator, monkeypatch
):
    held = queue_template(channel, ContactFactory())
    (reply,) = queue_texts(channel, 1)
    monkeypatch.setattr(policy, "channel_budget_left", lambda channel: 0)
    totals = send_batch_run(channel_id=channel.pk, max_seconds=2)
    assert totals["accepted"] == 1 and totals["refused"] == 0
    held.refresh_from_db()
    reply.refresh_from_db()
    assert held.status == Status.QUEUED and not held.refusal  # waits for the budget
    assert reply.status == Status.ACCEPTED
    assert simulator.counts() == {reply.contact.wa_id: 1}
