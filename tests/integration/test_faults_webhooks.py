"""Reliability scenarios on the webhook side (RELIABILITY.md, scenarios 2, 3 and 6).

Real PostgreSQL, Redis, Celery worker processes, the simulator, and for the database outage a
real gunicorn intake whose database connection runs through a proxy the test can unplug.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import requests
from django.utils import timezone

from messaging.models import (
    Message,
    MessageStatusEvent,
    Status,
    WebhookEvent,
    WebhookState,
)
from messaging.providers.meta_cloud import signature_for
from messaging.providers.simulator import SimulatorServer
from messaging.sending.dispatch import send_sweep
from messaging.sending.send import message_send
from messaging.sending.statuses import statuses_apply_parked_older
from messaging.webhooks.services import webhook_event_process, webhook_events_sweep
from tests.factories import ChannelFactory, ContactFactory, window_open
from tests.integration.conftest import wait_for
from tests.integration.faults import TcpProxy, WebProcess, drive, proxied_database_url

APP_SECRET = "faults-app-secret"
TOKEN = "faults-token"
BASE_TS = 1_767_225_600  # 2026-01-01T00:00:00Z


@pytest.fixture
def webhook_target(live_server, settings):
    from messaging.webhooks import intake

    settings.WHATSAPP_APP_SECRET = APP_SECRET
    settings.WHATSAPP_API_TOKEN = TOKEN
    intake._forget_secrets()
    yield live_server.url + "/webhooks/whatsapp/"
    intake._forget_secrets()


def envelope(channel, statuses: list[dict]) -> dict:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": channel.waba_id,
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": channel.display_phone_number,
                                "phone_number_id": channel.phone_number_id,
                            },
                            "statuses": statuses,
                        },
                    }
                ],
            }
        ],
    }


def signed_post(url: str, body: bytes, session: requests.Session | None = None):
    session = session or requests.Session()
    session.trust_env = False
    return session.post(
        url,
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": signature_for(APP_SECRET, body),
        },
        timeout=15,
    )


def webhook_sweep() -> None:
    """What beat's `messaging.webhook_sweep` does, without its age threshold."""
    webhook_events_sweep(older_than=0)
    statuses_apply_parked_older(older_than_seconds=0)


# --- Scenario 2: statuses shuffled and duplicated -----------------------------------------------

FAILURE_CODES = (131026, 131049, 131051)


def status_plan(rng: random.Random, n: int) -> list[dict]:
    """Per message: the statuses Meta could plausibly send for it (any subset of the forward
    steps, or a failure with or without `sent`), with distinct timestamps, and whether the send
    was ambiguous (no wamid recorded: the status must settle it through our UUID)."""
    plans = []
    for i in range(n):
        t0 = BASE_TS + i * 10
        if rng.random() < 0.25:
            code = rng.choice(FAILURE_CODES)
            steps = [("failed", t0 + 3, code)]
            if rng.random() < 0.5:
                steps.insert(0, ("sent", t0 + 1, None))
        else:
            names = [s for s in ("sent", "delivered", "read") if rng.random() < 0.8] or ["sent"]
            steps = [(name, t0 + 1 + k, None) for k, name in enumerate(names)]
        category = rng.choice(["utility", "marketing"])
        plans.append({"steps": steps, "ambiguous": rng.random() < 0.2, "category": category})
    return plans


def status_item(wamid: str, callback: str, step, category: str, index: int) -> dict:
    name, ts, code = step
    item = {
        "id": wamid,
        "status": name,
        "timestamp": str(ts),
        "recipient_id": "919800000000",
        "biz_opaque_callback_data": callback,
    }
    if code:
        item["errors"] = [
            {
                "code": code,
                "title": f"Error {code}",
                "message": f"Error {code}",
                "error_data": {"details": f"details of {code}"},
            }
        ]
    else:
        item["pricing"] = {
            "billable": True,
            "pricing_model": "PMP",
            "category": category,
            "type": "regular",
        }
        item["conversation"] = {"id": f"conv-{index}", "origin": {"type": category}}
        if name == "sent":
            item["conversation"]["expiration_timestamp"] = str(ts + 86400)
    return item


def messages_for_run(channel, run: int, plans: list[dict]) -> list[Message]:
    messages = []
    for i, plan in enumerate(plans):
        contact = ContactFactory(phone=f"+9198{run:02d}{i:06d}")
        ambiguous = plan["ambiguous"]
        messages.append(
            Message.objects.create(
                channel=channel,
                contact=contact,
                direction="out",
                type="text",
                content={"body": "hi"},
                status=Status.UNKNOWN if ambiguous else Status.ACCEPTED,
                wamid=None if ambiguous else f"wamid.R{run}.{i}",
                attempts=1,
            )
        )
    return messages


def outcome(messages: list[Message]) -> list[tuple]:
    fresh = {m.pk: m for m in Message.objects.filter(pk__in=[m.pk for m in messages])}
    rows = []
    for i, message in enumerate(messages):
        m = fresh[message.pk]
        rows.append(
            (
                i,
                Status(m.status).label,
                m.wamid.rsplit(".", 1)[-1] if m.wamid else None,
                m.sent_at,
                m.delivered_at,
                m.read_at,
                m.failed_at,
                m.error_code,
                m.pricing_category,
                m.billable,
                json.dumps(m.conversation_info, sort_keys=True),
                m.contact.undeliverable,
            )
        )
    return rows


def test_statuses_in_any_order_and_repeated_end_in_the_same_state(
    webhook_target, transactional_db, celery_worker
):
    """Scenario 2. The reference run applies every status once, in time order, one body each,
    in this process. Three more runs deliver the same statuses shuffled, about a third of them
    twice, grouped at random into bodies, posted concurrently to the live intake and processed
    by a real worker (concurrency 3) plus the sweeper. Every run ends in the same state."""
    channel = ChannelFactory()
    rng = random.Random(20260101)
    plans = status_plan(rng, 60)
    runs = 4
    per_run = [messages_for_run(channel, run, plans) for run in range(runs)]

    def items(run: int) -> list[dict]:
        result = []
        for i, (plan, message) in enumerate(zip(plans, per_run[run], strict=True)):
            for step in plan["steps"]:
                result.append(
                    status_item(f"wamid.R{run}.{i}", str(message.uuid), step, plan["category"], i)
                )
        return result

    # Reference: in order, one at a time, in process.
    for item in sorted(items(0), key=lambda it: int(it["timestamp"])):
        event = WebhookEvent.objects.create(
            provider="meta_cloud",
            body=json.dumps(envelope(channel, [item])),
            body_sha256=uuid.uuid4().hex,
        )
        webhook_event_process(event_id=event.pk)
    reference = outcome(per_run[0])
    assert {row[1] for row in reference} >= {"Sent", "Delivered", "Read", "Failed"}

    celery_worker("hooks-order", queues="webhooks", concurrency=3)
    session_pool = ThreadPoolExecutor(max_workers=6)
    for run in range(1, runs):
        shuffled = items(run)
        shuffled += rng.sample(shuffled, k=len(shuffled) // 3)  # duplicates
        rng.shuffle(shuffled)
        bodies = []
        while shuffled:
            size = rng.randint(1, 5)
            bodies.append(json.dumps(envelope(channel, shuffled[:size])).encode())
            shuffled = shuffled[size:]
        codes = list(session_pool.map(lambda b: signed_post(webhook_target, b).status_code, bodies))
        assert set(codes) == {200}, codes

    drive(
        lambda: (
            not WebhookEvent.objects.filter(state=WebhookState.PENDING).exists()
            and not MessageStatusEvent.objects.filter(applied=False).exists()
        ),
        timeout=40,
        tick=1.0,
        sweep=webhook_sweep,
    )
    assert not WebhookEvent.objects.filter(state=WebhookState.FAILED).exists()
    for run in range(1, runs):
        assert outcome(per_run[run]) == reference, f"run {run} differs from the reference"
    # One history row per (wamid, status), however often it arrived.
    total = sum(len(plan["steps"]) for plan in plans) * runs
    assert MessageStatusEvent.objects.count() == total


# --- Scenario 3: the database goes away under the intake -----------------------------------------


def test_database_outage_during_intake_answers_503_then_the_retry_is_processed_once(
    transactional_db, celery_worker, settings
):
    """Scenario 3. The intake runs as gunicorn whose PostgreSQL connection goes through a
    proxy. (a) The proxy is cut: every post is answered 503 and nothing is stored; once it is
    restored, Meta's retry is stored and processed once. (b) The proxy loses the answer to the
    COMMIT of the intake's group commit (it committed, the web process never heard): 503
    again, the retry is a duplicate (200, still one row), and the sweeper processes the
    stored event once."""
    channel = ChannelFactory()  # before the server starts, which reads the numbers as it warms up
    db = settings.DATABASES["default"]
    proxy = TcpProxy(db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432)
    web = WebProcess(
        "intake-db-outage",
        database_url=proxied_database_url(proxy),
        extra_env={"WHATSAPP_APP_SECRET": APP_SECRET, "WHATSAPP_API_TOKEN": TOKEN},
    )
    try:
        web.wait_ready()
        url = web.url + "/webhooks/whatsapp/"
        contact = ContactFactory()
        cut_msg, lost_msg = (
            Message.objects.create(
                channel=channel,
                contact=contact,
                direction="out",
                type="text",
                content={"body": "hi"},
                status=Status.ACCEPTED,
                wamid=wamid,
                attempts=1,
            )
            for wamid in ("wamid.OUTAGE.CUT", "wamid.OUTAGE.LOST")
        )

        def body(wamid: str) -> bytes:
            item = {
                "id": wamid,
                "status": "delivered",
                "timestamp": str(BASE_TS + 5),
                "recipient_id": contact.wa_id,
            }
            return json.dumps(envelope(channel, [item])).encode()

        assert signed_post(url, body("wamid.WARMUP")).status_code == 200  # path is healthy

        # (a) Database unreachable.
        proxy.cut()
        cut_body = body(cut_msg.wamid)
        answers = [signed_post(url, cut_body).status_code for _ in range(3)]
        assert answers == [503, 503, 503]
        assert not WebhookEvent.objects.filter(body=cut_body.decode()).exists()
        cut_msg.refresh_from_db()
        assert cut_msg.status == Status.ACCEPTED  # nothing half-written
        proxy.restore()
        celery_worker("hooks-outage", queues="webhooks", concurrency=1)
        assert signed_post(url, cut_body).status_code == 200  # Meta's retry
        stored = WebhookEvent.objects.get(body=cut_body.decode())
        wait_for(
            lambda: WebhookEvent.objects.get(pk=stored.pk).state == WebhookState.PROCESSED,
            timeout=20,
        )
        cut_msg.refresh_from_db()
        assert cut_msg.status == Status.DELIVERED
        assert cut_msg.delivered_at == datetime.fromtimestamp(BASE_TS + 5, tz=UTC)
        assert MessageStatusEvent.objects.filter(wamid=cut_msg.wamid).count() == 1

        # (b) The commit happens but its answer is lost.
        lost_body = body(lost_msg.wamid)
        proxy.lose_answer_to = b"COMMIT"
        assert signed_post(url, lost_body).status_code == 503
        assert proxy.answers_lost == 1
        assert WebhookEvent.objects.filter(body=lost_body.decode()).count() == 1  # committed
        assert signed_post(url, lost_body).status_code == 200  # the retry: a duplicate
        assert WebhookEvent.objects.filter(body=lost_body.decode()).count() == 1
        # Nobody enqueued it (the first answer failed, the retry was a duplicate): beat's
        # sweeper finds it pending and processes it.
        event = WebhookEvent.objects.get(body=lost_body.decode())
        drive(
            lambda: WebhookEvent.objects.get(pk=event.pk).state == WebhookState.PROCESSED,
            timeout=20,
            sweep=webhook_sweep,
        )
        event.refresh_from_db()
        assert event.attempts == 1
        lost_msg.refresh_from_db()
        assert lost_msg.status == Status.DELIVERED
        assert MessageStatusEvent.objects.filter(wamid=lost_msg.wamid).count() == 1
    finally:
        web.stop()
        proxy.close()


# --- Scenario 6: accepted, then the answer never comes ------------------------------------------


def test_a_hung_send_becomes_unknown_is_not_resent_and_the_webhook_settles_it(
    webhook_target, transactional_db, celery_worker
):
    """Scenario 6. The simulator accepts the send, then holds the answer past the worker's read
    timeout (1 s): the message becomes `unknown` and stays unsent-again through sweeps and
    drains; the simulator's statuses, which carry our UUID as biz_opaque_callback_data, then
    record its wamid and walk it to read."""
    sim = SimulatorServer(
        port=0,
        config={
            "app_secret": APP_SECRET,
            "access_token": TOKEN,
            "webhook_url": webhook_target,
            "hang_seconds": 4.0,
            "delays": {"sent": 2.5, "delivered": 0.3, "read": 0.3},
        },
    ).start()
    try:
        channel = ChannelFactory(base_url=sim.url, throughput_mps=50)
        contact = ContactFactory(last_inbound_at=timezone.now())
        window_open(contact, channel)
        sim.configure(hang_numbers=[contact.wa_id])
        celery_worker(
            "send-hang",
            queues="send",
            concurrency=1,
            PROVIDER_READ_TIMEOUT=1,
            WHATSAPP_API_TOKEN=TOKEN,
        )
        celery_worker("hooks-hang", queues="webhooks", concurrency=1)
        message = message_send(
            channel=channel, contact=contact, type="text", content={"body": "Your order shipped"}
        )

        seen = []

        def unknown() -> bool:
            m = Message.objects.get(pk=message.pk)
            seen.append(Status(m.status).label)
            return m.status == Status.UNKNOWN

        wait_for(unknown, timeout=10, interval=0.05)
        unknown_row = Message.objects.get(pk=message.pk)
        assert unknown_row.wamid is None and unknown_row.attempts == 1
        # Sweeps and fresh drainers must not send it again.
        for _ in range(3):
            send_sweep()
            time.sleep(0.3)
        assert sim.counts() == {contact.wa_id: 1}

        def read() -> bool:
            return Message.objects.get(pk=message.pk).status == Status.READ

        wait_for(read, timeout=20)
        settled = Message.objects.get(pk=message.pk)
        (accepted,) = sim.messages()
        assert accepted["callback_data"] == str(message.uuid)
        assert settled.wamid == accepted["wamid"]
        assert settled.sent_at and settled.sent_at <= settled.delivered_at <= settled.read_at
        assert settled.attempts == 1
        assert sim.counts() == {contact.wa_id: 1}
        assert len(sim.attempts(to=contact.wa_id)) == 1
        history = MessageStatusEvent.objects.filter(wamid=settled.wamid)
        assert sorted(history.values_list("status", flat=True)) == ["delivered", "read", "sent"]
        assert set(history.values_list("applied", flat=True)) == {True}
        assert "Unknown" in seen
    finally:
        sim.stop()


# --- Bad input on PostgreSQL: values longer than the columns --------------------------------------


def test_oversized_values_fail_their_item_not_the_event_on_postgresql(transactional_db):
    """SQLite does not enforce column lengths, PostgreSQL does: an item whose values do not fit
    is recorded as an error of the event, and the good items of the same body still apply.
    Processing never raises (a raise would retry the whole body for hours)."""
    channel = ChannelFactory()
    long = "9" * 300
    good = {
        "from": "919812345678",
        "id": "wamid.GOOD",
        "timestamp": str(BASE_TS),
        "type": "text",
        "text": {"body": "hello"},
    }
    items = [
        good,
        {**good, "id": "wamid." + "L" * 300},  # wamid longer than the column
        {**good, "id": "wamid.LONGWAID", "from": long},  # wa_id longer than the column
        {**good, "id": "wamid.LONGCTX", "context": {"id": "c" * 400, "from": long}},
    ]
    body = envelope(channel, [])
    value = body["entry"][0]["changes"][0]["value"]
    value["messages"] = items
    value["contacts"] = [{"wa_id": "919812345678", "profile": {"name": "N" * 5000}}]
    value["statuses"] = [
        {
            "id": "wamid.S",
            "status": "x" * 100,
            "timestamp": str(BASE_TS),
            "biz_opaque_callback_data": "c" * 5000,
        }
    ]
    body["entry"].append(
        {
            "id": channel.waba_id,
            "changes": [
                {
                    "field": "message_template_status_update",
                    "value": {
                        "event": "APPROVED" * 50,
                        "message_template_name": "t" * 600,
                        "message_template_language": "l" * 100,
                        "reason": "r" * 5000,
                    },
                },
                {
                    "field": "user_preferences",
                    "value": {
                        "metadata": {"phone_number_id": channel.phone_number_id},
                        "user_preferences": [
                            {
                                "wa_id": long,
                                "category": "marketing_messages",
                                "value": "stop",
                                "timestamp": BASE_TS,
                            }
                        ],
                    },
                },
            ],
        }
    )
    event = WebhookEvent.objects.create(
        provider="meta_cloud", body=json.dumps(body), body_sha256=uuid.uuid4().hex
    )
    webhook_event_process(event_id=event.pk)  # must not raise
    event.refresh_from_db()
    assert event.state == WebhookState.FAILED
    assert "inbound wamid.LONGWAID: DataError" in event.error
    assert "user_preferences: DataError" in event.error
    assert Message.objects.filter(wamid="wamid.GOOD").exists(), event.error
    assert Message.objects.get(wamid="wamid.GOOD").contact.profile_name == "N" * 200
