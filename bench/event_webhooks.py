"""Event webhooks to integrators: a burst of status events reaching a fast local receiver.

10,000 `message.status` events are written to the outbox as the status path writes them (in
batches of 500, one bulk insert each, for one subscription), then real `webhooks` workers
(1 worker x 2 processes) deliver them, signed, to a fast receiver on loopback (a plain WSGI
app, `_receiver_app.py`, in gunicorn with 2 threaded workers and keep-alive, answering 200).
Reported: events delivered per second, from the drain request
to the last delivery recorded, beside the signed webhook intake rate measured in the same run
on the same server (the issue's target: no slower than intake).

    .venv/bin/python bench/event_webhooks.py [--events 10000] [--intake 3000] [--clients 2]
"""

from __future__ import annotations

import argparse
import json
import time

import common
import webhook_ingest


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--intake", type=int, default=3_000, help="webhooks posted for intake")
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args()

    common.fresh_database()
    common.setup_django(WEBHOOK_OUT_ALLOW_PRIVATE="1")
    from django.db import connection, transaction

    from messaging.hooks_out.models import DeliveryState, HookEvent, WebhookDelivery
    from messaging.hooks_out.services import (
        drain_nudge,
        drain_nudge_clear,
        events_emit,
        subscription_create,
    )
    from messaging.models import Channel  # after common.setup_django()

    Channel.objects.create(
        name="Bench", provider="meta_cloud", phone_number_id=webhook_ingest.PHONE_NUMBER_ID,
        waba_id="100000000000001",
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_row (id bigserial PRIMARY KEY, body text NOT NULL)")

    port = common.free_port()
    gunicorn = [
        common.PY, "-m", "gunicorn", "bench_app:application", "--pythonpath", "bench",
        "--workers", "2", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
    ]  # fmt: skip
    env = common.bench_env(PYTHONPATH="bench")
    with common.process(gunicorn, env=env, log="gunicorn"):
        common.wait_http(f"http://127.0.0.1:{port}/bench/empty")
        webhook_ingest.post_all(port, "/bench/empty", [b""] * 200)  # warm both workers
        now = int(time.time())
        bodies = [
            webhook_ingest.status_body(f"wamid.unknown{i}", "sent", now) for i in range(args.intake)
        ]
        intake = webhook_ingest.load(port, "/webhooks/whatsapp/", bodies, args.clients)

        from config.celery import app  # after common.setup_django()

        app.control.purge()  # the intake's drain requests: not what is measured here
    receiver_port = common.free_port()
    receiver = [
        common.PY, "-m", "gunicorn", "_receiver_app:application", "--pythonpath", "bench",
        "--workers", "2", "--worker-class", "gthread", "--threads", "8", "--keep-alive", "30",
        "--bind", f"127.0.0.1:{receiver_port}", "--log-level", "warning",
    ]  # fmt: skip
    with common.process(receiver, env=env, log="receiver"):
        common.wait_http(f"http://127.0.0.1:{receiver_port}/")
        subscription = subscription_create(
            name="Bench receiver",
            url=f"http://127.0.0.1:{receiver_port}/events",
            events=[HookEvent.MESSAGE_STATUS],
        )
        started = time.perf_counter()
        for start in range(0, args.events, 500):
            with transaction.atomic():
                events_emit(
                    event_type=HookEvent.MESSAGE_STATUS,
                    items=[
                        ({"message": {"id": f"m{n}", "status": "delivered", "wamid": f"w{n}"}},
                         f"m{n}")
                        for n in range(start, min(start + 500, args.events))
                    ],
                )  # fmt: skip
        emit_seconds = time.perf_counter() - started
        app.control.purge()  # the nudges: the drain below is started on a ready worker
        drain_nudge_clear()

        with common.workers(
            count=1, concurrency=2, queues="webhooks", WEBHOOK_OUT_ALLOW_PRIVATE="1"
        ):
            common.wait_workers(app, 1)
            started = time.perf_counter()
            drain_nudge()
            deadline = time.monotonic() + 600
            pending = WebhookDelivery.objects.exclude(state=DeliveryState.DELIVERED)
            while time.monotonic() < deadline and pending.exists():
                time.sleep(0.05)
            seconds = time.perf_counter() - started
    delivered = WebhookDelivery.objects.filter(
        subscription=subscription, state=DeliveryState.DELIVERED
    ).count()
    failed = WebhookDelivery.objects.filter(attempts__gt=1).count()

    rate = round(delivered / seconds)
    result = {
        "events": args.events,
        "delivered": delivered,
        "retried": failed,
        "emit_rows_per_second": round(args.events / emit_seconds),
        "deliver_seconds": round(seconds, 2),
        "events_per_second": rate,
        "intake": intake,
        "vs_intake": round(rate / intake["rps"], 2),
    }
    print(json.dumps(result, indent=2))
    body = common.table(
        [
            (
                "signed status webhook intake (baseline, same run)",
                f"{intake['rps']:,} req/s",
                f"p50 {intake['p50_ms']} ms, p99 {intake['p99_ms']} ms",
                "baseline",
            ),
            (
                "outbox writes (the status path's bulk insert)",
                f"{result['emit_rows_per_second']:,} events/s",
                f"{args.events:,} in batches of 500",
                "",
            ),
            (
                "event webhooks delivered, 1 worker x 2 processes",
                f"{rate:,} events/s ({result['vs_intake']:.0%} of intake)",
                f"{delivered:,} in {result['deliver_seconds']} s, {failed} retried",
                ">= the intake rate",
            ),
        ],
        ("path", "rate", "detail", "target"),
    )
    body += (
        f"\n\n{args.events:,} `message.status` events for one subscription, each a signed POST "
        "to a receiver on loopback (a plain WSGI app in gunicorn, 2 threaded workers with "
        "keep-alive, answering 200 at once) that shares the 2 cores with the workers, "
        "PostgreSQL and Redis. Timed from the drain "
        "request to the last delivery recorded, with the worker already running; each drain "
        "claims WEBHOOK_OUT_BATCH deliveries (SKIP LOCKED) and posts them over "
        "WEBHOOK_OUT_CONCURRENCY keep-alive connections. The intake figure is "
        f"{args.intake:,} signed status webhooks posted by {args.clients} client processes "
        "to Parley's own gunicorn (2 sync workers) in the same run, before the delivery.\n"
    )
    common.summary(
        "event_webhooks",
        [
            {
                "path": "event webhooks delivered, 1 worker x 2 processes",
                "measured": f"{rate:,} events/s",
                "baseline": f"webhook intake {intake['rps']:,} req/s (same run)",
                "target": ">= the intake rate",
                "met": rate >= intake["rps"] and delivered == args.events,
            }
        ],
    )
    common.write_section("Event webhooks to integrators", body)
    return result


if __name__ == "__main__":
    main()
