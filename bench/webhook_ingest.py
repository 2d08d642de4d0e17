"""Webhook intake and processing.

gunicorn with two sync workers on PostgreSQL receives signed status webhooks posted from other
processes on loopback (keep-alive `http.client`); reported: accepted requests per second and
p50/p99 latency, beside an empty view on the same server. Then real `webhooks` workers drain
the backlog into message statuses; reported: statuses applied per second.

    .venv/bin/python bench/webhook_ingest.py [--messages 10000] [--clients 2]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

import common

SECRET = b"simulator-app-secret"
PHONE_NUMBER_ID = "200000000000001"


def statuses_payload(statuses: list[dict]) -> dict:
    """A Cloud API status notification for the bench number carrying `statuses`."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "100000000000001",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550001111",
                                "phone_number_id": PHONE_NUMBER_ID,
                            },
                            "statuses": statuses,
                        },
                    }
                ],
            }
        ],
    }


def status_body(wamid: str, status: str, ts: int) -> bytes:
    pricing = {"billable": True, "pricing_model": "PMP", "category": "utility", "type": "regular"}
    one = {
        "id": wamid,
        "status": status,
        "timestamp": str(ts),
        "recipient_id": "919800000000",
        "pricing": pricing,
    }
    return json.dumps(statuses_payload([one]), separators=(",", ":")).encode()


def post_all(port: int, path: str, bodies: list[bytes]) -> list[float]:
    """One client process: keep-alive POSTs (or GETs when bodies are empty), latencies in ms."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    latencies = []
    for body in bodies:
        headers = {"Content-Type": "application/json"}
        if body:
            digest = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
            headers["X-Hub-Signature-256"] = f"sha256={digest}"
        started = time.perf_counter()
        conn.request("POST" if body else "GET", path, body=body or None, headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            raise RuntimeError(f"{path}: HTTP {response.status}")
    return latencies


def load(port: int, path: str, bodies: list[bytes], clients: int) -> dict:
    chunks = [bodies[i::clients] for i in range(clients)]
    started = time.perf_counter()
    with ProcessPoolExecutor(clients) as pool:
        results = list(pool.map(post_all, [port] * clients, [path] * clients, chunks))
    seconds = time.perf_counter() - started
    latencies = sorted(x for r in results for x in r)
    return {
        "rps": round(len(latencies) / seconds),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
    }


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args()

    common.fresh_database()
    common.setup_django()
    from django.db import connection

    from messaging.models import (
        Channel,
        Message,
        Status,
        WebhookEvent,
    )  # after common.setup_django()

    channel = Channel.objects.create(
        name="Bench", provider="meta_cloud", phone_number_id=PHONE_NUMBER_ID,
        waba_id="100000000000001",
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO crm_contact (phone, wa_id, name, profile_name, language, attributes,"
            " consent, blocked, pinned, undeliverable, undeliverable_reason, unread_count,"
            " created_at, updated_at) VALUES ('+919800000000', '919800000000', 'Bench', '',"
            " 'en', '{}', 'opted_in', false, false, false, '', 0, now(), now()) RETURNING id"
        )
        contact_id = cursor.fetchone()[0]
    now = time.time()
    Message.objects.bulk_create(
        [
            Message(
                channel=channel,
                contact_id=contact_id,
                direction="out",
                type="text",
                content={"body": "x"},
                status=Status.ACCEPTED,
                wamid=f"wamid.bench{i}",
            )
            for i in range(args.messages)
        ],
        batch_size=5000,
    )
    bodies = [
        status_body(f"wamid.bench{i}", status, int(now) + offset)
        for offset, status in enumerate(["sent", "delivered", "read"])
        for i in range(args.messages)
    ]

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_row (id bigserial PRIMARY KEY, body text NOT NULL)")

    port = common.free_port()
    gunicorn = [
        common.PY, "-m", "gunicorn", "bench_app:application", "--pythonpath", "bench",
        "--workers", "2", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
    ]  # fmt: skip
    with common.process(gunicorn, env=common.bench_env(PYTHONPATH="bench"), log="gunicorn"):
        common.wait_http(f"http://127.0.0.1:{port}/bench/empty")
        post_all(port, "/bench/empty", [b""] * 200)  # warm both workers
        empty = load(port, "/bench/empty", [b""] * len(bodies), args.clients)
        insert = load(port, "/bench/insert", bodies, args.clients)
        intake = load(port, "/webhooks/whatsapp/", bodies, args.clients)
    stored = WebhookEvent.objects.count()

    from config.celery import app  # after common.setup_django()
    from messaging.webhooks.services import (
        webhook_drain_nudge,
        webhook_drain_nudge_clear,
    )  # after common.setup_django()

    app.control.purge()  # the nudge the intake published: the drain is started below
    webhook_drain_nudge_clear()
    with common.workers(count=1, concurrency=2, queues="webhooks"):
        common.wait_workers(app, 1)
        started = time.perf_counter()
        webhook_drain_nudge()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if not WebhookEvent.objects.filter(state="pending").exists():
                break
            time.sleep(0.05)
        drain_seconds = time.perf_counter() - started
    read = Message.objects.filter(status=Status.READ).count()
    failed_events = WebhookEvent.objects.filter(state="failed").count()

    result = {
        "webhooks_posted": len(bodies),
        "stored": stored,
        "empty_view": empty,
        "insert_view": insert,
        "intake": intake,
        "intake_vs_empty": round(intake["rps"] / empty["rps"], 2),
        "intake_vs_insert": round(intake["rps"] / insert["rps"], 2),
        "drain_seconds": round(drain_seconds, 2),
        "statuses_per_second": round(len(bodies) / drain_seconds),
        "messages_read": read,
        "failed_events": failed_events,
    }
    print(json.dumps(result, indent=2))
    body = common.table(
        [
            (
                "empty view, gunicorn 2 workers",
                f"{empty['rps']:,} req/s",
                f"p50 {empty['p50_ms']} ms, p99 {empty['p99_ms']} ms",
                "baseline",
            ),
            (
                "view inserting the body as one row",
                f"{insert['rps']:,} req/s",
                f"p50 {insert['p50_ms']} ms, p99 {insert['p99_ms']} ms",
                "baseline",
            ),
            (
                "signed status webhook intake",
                f"{intake['rps']:,} req/s ({result['intake_vs_empty']:.0%} of empty, "
                f"{result['intake_vs_insert']:.0%} of one-row insert)",
                f"p50 {intake['p50_ms']} ms, p99 {intake['p99_ms']} ms",
                ">= half the empty view, p99 < 25 ms",
            ),
            (
                "processing: statuses applied by 1 worker x 2 processes",
                f"{result['statuses_per_second']:,} statuses/s",
                f"{len(bodies):,} in {result['drain_seconds']} s",
                ">= 3,000/s, faster than intake",
            ),
        ],
        ("path", "rate", "latency", "target"),
    )
    body += (
        f"\n\n{len(bodies):,} webhooks ({args.messages:,} messages x sent/delivered/read, one "
        f"status per webhook as Meta sends them), {stored:,} stored, {read:,} messages ended "
        f"read, {failed_events} failed events; {args.clients} client processes with keep-alive "
        "`http.client` on the same 2 cores. Processing is timed from the drain request to the "
        "last event processed, with the worker already running.\n"
    )
    common.summary(
        "webhook_ingest",
        [
            {
                "path": "webhook intake, gunicorn 2 workers",
                "measured": f"{intake['rps']:,} req/s, p99 {intake['p99_ms']} ms",
                "baseline": f"empty view {empty['rps']:,} req/s; one-row insert view "
                f"{insert['rps']:,} req/s",
                "target": ">= half the empty view, p99 < 25 ms",
                "met": intake["rps"] >= empty["rps"] / 2 and intake["p99_ms"] < 25,
            },
            {
                "path": "webhook processing, 1 worker x 2 processes",
                "measured": f"{result['statuses_per_second']:,} statuses/s",
                "baseline": f"intake {intake['rps']:,} req/s",
                "target": ">= 3,000/s, faster than intake",
                "met": result["statuses_per_second"] >= max(3000, intake["rps"])
                and not failed_events,
            },
        ],
    )
    common.write_section("Webhook intake and processing", body)
    return result


if __name__ == "__main__":
    main()
