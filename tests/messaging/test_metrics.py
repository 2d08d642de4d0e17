"""Each messaging metric family moves when its action happens (README "Metrics and error
reports"), read through the real /metrics view: statuses applied by webhook processing, sends
accepted and refused by the simulator, rate-limiter waits, webhook intake outcomes, the
webhook backlog, campaign progress, event-webhook deliveries. And no label ever carries a
phone number or a message id."""

from __future__ import annotations

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client
from django.utils import timezone

from messaging.channels import ratelimit
from messaging.hooks_out.models import HookEvent
from messaging.hooks_out.services import deliveries_drain, event_emit, subscription_update
from messaging.models import Campaign, CampaignState, Message, Status, WebhookEvent
from messaging.sending.dispatch import send_batch_run
from messaging.sending.send import message_send
from tests.core.metrics_support import TOKEN, scrape, scrape_text, value
from tests.factories import (
    ChannelFactory,
    ContactFactory,
    MessageFactory,
    TemplateFactory,
    WebhookSubscriptionFactory,
    window_open,
)
from tests.messaging.webhooks.support import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    WABA_ID,
    failed,
    post_signed,
    process,
    status,
    statuses_payload,
    store,
)

pytestmark = pytest.mark.django_db

TS = 1_767_225_600


@pytest.fixture(autouse=True)
def _metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []


def _accepted(channel, wamid: str):
    return MessageFactory(
        channel=channel, status=Status.ACCEPTED, wamid=wamid, accepted_at=timezone.now()
    )


# --- Statuses applied by webhook processing ------------------------------------------------------


def test_statuses_applied_by_webhook_processing_count_by_channel_and_status(
    django_capture_on_commit_callbacks,
):
    channel = ChannelFactory()
    _accepted(channel, "wamid.M1")
    _accepted(channel, "wamid.M2")
    before = scrape()
    with django_capture_on_commit_callbacks(execute=True):
        process(
            statuses_payload(
                status("wamid.M1", "sent", TS),
                status("wamid.M1", "delivered", TS + 1),
                status("wamid.M2", "sent", TS),
            )
        )
    after = scrape()
    for name, delta in (("sent", 2), ("delivered", 1), ("read", 0)):
        moved = value(after, "parley_messages_total", channel=channel.pk, status=name) - value(
            before, "parley_messages_total", channel=channel.pk, status=name
        )
        assert moved == delta, name

    # The same statuses again (Meta redelivers) move nothing.
    with django_capture_on_commit_callbacks(execute=True):
        process(statuses_payload(status("wamid.M1", "sent", TS), status("wamid.M2", "sent", TS)))
    again = scrape()
    assert value(again, "parley_messages_total", channel=channel.pk, status="sent") == value(
        after, "parley_messages_total", channel=channel.pk, status="sent"
    )


def test_failed_statuses_count_as_failures_and_provider_errors_by_bounded_code(
    django_capture_on_commit_callbacks,
):
    channel = ChannelFactory()
    _accepted(channel, "wamid.F1")
    _accepted(channel, "wamid.F2")
    before = scrape()
    with django_capture_on_commit_callbacks(execute=True):
        process(statuses_payload(failed("wamid.F1", 131026, TS), failed("wamid.F2", 987654321, TS)))
    after = scrape()

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("parley_messages_total", channel=channel.pk, status="failed") == 2
    assert moved("parley_provider_errors_total", code="131026", source="status") == 1
    # A code outside the table is "other": a provider cannot grow the series.
    assert moved("parley_provider_errors_total", code="other", source="status") == 1
    assert not any("987654321" in str(key) for key in after)


def test_a_rolled_back_batch_counts_nothing(django_capture_on_commit_callbacks):
    channel = ChannelFactory()
    _accepted(channel, "wamid.R1")
    before = scrape()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        process(statuses_payload(status("wamid.R1", "sent", TS)))
    assert callbacks  # the counts wait for the commit, which never comes here
    assert value(scrape(), "parley_messages_total", channel=channel.pk, status="sent") == value(
        before, "parley_messages_total", channel=channel.pk, status="sent"
    )


# --- The send path -------------------------------------------------------------------------------


def _queue_texts(channel, n):
    for i in range(n):
        contact = ContactFactory()
        window_open(contact, channel)
        message_send(channel=channel, contact=contact, type="text", content={"body": f"m{i}"})


def test_sends_the_provider_accepted_count_as_accepted(channel):
    before = scrape()
    _queue_texts(channel, 3)
    assert send_batch_run(channel_id=channel.pk, max_seconds=10)["accepted"] == 3
    after = scrape()
    assert (
        value(after, "parley_messages_total", channel=channel.pk, status="accepted")
        - value(before, "parley_messages_total", channel=channel.pk, status="accepted")
        == 3
    )


def test_provider_errors_on_send_count_by_code(channel, simulator, settings):
    settings.SEND_RECIPIENT_MIN_GAP_SECONDS = 0
    simulator.configure(error_storm={"code": 130429, "count": 2})
    before = scrape()
    _queue_texts(channel, 3)
    totals = send_batch_run(channel_id=channel.pk, max_seconds=5)
    assert totals["retrying"] == 2
    after = scrape()
    assert (
        value(after, "parley_provider_errors_total", code="130429", source="send")
        - value(before, "parley_provider_errors_total", code="130429", source="send")
        == 2
    )


def test_a_permanent_refusal_counts_as_failed_and_as_its_error(channel, simulator):
    simulator.configure(error_storm={"code": 131026, "count": 1})
    before = scrape()
    _queue_texts(channel, 1)
    assert send_batch_run(channel_id=channel.pk, max_seconds=5)["failed"] == 1
    after = scrape()
    assert (
        value(after, "parley_messages_total", channel=channel.pk, status="failed")
        - value(before, "parley_messages_total", channel=channel.pk, status="failed")
        == 1
    )
    assert (
        value(after, "parley_provider_errors_total", code="131026", source="send")
        - value(before, "parley_provider_errors_total", code="131026", source="send")
        == 1
    )


def test_rate_limiter_waits_are_counted_with_their_seconds(channel):
    before = scrape()
    ratelimit.wait(0.02)
    ratelimit.wait(0)  # nothing to wait for: not a wait
    after = scrape()
    assert (
        value(after, "parley_rate_limiter_waits_total")
        - value(before, "parley_rate_limiter_waits_total")
        == 1
    )
    assert value(after, "parley_rate_limiter_wait_seconds_sum") - value(
        before, "parley_rate_limiter_wait_seconds_sum"
    ) == pytest.approx(0.02)
    assert (
        value(after, "parley_rate_limiter_wait_seconds_bucket", le="0.025")
        - value(before, "parley_rate_limiter_wait_seconds_bucket", le="0.025")
        == 1
    )


def test_a_paced_batch_waits_for_the_limiter(channel):
    channel.throughput_mps = 20
    channel.save(update_fields=["throughput_mps"])
    before = scrape()
    _queue_texts(channel, 4)
    assert send_batch_run(channel_id=channel.pk, max_seconds=10)["accepted"] == 4
    after = scrape()
    assert value(after, "parley_rate_limiter_waits_total") > value(
        before, "parley_rate_limiter_waits_total"
    )


# --- Webhook intake ------------------------------------------------------------------------------


@pytest.fixture
def intake(settings):
    from messaging.webhooks import intake as webhook_intake

    settings.WHATSAPP_APP_SECRET = APP_SECRET
    webhook_intake._forget_secrets()
    ChannelFactory(phone_number_id=PHONE_NUMBER_ID, waba_id=WABA_ID)
    with mock.patch("messaging.webhooks.services.webhook_drain_nudge"):
        yield Client()
    webhook_intake._forget_secrets()


def _intake_moved(before, after, outcome):
    return value(after, "parley_webhook_intake_total", outcome=outcome) - value(
        before, "parley_webhook_intake_total", outcome=outcome
    ), value(after, "parley_webhook_intake_seconds_count", outcome=outcome) - value(
        before, "parley_webhook_intake_seconds_count", outcome=outcome
    )


def test_webhook_intake_counts_and_times_each_outcome(intake):
    body = statuses_payload(status("wamid.I1", "sent", TS))
    before = scrape()
    assert post_signed(intake, body).status_code == 200
    assert post_signed(intake, body).status_code == 200  # Meta redelivers: a duplicate
    assert post_signed(intake, body, secret="wrong").status_code == 403
    with mock.patch(
        "messaging.webhooks.views.webhook_event_store", side_effect=OperationalError("down")
    ):
        assert (
            post_signed(intake, statuses_payload(status("wamid.I2", "sent", TS))).status_code == 503
        )
    after = scrape()
    assert _intake_moved(before, after, "stored") == (1, 1)
    assert _intake_moved(before, after, "duplicate") == (1, 1)
    assert _intake_moved(before, after, "refused") == (1, 1)
    assert _intake_moved(before, after, "error") == (1, 1)
    assert WebhookEvent.objects.count() == 1


# --- Scrape-time gauges ---------------------------------------------------------------------


def test_webhook_lag_is_the_age_of_the_oldest_pending_event():
    assert value(scrape(), "parley_webhook_pending") == 0
    assert value(scrape(), "parley_webhook_lag_seconds") == 0
    old = store({"n": 1})
    store({"n": 2})
    done = store({"n": 3})
    WebhookEvent.objects.filter(pk=old.pk).update(
        received_at=timezone.now() - timedelta(seconds=300)
    )
    WebhookEvent.objects.filter(pk=done.pk).update(
        state="processed", received_at=timezone.now() - timedelta(hours=1)
    )
    samples = scrape()
    assert value(samples, "parley_webhook_pending") == 2
    assert 300 <= value(samples, "parley_webhook_lag_seconds") < 330


def test_campaign_progress_per_running_or_paused_campaign():
    channel = ChannelFactory()
    template = TemplateFactory(channel=channel)

    def campaign(state):
        return Campaign.objects.create(
            name=state, channel=channel, template=template, state=state,
            launched_at=timezone.now(),
        )  # fmt: skip

    running, paused, done = (
        campaign(CampaignState.RUNNING),
        campaign(CampaignState.PAUSED),
        campaign(CampaignState.COMPLETED),
    )
    for status_, n in (
        (Status.QUEUED, 2), (Status.ACCEPTED, 1), (Status.SENT, 1), (Status.DELIVERED, 2),
        (Status.READ, 1), (Status.FAILED, 1),
    ):  # fmt: skip
        MessageFactory.create_batch(n, channel=channel, campaign=running, status=status_)
    MessageFactory(channel=channel, campaign=running, status=Status.FAILED, refusal="opted_out")
    MessageFactory(channel=channel, campaign=done, status=Status.SENT)
    samples = scrape()

    def stage(campaign_, name):
        return value(
            samples, "parley_campaign_messages", campaign=campaign_.pk, channel=channel.pk,
            state=campaign_.state, stage=name,
        )  # fmt: skip

    assert stage(running, "targeted") == 9  # every message, the refused one too
    assert stage(running, "sent") == 5  # accepted, sent, delivered, read
    assert stage(running, "delivered") == 3
    assert stage(running, "failed") == 1  # the refusal at send time is no failure
    assert stage(running, "pending") == 2
    assert stage(paused, "targeted") == 0
    assert ("parley_campaign_messages", ()) not in samples
    assert not any(
        dict(labels).get("campaign") == str(done.pk)
        for name, labels in samples
        if name == "parley_campaign_messages"
    )


def test_campaign_progress_is_two_queries_however_many_campaigns(django_assert_num_queries):
    channel = ChannelFactory()
    for i in range(5):
        campaign = Campaign.objects.create(
            name=f"c{i}", channel=channel, template=TemplateFactory(channel=channel),
            state=CampaignState.RUNNING,
        )  # fmt: skip
        MessageFactory(channel=channel, campaign=campaign, status=Status.SENT)
    from messaging.campaigns.metrics import campaign_progress_collect

    with django_assert_num_queries(2):
        (family,) = list(campaign_progress_collect())
    assert len(family.samples) == 5 * 5


# --- Event webhooks to integrators ------------------------------------------------------------


@pytest.fixture
def hooks_settings(settings):
    settings.WEBHOOK_OUT_ALLOW_PRIVATE = True
    settings.WEBHOOK_OUT_TIMEOUT_SECONDS = 2.0
    settings.WEBHOOK_OUT_CONCURRENCY = 4
    return settings


def _out_moved(before, after, outcome):
    return value(after, "parley_webhook_out_deliveries_total", outcome=outcome) - value(
        before, "parley_webhook_out_deliveries_total", outcome=outcome
    )


def test_event_webhook_deliveries_count_by_outcome(
    hooks_settings, receiver, django_capture_on_commit_callbacks
):
    subscription = WebhookSubscriptionFactory(
        url=receiver.url, events=[HookEvent.MESSAGE_STATUS],
        failing_since=timezone.now() - timedelta(hours=80), consecutive_failures=9,
    )  # fmt: skip
    data = {"message": {"id": "m1", "status": "sent"}}
    before = scrape()
    with django_capture_on_commit_callbacks(execute=True):
        event_emit(event_type=HookEvent.MESSAGE_STATUS, data=data)
        receiver.status = 500
        deliveries_drain(budget_seconds=5)  # fails; failing for 80 h: the subscription goes off
    subscription.refresh_from_db()
    assert not subscription.is_active
    middle = scrape()
    assert _out_moved(before, middle, "failed") == 1
    assert _out_moved(before, middle, "disabled") == 1

    # Staff turn it back on: the waiting event goes at once.
    receiver.status = 200
    with django_capture_on_commit_callbacks(execute=True):
        subscription_update(subscription=subscription, is_active=True)
        deliveries_drain(budget_seconds=5)
    assert _out_moved(middle, scrape(), "delivered") == 1


# --- No personal data in any label ---------------------------------------------------------------


def test_no_label_carries_a_phone_number_or_a_message_id(
    channel, django_capture_on_commit_callbacks
):
    _queue_texts(channel, 2)
    send_batch_run(channel_id=channel.pk, max_seconds=10)
    with django_capture_on_commit_callbacks(execute=True):
        for message in Message.objects.filter(channel=channel):
            process(statuses_payload(status(message.wamid, "delivered", TS)))
    text = scrape_text(Client())
    label_values = re.findall(r'="([^"]*)"', text)
    assert label_values
    phones = {c.phone for c in ContactFactory._meta.model.objects.all() if c.phone}
    wamids = set(Message.objects.filter(channel=channel).values_list("wamid", flat=True))
    uuids = {str(u) for u in Message.objects.filter(channel=channel).values_list("uuid", flat=True)}
    for label in label_values:
        assert label not in phones | wamids | uuids
        assert not re.fullmatch(r"\+?\d{10,15}", label), label  # nothing shaped like a number
        assert not label.startswith("wamid."), label
