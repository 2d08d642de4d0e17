"""The embedded rate limiter (no Redis): the per-recipient minimum gap (WhatsApp's pair rate,
131056), its purge, and the dispatcher holding a second message to one person across batches."""

import time

import pytest
import time_machine

from messaging.channels import ratelimit
from messaging.channels.models import RateLimitState
from messaging.models import Message, Status
from messaging.sending.dispatch import send_batch_run, send_sweep
from messaging.sending.send import message_send
from tests.factories import ContactFactory, window_open

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def embedded(settings):
    settings.REDIS_URL = ""  # the database-backed limiter, whatever the environment says


@pytest.fixture
def clock():
    """Time stands still until a test moves it (the gaps are read from time.time())."""
    with time_machine.travel(time.time(), tick=False) as traveller:
        yield traveller


def test_a_recipient_is_held_for_the_gap_then_free_again(clock):
    assert ratelimit.recipients_claim_gap(["1", "2"], gap_seconds=0.3) == {"1", "2"}
    # Within the gap: held, whoever asks (another batch, another worker process).
    assert ratelimit.recipients_claim_gap(["1", "3"], gap_seconds=0.3) == {"3"}
    assert ratelimit.recipients_claim_gap(["2"], gap_seconds=0.3) == set()
    clock.shift(0.35)
    assert ratelimit.recipients_claim_gap(["1", "2"], gap_seconds=5) == {"1", "2"}
    assert ratelimit.recipients_claim_gap(["1", "2", "4"], gap_seconds=5) == {"4"}
    held = dict(RateLimitState.objects.filter(key__startswith="gap:").values_list("key", "tat"))
    assert set(held) == {"gap:1", "gap:2", "gap:3", "gap:4"}
    assert held["gap:1"] > time.time() + 4 > held["gap:3"]


def test_no_gap_holds_nobody_and_writes_nothing():
    assert ratelimit.recipients_claim_gap(["1", "1", "2"], gap_seconds=0) == {"1", "2"}
    assert ratelimit.recipients_claim_gap([], gap_seconds=1) == set()
    assert not RateLimitState.objects.exists()


def test_the_claim_costs_a_few_statements_for_many_recipients(django_assert_max_num_queries):
    many = [str(i) for i in range(500)]
    # Insert, lock, update inside a savepoint; SQLite splits the 500-row insert in two.
    with django_assert_max_num_queries(6):
        assert len(ratelimit.recipients_claim_gap(many, gap_seconds=1)) == 500
    with django_assert_max_num_queries(5):  # nothing granted: no update
        assert ratelimit.recipients_claim_gap(many, gap_seconds=1) == set()


def test_the_sweeper_purges_expired_gaps_only(clock):
    ratelimit.reserve("channel:1", 1, rate=10)  # the channel's rate row is not a gap
    ratelimit.recipients_claim_gap(["old"], gap_seconds=0.05)
    ratelimit.recipients_claim_gap(["fresh"], gap_seconds=60)
    clock.shift(0.1)
    assert send_sweep()["recipient_gaps_purged"] == 1
    keys = set(RateLimitState.objects.values_list("key", flat=True))
    assert keys == {"channel:1", "gap:fresh"}
    assert ratelimit.recipients_claim_gap(["fresh", "old"], gap_seconds=60) == {"old"}


def test_redis_keeps_its_own_gaps(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # never contacted: the purge has nothing to do
    assert ratelimit.recipient_gaps_purge() == 0


def test_the_dispatcher_holds_a_second_message_to_one_person_across_batches(
    channel, simulator, settings
):
    """Before, the embedded limiter let one message per recipient through per batch only: a
    message queued just after another went out at once. Now it waits out the gap."""
    settings.SEND_RECIPIENT_MIN_GAP_SECONDS = 0.6
    contact, other = ContactFactory(), ContactFactory()
    window_open(contact, channel)
    window_open(other, channel)

    def send(to, body):
        return message_send(channel=channel, contact=to, type="text", content={"body": body})

    send(contact, "first")
    assert send_batch_run(channel_id=channel.pk, max_seconds=5)["accepted"] == 1
    second, third = send(contact, "second"), send(other, "to someone else")
    assert send_batch_run(channel_id=channel.pk, max_seconds=5)["accepted"] == 1
    second.refresh_from_db()
    assert second.status == Status.QUEUED and second.attempts == 0  # held, not refused
    assert simulator.counts()[contact.wa_id] == 1
    assert Message.objects.get(pk=third.pk).status == Status.ACCEPTED

    # The gap is real time against the real simulator: drain until the held one goes.
    deadline = time.monotonic() + 5
    accepted = 0
    while not accepted and time.monotonic() < deadline:
        time.sleep(0.05)
        accepted = send_batch_run(channel_id=channel.pk, max_seconds=1)["accepted"]
    assert accepted == 1
    sent = [a["time"] for a in simulator.attempts(to=contact.wa_id)]
    assert len(sent) == 2 and sent[1] - sent[0] >= 0.6
    assert simulator.counts()[contact.wa_id] == 2
