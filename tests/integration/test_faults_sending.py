"""Reliability scenarios on the send side (RELIABILITY.md, scenarios 4, 5, 7, 8 and 11).

Real PostgreSQL, Redis and Celery worker processes against the simulator. Each scenario
checks the promise end to end: every contact ends in a terminal state and the simulator's
per-recipient counts show that nobody got a message twice.
"""

from __future__ import annotations

import statistics
import time
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.db.models import Count

from messaging.campaigns.services import campaign_launch
from messaging.channels.templates import templates_sync
from messaging.models import Campaign, CampaignState, Message, Status
from messaging.providers.simulator import SimulatorServer
from messaging.sending.dispatch import send_sweep
from messaging.sending.send import message_send
from tests.factories import ChannelFactory, window_open
from tests.integration.conftest import wait_for
from tests.integration.faults import (
    TcpProxy,
    campaign_build,
    contacts_bulk,
    drive,
    free_port,
    gaps_by_recipient,
    proxied_redis_url,
)

TOKEN = "simulator-token"


def sim_channel(simulator, *, throughput: int = 500):
    channel = ChannelFactory(base_url=simulator.url, throughput_mps=throughput)
    assert not templates_sync(channel=channel).errors
    return channel


def completed(campaign: Campaign):
    return lambda: Campaign.objects.get(pk=campaign.pk).state == CampaignState.COMPLETED


def by_status(campaign: Campaign) -> dict[str, int]:
    rows = campaign.messages.values("status").order_by().annotate(n=Count("id"))
    return {Status(row["status"]).label: row["n"] for row in rows}


def max_per_second(times: list[float]) -> int:
    """The most requests seen in any one-second window."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] > 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


# --- Scenario 4: 130429 and 5xx for a while, then recovery --------------------------------------


def test_a_storm_of_throttling_and_server_errors_slows_the_campaign_which_then_finishes(
    transactional_db, simulator, celery_worker
):
    """Scenario 4. 60 sends refused with 130429, then 60 answered 503, then recovery. Every
    refused send is retried after its backoff (130429: at least Meta's one-second hint; 5xx:
    exponential from SEND_RETRY_BASE_SECONDS = 0.5 s), with jitter; requests never exceed the
    campaign's throttle; every contact is accepted exactly once."""
    channel = sim_channel(simulator)
    throttle = 100
    campaign = campaign_build(channel, contacts_bulk(300), name="storm", throttle_mps=throttle)
    simulator.configure(error_storm={"code": 130429, "count": 60})
    celery_worker("send-storm", queues="send", concurrency=2, SEND_RETRY_BASE_SECONDS=0.5)
    started = time.monotonic()
    campaign_launch(campaign=campaign)
    wait_for(lambda: simulator.state.storm_remaining == 0, timeout=20, interval=0.02)
    simulator.configure(error_storm={"code": 503, "count": 60})
    drive(completed(campaign), timeout=50, sweep=send_sweep)
    elapsed = time.monotonic() - started

    counts = simulator.counts()
    assert len(counts) == 300 and set(counts.values()) == {1}, "someone got it twice or never"
    assert by_status(campaign) == {"Accepted": 300}

    attempts = simulator.attempts()
    outcomes = [a["outcome"] for a in attempts]
    assert outcomes.count("rejected:130429") == 60
    assert outcomes.count("http:503") == 60
    # The database counted every request the simulator saw, per recipient.
    db_attempts = dict(campaign.messages.values_list("contact__wa_id", "attempts"))
    seen: dict[str, int] = {}
    for attempt in attempts:
        seen[attempt["to"]] = seen.get(attempt["to"], 0) + 1
    assert seen == db_attempts

    gaps = gaps_by_recipient(attempts)
    after_429 = [gap for items in gaps.values() for outcome, gap in items if "130429" in outcome]
    after_503 = [gap for items in gaps.values() for outcome, gap in items if "503" in outcome]
    assert after_429 and after_503
    assert min(after_429) >= 0.95, "retried before Meta's one-second hint"
    assert min(after_503) >= 0.24, "retried before the backoff"
    # Jitter: retries of one storm are spread out, not synchronised.
    assert max(after_429) - min(after_429) > 0.05, after_429
    assert statistics.pstdev(after_503) > 0.02, after_503
    # Retries share the campaign's budget: no burst above the throttle (a worker that fell
    # behind its booked slots may catch up within the next second, hence the margin).
    busiest = max_per_second([a["time"] for a in attempts])
    assert busiest <= throttle * 1.5
    assert elapsed > 300 / throttle + 1.0  # slower than an undisturbed run
    print(
        f"\nstorm: {len(attempts)} requests, at most {busiest} in one second, "
        f"retry gaps 130429 {min(after_429):.2f}-{max(after_429):.2f}s, "
        f"5xx {min(after_503):.2f}-{max(after_503):.2f}s, done in {elapsed:.1f}s"
    )


# --- Scenario 5: connection refused before sending ----------------------------------------------


def test_connection_refused_is_retried_safely_and_each_message_is_accepted_once(
    transactional_db, celery_worker
):
    """Scenario 5. Nothing listens on the provider's port: the request never left, so it is
    retried with backoff. Once the provider is up every message is accepted exactly once."""
    port = free_port()
    channel = ChannelFactory(base_url=f"http://127.0.0.1:{port}", throughput_mps=100)
    contacts = contacts_bulk(20, prefix="+91971")
    for contact in contacts:
        window_open(contact, channel)
    celery_worker("send-refused", queues="send", concurrency=1, SEND_RETRY_BASE_SECONDS=0.3)
    messages = [
        message_send(channel=channel, contact=c, type="text", content={"body": "hi"})
        for c in contacts
    ]
    ids = [m.pk for m in messages]
    wait_for(
        lambda: Message.objects.filter(pk__in=ids, attempts__gte=2).count() == len(ids),
        timeout=20,
    )
    refused = Message.objects.filter(pk__in=ids)
    assert set(refused.values_list("status", flat=True)) <= {Status.QUEUED, Status.SENDING}
    assert any("could not connect" in m.error_detail for m in refused)

    sim = SimulatorServer(port=port, config={"access_token": TOKEN, "webhooks": False}).start()
    try:
        drive(
            lambda: Message.objects.filter(pk__in=ids, status=Status.ACCEPTED).count() == len(ids),
            timeout=30,
            sweep=send_sweep,
        )
        counts = sim.counts()
        assert len(counts) == len(ids) and set(counts.values()) == {1}
        assert len(sim.attempts()) == len(ids)  # no request reached it twice
        assert all(m.attempts >= 3 for m in Message.objects.filter(pk__in=ids))
    finally:
        sim.stop()


# --- Scenario 7: SIGKILL in the middle of a 2,000-message campaign -------------------------------


def test_a_worker_killed_mid_campaign_then_restarted_leaves_no_duplicate(
    transactional_db, simulator, celery_worker, settings
):
    """Scenario 7. The only worker is SIGKILLed while draining a 2,000-contact campaign, then a
    new one starts. Claims older than SEND_CLAIM_STALE_SECONDS become `unknown` (they may have
    reached the provider); everything else is sent. Every contact ends accepted or unknown, and
    no recipient got two messages; each unknown one was sent at most once."""
    settings.SEND_CLAIM_STALE_SECONDS = 2
    channel = sim_channel(simulator)
    n = 2000
    campaign = campaign_build(
        channel, contacts_bulk(n, prefix="+91972"), name="kill", throttle_mps=250
    )
    env = {"SEND_CLAIM_STALE_SECONDS": 2}
    victim = celery_worker("send-victim", queues="send", concurrency=2, **env)
    campaign_launch(campaign=campaign)
    wait_for(lambda: sum(simulator.counts().values()) >= 500, timeout=30, interval=0.05)
    victim.kill()
    sent_at_kill = sum(simulator.counts().values())
    assert sent_at_kill < n, "the campaign finished before the kill"

    celery_worker("send-rescuer", queues="send", concurrency=2, **env)
    drive(completed(campaign), timeout=50, sweep=send_sweep)

    statuses = by_status(campaign)
    assert set(statuses) <= {"Accepted", "Unknown"}, statuses
    assert sum(statuses.values()) == n
    counts = simulator.counts()
    assert set(counts.values()) == {1}, "a recipient got the campaign twice"
    accepted = set(
        campaign.messages.filter(status=Status.ACCEPTED).values_list("contact__wa_id", flat=True)
    )
    unknown = set(
        campaign.messages.filter(status=Status.UNKNOWN).values_list("contact__wa_id", flat=True)
    )
    assert accepted <= set(counts), "an accepted message never reached the provider"
    assert set(counts) <= accepted | unknown
    # The ambiguous window: what the killed worker had claimed. Some of it reached the
    # provider before the kill (counted once), the rest never left.
    reached = len(unknown & set(counts))
    print(
        f"\nkill: {sent_at_kill} sent before, {len(unknown)} unknown ({reached} had reached "
        f"the provider), {len(accepted)} accepted"
    )


# --- Scenario 8: Redis flushed in the middle of a campaign -------------------------------------


def test_redis_flushed_mid_campaign_the_sweeper_redrives_from_the_database(
    transactional_db, simulator, celery_worker
):
    """Scenario 8. FLUSHDB on the broker and cache database while a campaign is sending loses
    every queued task, the rate limiter's state and the enqueue markers. Beat's sweeper
    (`send_sweep`) re-drives from the database; the campaign completes, nobody twice."""
    channel = sim_channel(simulator)
    n = 600
    campaign = campaign_build(
        channel, contacts_bulk(n, prefix="+91973"), name="flush", throttle_mps=100
    )
    celery_worker("send-flush", queues="send", concurrency=2)
    campaign_launch(campaign=campaign)
    wait_for(lambda: sum(simulator.counts().values()) >= 150, timeout=20, interval=0.05)
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    flushed_at = sum(simulator.counts().values())
    time.sleep(3)  # no sweeper yet: whatever still moves was already in a worker's hands
    before_sweep = sum(simulator.counts().values())

    took = drive(completed(campaign), timeout=45, tick=1.0, sweep=send_sweep)

    counts = simulator.counts()
    assert len(counts) == n and set(counts.values()) == {1}
    assert by_status(campaign) == {"Accepted": n}
    print(
        f"\nflush: {flushed_at} sent at the flush, {before_sweep} before the first sweep, "
        f"completed {took:.1f}s after the sweeper started"
    )


# --- Scenario 11: Redis stopped for 8 seconds in the middle of a campaign -------------------------


def test_redis_stopped_mid_campaign_writes_off_no_unsent_message(
    transactional_db, simulator, celery_worker, settings
):
    """Scenario 11. The workers reach Redis (broker, cache, rate limiter) through a proxy that
    is cut for 8 s while a 1,500-contact campaign sends: a stopped Redis. Batches the workers
    had claimed stop at the rate limiter, before any request, and go straight back to the
    queue; nothing stays claimed for the sweeper to call `unknown` (its stale limit is 2 s
    here). When Redis is back the campaign completes: no message ends `unknown` that the
    simulator never received, and every contact got exactly one."""
    settings.SEND_CLAIM_STALE_SECONDS = 2
    direct = urlsplit(settings.REDIS_URL)
    proxy = TcpProxy(direct.hostname or "127.0.0.1", direct.port or 6379)
    via_proxy = proxied_redis_url(proxy, settings.REDIS_URL)
    channel = sim_channel(simulator)
    n = 1500
    campaign = campaign_build(
        channel, contacts_bulk(n, prefix="+91974"), name="redis-down", throttle_mps=100
    )
    env = {"SEND_CLAIM_STALE_SECONDS": 2, "REDIS_URL": via_proxy, "CELERY_BROKER_URL": via_proxy}
    try:
        celery_worker("send-redis-down", queues="send", concurrency=2, **env)
        campaign_launch(campaign=campaign)
        wait_for(lambda: sum(simulator.counts().values()) >= 300, timeout=30, interval=0.05)
        proxy.cut()
        cut_at = time.monotonic()
        sent_at_stop = sum(simulator.counts().values())
        # Beat's sweeper takes its lock in Redis: nothing sweeps while Redis is down, so only
        # the dispatcher itself can give the claims back.
        wait_for(
            lambda: not campaign.messages.filter(status=Status.SENDING).exists(),
            timeout=8.0,
            interval=0.05,
        )
        released_after = time.monotonic() - cut_at
        # The outage is the injected fault: it lasts its 8 s whatever Parley does meanwhile.
        time.sleep(max(0.0, cut_at + 8.0 - time.monotonic()))
        claimed_at_restart = campaign.messages.filter(status=Status.SENDING).count()
        sent_during_stop = sum(simulator.counts().values()) - sent_at_stop
        proxy.restore()
        took = drive(completed(campaign), timeout=90, tick=1.0, sweep=send_sweep)
    finally:
        proxy.close()

    counts = simulator.counts()
    assert len(counts) == n and set(counts.values()) == {1}, "someone got it twice or never"
    unknown = set(
        campaign.messages.filter(status=Status.UNKNOWN).values_list("contact__wa_id", flat=True)
    )
    assert not unknown - set(counts), "written off as unknown, yet never sent"
    assert claimed_at_restart == 0, "claims left in `sending` for the sweeper to write off"
    statuses = by_status(campaign)
    assert set(statuses) <= {"Accepted", "Unknown"} and sum(statuses.values()) == n, statuses
    print(
        f"\nredis down 8 s: {sent_at_stop} sent before, {sent_during_stop} during, "
        f"claims back in the queue {released_after:.2f} s in, {claimed_at_restart} at the restart; "
        f"{statuses}; completed {took:.1f} s after the restart"
    )
