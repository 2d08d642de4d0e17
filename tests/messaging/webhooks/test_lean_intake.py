"""The production entry point (`config.asgi`): the lean webhook intake with group commit, and
Django behind a body buffer. Called as an ASGI application, the way uvicorn calls it."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import pytest
from django.db import DataError, OperationalError

from messaging.models import WebhookEvent
from messaging.webhooks import group_commit
from messaging.webhooks.group_commit import WebhookWriter
from messaging.webhooks.tasks import webhook_drain
from tests.factories import ChannelFactory
from tests.messaging.webhooks.support import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    VERIFY_TOKEN,
    WABA_ID,
    sign,
    status,
    statuses_payload,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),  # the writer commits on its own thread
    pytest.mark.usefixtures("webhook_settings", "no_broker"),
]


@pytest.fixture
def webhook_settings(settings):
    from messaging.webhooks import intake

    settings.WHATSAPP_APP_SECRET = APP_SECRET
    settings.WHATSAPP_WEBHOOK_VERIFY_TOKEN = VERIFY_TOKEN
    intake._forget_secrets()
    ChannelFactory(phone_number_id=PHONE_NUMBER_ID, waba_id=WABA_ID)
    yield settings
    intake._forget_secrets()


@pytest.fixture
def no_broker():
    with mock.patch.object(webhook_drain, "apply_async") as apply_async:
        yield apply_async


@pytest.fixture
def writer():
    """A fresh writer with one thread (so batches are predictable), stopped after the test."""
    fresh = WebhookWriter(threads=1)
    with mock.patch.object(group_commit, "_writer", fresh):
        yield fresh
    fresh.stop()


def application():
    from config.asgi import application

    return application


class Call:
    """One HTTP request to the ASGI app: `chunks` are the body's parts; None stalls."""

    def __init__(self, method, path, *, body=b"", headers=(), chunks=None, query=b""):
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "root_path": "",
            "headers": [(b"host", b"testserver"), *headers],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        self.chunks = list(chunks if chunks is not None else [body])
        self.sent: list[dict] = []

    async def receive(self):
        if not self.chunks:
            await asyncio.Event().wait()  # the client has nothing more to send
        chunk = self.chunks.pop(0)
        if chunk is None:
            await asyncio.Event().wait()
        return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}

    async def send(self, message):
        self.sent.append(message)

    async def run(self):
        await application()(self.scope, self.receive, self.send)
        return self

    @property
    def status(self) -> int:
        return self.sent[0]["status"]

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])


def signed(payload: dict, *, secret: str = APP_SECRET, path="/webhooks/whatsapp/") -> Call:
    raw = json.dumps(payload).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(raw)).encode()),
        (b"x-hub-signature-256", sign(raw, secret).encode()),
    ]
    return Call("POST", path, body=raw, headers=headers)


def loop_run(coroutine):
    """`asyncio.run` on a thread of its own: the test's thread may already run a loop (the
    browser tests' Playwright leaves one on an xdist worker), as a server's worker would not."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


async def until(condition, *watched: asyncio.Task, seconds: float = 10.0) -> None:
    """Wait for `condition()`, failing with the answer if a watched request ends first (it
    was refused before reaching the writer) or after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        for task in watched:
            if task.done():
                call = task.result()
                pytest.fail(f"answered {call.status} {call.body[:200]!r} before the writer had it")
        assert time.monotonic() < deadline, "the writer never got the bodies"
        await asyncio.sleep(0.01)


def run(*calls: Call) -> list[Call]:
    async def all_of():
        return await asyncio.gather(*(call.run() for call in calls))

    return loop_run(all_of())


def body_of(n: int) -> dict:
    return statuses_payload(status(f"wamid.lean-{n}", "delivered", 1_700_000_000 + n))


# --- The intake -------------------------------------------------------------------------------


def test_a_signed_webhook_is_answered_200_after_its_commit_and_a_redelivery_collapses(
    writer, no_broker
):
    (first,) = run(signed(body_of(1)))
    assert (first.status, first.body) == (200, b"")
    assert WebhookEvent.objects.count() == 1
    assert writer.commits == 1
    no_broker.assert_called_once()  # a worker is nudged after the commit

    (again,) = run(signed(body_of(1)))
    assert again.status == 200
    assert WebhookEvent.objects.count() == 1


def test_concurrent_webhooks_share_commits(writer):
    """Fifty webhooks at once: every one stored and answered, in fewer commits than bodies."""
    store = group_commit.webhook_events_store
    batches: list[int] = []

    def counted(bodies):
        batches.append(len(bodies))
        return store(bodies)

    calls = [signed(body_of(n)) for n in range(50)]
    with mock.patch.object(group_commit, "webhook_events_store", side_effect=counted):
        run(*calls)
    assert [c.status for c in calls] == [200] * 50
    assert WebhookEvent.objects.count() == 50
    assert sum(batches) == 50
    assert len(batches) == writer.commits < 50
    assert max(batches) > 1


@pytest.mark.parametrize(
    ("call", "status", "reason"),
    [
        (lambda: signed(body_of(1), secret="wrong"), 403, b"invalid credentials"),
        (lambda: signed({**body_of(1), "entry": [{"id": "999"}]}), 403, b"unknown channel"),
        (lambda: Call("POST", "/webhooks/whatsapp", body=b"{}"), 401, b"credentials missing"),
    ],
)
def test_a_refused_webhook_is_answered_at_once_and_stored_nowhere(writer, call, status, reason):
    (answer,) = run(call())
    assert (answer.status, answer.body) == (status, reason)
    assert WebhookEvent.objects.count() == 0
    assert writer.commits == 0


def test_not_json_is_400():
    raw = b"not json"
    headers = [(b"x-hub-signature-256", sign(raw).encode())]
    (answer,) = run(Call("POST", "/webhooks/whatsapp/", body=raw, headers=headers))
    assert answer.status == 400


def test_a_body_too_large_is_413_whether_declared_or_streamed(settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 100
    declared = Call(
        "POST", "/webhooks/whatsapp/", headers=[(b"content-length", b"5000")], chunks=[None]
    )
    streamed = Call("POST", "/webhooks/whatsapp/", chunks=[b"x" * 60, b"x" * 60])
    assert [c.status for c in run(declared, streamed)] == [413, 413]


def test_a_slow_body_is_408_after_the_deadline(settings):
    """A client that sends one byte and stalls holds its connection until the deadline,
    and nothing else: another webhook is answered meanwhile."""
    settings.WEBHOOK_BODY_TIMEOUT_SECONDS = 0.3
    slow = Call("POST", "/webhooks/whatsapp/", chunks=[b"{", None])
    slow.scope["headers"].append((b"content-length", b"900"))

    async def both():
        slow_task = asyncio.create_task(slow.run())
        fast = await signed(body_of(7)).run()
        assert not slow_task.done()  # answered while the slow one still waits
        await slow_task
        return fast

    with mock.patch.object(group_commit, "_writer", WebhookWriter(threads=1)) as fresh:
        fast = loop_run(both())
        fresh.stop()
    assert fast.status == 200
    assert slow.status == 408


def test_a_failed_commit_answers_503_to_exactly_the_requests_it_held(writer):
    store = group_commit.webhook_events_store
    gate = threading.Event()
    batches: list[int] = []

    def second_batch_fails(bodies):
        batches.append(len(bodies))
        if len(batches) == 1:
            gate.wait(5)
        if len(batches) == 2:
            raise OperationalError("the server closed the connection unexpectedly")
        return store(bodies)

    async def scenario():
        first = asyncio.create_task(signed(body_of(1)).run())
        await until(lambda: batches, first)
        held = [signed(body_of(n)) for n in (2, 3, 4)]
        tasks = [asyncio.create_task(c.run()) for c in held]
        await until(lambda: writer._queue.qsize() >= 3, *tasks)
        gate.set()
        await asyncio.gather(first, *tasks)
        later = await signed(body_of(5)).run()
        return (await first), held, later

    with mock.patch.object(group_commit, "webhook_events_store", side_effect=second_batch_fails):
        first, held, later = loop_run(scenario())
    assert batches == [1, 3, 1]
    assert first.status == 200
    assert [c.status for c in held] == [503, 503, 503]
    assert later.status == 200
    stored = {e.body_sha256 for e in WebhookEvent.objects.all()}
    assert len(stored) == 2  # the first and the later; none of the failed batch


def test_a_body_the_database_refuses_fails_alone(writer):
    store = group_commit.webhook_events_store

    def refuses_one(bodies):
        if any("lean-2" in b.text for b in bodies):
            raise DataError("invalid byte sequence")
        return store(bodies)

    writer_gate = threading.Event()
    first_call = []

    def gated(bodies):
        if not first_call:
            first_call.append(1)
            writer_gate.wait(5)
        return refuses_one(bodies)

    async def scenario():
        warm = asyncio.create_task(signed(body_of(9)).run())
        await until(lambda: first_call, warm)
        calls = [signed(body_of(n)) for n in (1, 2, 3)]
        tasks = [asyncio.create_task(c.run()) for c in calls]
        await until(lambda: writer._queue.qsize() >= 3, *tasks)
        writer_gate.set()
        await asyncio.gather(warm, *tasks)
        return calls

    with mock.patch.object(group_commit, "webhook_events_store", side_effect=gated):
        calls = loop_run(scenario())
    assert [c.status for c in calls] == [200, 503, 200]
    assert WebhookEvent.objects.count() == 3


def test_writer_threads_share_the_queue_and_commit_what_they_hold_when_stopped():
    writer = WebhookWriter(threads=3)
    bodies = [f'{{"n": {n}}}' for n in range(40)]
    futures = [writer.submit("meta_cloud", body.encode(), body) for body in bodies]
    assert len({t.name for t in writer._threads}) == 3
    writer.stop()
    assert [f.result(1) for f in futures] == [True] * 40
    assert WebhookEvent.objects.count() == 40
    assert not any(t.is_alive() for t in threading.enumerate() if t.name.startswith("webhook-w"))

    again = writer.submit("meta_cloud", b'{"n": 0}', '{"n": 0}')  # started again on demand
    assert again.result(5) is False  # a duplicate
    writer.stop()


# --- Django behind the body buffer -------------------------------------------------------------


def test_other_paths_are_django_and_the_handshake_too():
    health, handshake = run(
        Call("GET", "/healthz"),
        Call(
            "GET",
            "/webhooks/whatsapp/",
            query=f"hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=42".encode(),
        ),
    )
    assert health.status in (200, 503)
    assert health.body.startswith(b"{")
    assert (handshake.status, handshake.body) == (200, b"42")


def test_django_is_given_a_request_only_once_its_body_has_arrived(settings):
    settings.WEB_BODY_IDLE_SECONDS = 0.3
    slow = Call(
        "POST", "/api/v1/contacts/", headers=[(b"content-length", b"100")], chunks=[b"{", None]
    )
    with mock.patch("django.core.handlers.wsgi.WSGIHandler.__call__") as django:
        (answer,) = run(slow)
    assert answer.status == 408
    django.assert_not_called()


def test_django_bodies_are_bounded(settings):
    settings.WEB_MAX_BODY_BYTES = 10
    declared = Call("POST", "/api/v1/contacts/", headers=[(b"content-length", b"11")])
    streamed = Call("POST", "/api/v1/contacts/", chunks=[b"x" * 6, b"x" * 6])
    assert [c.status for c in run(declared, streamed)] == [413, 413]


def test_a_buffered_body_reaches_django_whole():
    payload = json.dumps({"phone": "+919800000001", "name": "x" * 200_000}).encode()
    chunks = [payload[i : i + 7000] for i in range(0, len(payload), 7000)]
    call = Call(
        "POST",
        "/api/v1/contacts/",
        chunks=chunks,
        headers=[(b"content-type", b"application/json")],
    )
    (answer,) = run(call)
    assert answer.status == 401  # read whole and parsed, then refused: no credentials


def test_a_number_added_by_another_process_is_known_at_its_first_webhook(writer):
    """The index is cached for 30 s, but a body naming a number it lacks is judged again
    against a fresh read (at most once a second)."""
    from messaging.channels.models import Channel
    from messaging.webhooks import intake

    Channel.objects.filter(phone_number_id=PHONE_NUMBER_ID).delete()
    cached_at = intake.channel_index("meta_cloud")  # without the number
    intake._channels_cache["meta_cloud"] = (time.monotonic() - 5, cached_at)
    # Added as another process would: no signal reaches this process's cache.
    Channel.objects.bulk_create(
        [
            Channel(
                name="New", provider="meta_cloud", phone_number_id=PHONE_NUMBER_ID, waba_id=WABA_ID
            )
        ]
    )
    assert intake._channels_cache["meta_cloud"][1] is cached_at
    (answer,) = run(signed(body_of(3)))
    assert answer.status == 200
    (unknown,) = run(signed({**body_of(4), "entry": [{"id": "999"}]}))
    assert unknown.status == 403


def test_the_intake_is_observed_in_the_metrics(writer):
    from core.metrics import WEBHOOK_INTAKE

    def count(outcome):
        return WEBHOOK_INTAKE.labels(outcome)._value.get()

    before = {o: count(o) for o in ("stored", "duplicate", "refused")}
    run(signed(body_of(21)))
    run(signed(body_of(21)))
    run(signed(body_of(22), secret="wrong"))
    assert {o: count(o) - before[o] for o in before} == {"stored": 1, "duplicate": 1, "refused": 1}
