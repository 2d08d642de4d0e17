"""Number health from the provider: the Graph refresh (`sync_channels`, the beat task) and the
simulator's on-demand webhooks, end to end over loopback with the real database."""

from __future__ import annotations

import json

import pytest
import requests
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django_celery_beat.models import PeriodicTask

from core.queueing import task
from messaging.channels.selectors import channel_budget_left
from messaging.channels.services import channel_health_sync, channels_health_sync
from messaging.channels.tasks import channels_sync
from messaging.models import Channel, WebhookEvent, WebhookState
from messaging.webhooks.services import webhook_events_drain
from tests.factories import ChannelFactory
from tests.messaging.providers.support import Loopback

pytestmark = pytest.mark.django_db


def number_event(simulator, **body) -> dict:
    response = requests.post(f"{simulator.url}/_sim/number_event", json=body, timeout=2)
    assert response.status_code == 200, response.text
    return response.json()


# --- The Graph refresh -------------------------------------------------------------------------


def test_a_refresh_records_what_graph_reports(channel):
    result = channel_health_sync(channel=channel)
    assert not result.errors
    channel.refresh_from_db()
    assert (channel.quality_rating, channel.messaging_tier, channel.number_status) == (
        "GREEN",
        "TIER_10K",
        "CONNECTED",
    )
    assert channel.quality_source == channel.tier_source == channel.status_source == "graph"
    assert channel.name_status == "APPROVED"
    assert channel_budget_left(channel) == 10_000
    assert result.summary() == "quality GREEN, tier TIER_10K, CONNECTED"


def test_a_refresh_finds_a_drop_no_webhook_told_of(channel, simulator, caplog):
    channel_health_sync(channel=channel)
    simulator.configure(quality_rating="RED", number_status="FLAGGED")
    result = channel_health_sync(channel=channel)
    assert result.change.alarm == "quality rating dropped to RED from GREEN; number flagged"
    assert "ALARM" in result.summary()
    assert any(
        r.levelname == "ERROR" and "dropped to RED" in r.getMessage() for r in caplog.records
    )


def test_an_unreadable_value_is_reported_and_the_rest_applies(channel, simulator):
    simulator.configure(quality_rating="YELLOW", messaging_limit_tier="LOTS")
    result = channel_health_sync(channel=channel)
    assert result.errors == ["tier: 'LOTS' is not a messaging tier"]
    channel.refresh_from_db()
    assert channel.quality_rating == "YELLOW" and channel.messaging_tier == ""


def test_a_provider_error_is_reported_and_nothing_written(channel, settings):
    settings.WHATSAPP_API_TOKEN = "wrong"
    result = channel_health_sync(channel=channel)
    assert result.errors and result.change is None
    channel.refresh_from_db()
    assert channel.quality_updated_at is None


def test_a_provider_without_health_is_skipped(channel):
    other = ChannelFactory(name="MyOp", phone_number_id="mo-1", provider="myoperator")
    assert channel_health_sync(channel=other).skipped
    summaries = channels_health_sync()
    assert summaries["MyOp"].startswith("skipped")
    assert summaries[channel.name].startswith("quality GREEN")


def test_inactive_channels_are_not_refreshed(channel):
    Channel.objects.filter(pk=channel.pk).update(is_active=False)
    assert channels_health_sync() == {}


def test_sync_channels_command(channel, capsys):
    call_command("sync_channels")
    assert f"{channel.name}: quality GREEN, tier TIER_10K, CONNECTED" in capsys.readouterr().out
    with pytest.raises(CommandError, match="No active channel"):
        call_command("sync_channels", "--channel", "nope")


def test_sync_channels_command_fails_when_a_number_cannot_be_read(channel, settings):
    settings.WHATSAPP_API_TOKEN = "wrong"
    with pytest.raises(CommandError, match="could not be read"):
        call_command("sync_channels", "--channel", channel.phone_number_id)


def test_beat_refreshes_every_number(db):
    row = PeriodicTask.objects.get(task="messaging.channels_sync")
    assert row.enabled and row.interval.every == 900 and row.queue == "default"


def test_the_task_refreshes_and_one_numbers_refresh_is_not_held_by_the_periodic_run(channel):
    assert channels_sync.apply().get() == {channel.name: "quality GREEN, tier TIER_10K, CONNECTED"}
    cache.add("task-lock:messaging.channels_sync:all", "someone", timeout=30)
    try:
        assert channels_sync.apply().get() == {"skipped": "already running"}
        one = channels_sync.apply(kwargs={"channel_id": channel.pk}).get()
        assert one == {channel.name: "quality GREEN, tier TIER_10K, CONNECTED"}
    finally:
        cache.delete("task-lock:messaging.channels_sync:all")


# --- The simulator's webhooks on demand, end to end --------------------------------------------


@pytest.fixture
def receiver(simulator):
    server = Loopback()
    simulator.configure(webhook_url=f"{server.url}/webhooks/whatsapp/", webhooks=True)
    yield server
    server.close()


def _deliver(client, receiver, count: int) -> None:
    """Hand what the simulator posted to Parley's intake, signature headers and all."""
    requests_ = receiver.wait_for(count)
    for posted in requests_:
        response = client.post(
            "/webhooks/whatsapp/",
            data=posted["body"],
            content_type="application/json",
            HTTP_X_HUB_SIGNATURE_256=posted["headers"]["X-Hub-Signature-256"],
        )
        assert response.status_code == 200


@pytest.fixture
def refreshes(monkeypatch):
    """The Graph refreshes health webhooks queue (by name, as services do)."""
    queued = []
    sync = task("messaging.channels_sync")
    monkeypatch.setattr(sync, "apply_async", lambda **kw: queued.append(kw))
    return queued


def test_a_quality_drop_reaches_parley_signed_and_the_refresh_reads_the_rating(
    channel, simulator, receiver, client, refreshes, django_capture_on_commit_callbacks
):
    channel_health_sync(channel=channel)
    answer = number_event(simulator, quality="RED", tier="TIER_1K")
    assert answer["webhooks"] == ["phone_number_quality_update", "phone_number_quality_update"]
    assert simulator.wait_webhooks()  # both changes posted, in one post or two
    _deliver(client, receiver, len(receiver.requests) or 1)
    with django_capture_on_commit_callbacks(execute=True):
        webhook_events_drain()
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {WebhookState.PROCESSED}
    channel.refresh_from_db()
    assert channel.number_status == "FLAGGED" and channel.status_source == "webhook"
    assert channel.messaging_tier == "TIER_1K"
    assert channel.quality_rating == "GREEN"  # Meta's quality webhook does not carry it
    assert {json.dumps(kw["kwargs"]) for kw in refreshes} == {
        json.dumps({"channel_id": channel.pk})
    }
    assert refreshes[0]["countdown"] == 30

    result = channels_sync.apply(kwargs=refreshes[0]["kwargs"]).get()  # what the worker runs
    channel.refresh_from_db()
    assert channel.quality_rating == "RED" and channel.quality_source == "graph"
    assert "tier TIER_1K, FLAGGED" in result[channel.name]
    assert channel_budget_left(channel) == 1000


def test_a_restriction_reaches_parley_and_stops_business_initiated_sends(
    channel, simulator, receiver, client, refreshes
):
    number_event(simulator, status="RESTRICTED")
    _deliver(client, receiver, 1)
    webhook_events_drain()
    channel.refresh_from_db()
    assert channel.number_status == "RESTRICTED"
    assert channel.status_detail.startswith("ACCOUNT_RESTRICTION: RESTRICTED_BIZ_INITIATED")
    assert channel_budget_left(channel) == 0
