"""The full cycle at the top tier: queued -> accepted -> every status taken in and applied.

PostgreSQL, Redis, real Celery workers, the simulator and the production web server
(`gunicorn -c config/gunicorn.py`: uvicorn workers, the lean intake with group commit). Three
runs of N messages each, on a fresh database:

1. send-only: the simulator sends no webhooks (the baseline, as `send_throughput.py`);
2. full cycle, one status per webhook (as Meta mostly sends them): sent, delivered, read;
3. full cycle, up to 20 statuses per webhook.

A full cycle is timed from the first claim to the moment every message is read and no webhook
is pending; the backlog of stored, unprocessed webhooks is sampled every 0.2 s (its peak, and
how long it took to drain after the last acceptance). The intake's p50/p99 are the answer times
the simulator saw. Each run also reports the CPU seconds every role used during it (send and
webhook workers, web server, simulator, PostgreSQL, read from /proc), which says where the
two cores went. Then the intake alone under `wrk` (16 connections, signed one-status
bodies) beside an empty Django view on the same server and, as the earlier baseline, on two
sync gunicorn workers.

    .venv/bin/python bench/full_cycle.py [--messages 20000]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import time

import _loadgen as loadgen
import common
from send_throughput import queue_messages

SECRET = "simulator-app-secret"
PHONE_NUMBER_ID = "200000000000001"
SEND_ENV = {
    "SEND_CONCURRENCY": 16,
    "SEND_BATCH_SIZE": 500,
    "SEND_BULK_SHARE": 1.0,
    "SEND_RECIPIENT_MIN_GAP_SECONDS": 0,
    "WHATSAPP_API_TOKEN": "simulator-token",
    "WHATSAPP_APP_SECRET": SECRET,
}
# Statuses follow each other quickly so that the run measures throughput, not Meta's pace
# (Meta's "sent" comes about a second after acceptance; "read" when a person reads).
SIM_TIMING = ["--sent-delay", "0.2", "--delivered-delay", "0.1", "--read-delay", "0.2"]
SWEEP_EVERY_SECONDS = 10  # beat's messaging.webhook_sweep (migration messaging 0004)
# Where the two cores go during a run (common.cpu_by_role): text in each command line.
ROLES = {
    "send workers": "-Q send",
    "webhook workers": "-Q webhooks",
    "web server": "gunicorn",
    "simulator": "whatsapp_simulator",
    "bench driver": "bench/",
}


def web_server(port: int, *, workers: int = 2):
    args = [
        common.PY, "-m", "gunicorn", "-c", "config/gunicorn.py", "--pythonpath", "bench",
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--log-level", "warning",
    ]  # fmt: skip
    env = common.bench_env(
        PYTHONPATH="bench", DJANGO_SETTINGS_MODULE="bench_settings", WHATSAPP_APP_SECRET=SECRET
    )
    return common.process(args, env=env, log="full-cycle-web")


def cycle(n: int, *, webhooks: bool, max_batch: int = 1) -> dict:
    """One run on a fresh database; returns its figures."""
    common.fresh_database()
    import requests
    from django.db import connections
    from django.db.models import Max, Min

    from config.celery import app  # after common.setup_django()
    from core.queueing import task
    from messaging.models import Channel, Message, Status, WebhookEvent
    from messaging.sending.nudge import send_enqueue

    connections.close_all()  # the database was re-created
    port = common.free_port()
    extra = [*SIM_TIMING, "--max-batch", str(max_batch), "--webhook-concurrency", "16"]
    target = f"http://127.0.0.1:{port}/webhooks/whatsapp/" if webhooks else None
    with (
        web_server(port),
        common.simulator(webhooks_to=target, extra=extra) as sim_url,
    ):
        common.wait_http(f"http://127.0.0.1:{port}/bench/empty", timeout=60)
        channel = Channel.objects.create(
            name="Bench", provider="meta_cloud", phone_number_id=PHONE_NUMBER_ID,
            waba_id="100000000000001", base_url=sim_url, throughput_mps=100_000,
        )  # fmt: skip
        queue_messages(channel, n)
        with (
            common.workers(count=2, concurrency=2, queues="send", **SEND_ENV),
            common.workers(count=1, concurrency=2, queues="webhooks", name="hooks", **SEND_ENV),
        ):
            common.wait_workers(app, 3)
            cpu_before = common.cpu_by_role(ROLES)
            send_enqueue(channel_id=channel.pk, fanout=4)
            backlog: list[tuple[float, int]] = []
            started = swept = time.monotonic()
            last_accepted_at = None
            while time.monotonic() - started < 600:
                pending = WebhookEvent.objects.filter(state="pending").count()
                backlog.append((time.monotonic(), pending))
                if time.monotonic() - swept >= SWEEP_EVERY_SECONDS:  # as beat would
                    task("messaging.webhook_sweep").apply_async(queue="webhooks")
                    swept = time.monotonic()
                if last_accepted_at is None:
                    waiting = Message.objects.filter(
                        status__in=[Status.QUEUED, Status.SENDING]
                    ).exists()
                    if not waiting:
                        last_accepted_at = time.monotonic()
                if last_accepted_at is not None:
                    if not webhooks:
                        break
                    read = Message.objects.filter(status=Status.READ).count()
                    if read >= n and pending == 0:
                        break
                time.sleep(0.2)
            finished = time.monotonic()
            cpu = common.cpu_used(cpu_before, common.cpu_by_role(ROLES))
            stats = requests.get(f"{sim_url}/_sim/stats", timeout=10).json()
        window = Message.objects.aggregate(
            first=Min("claimed_at"), accepted=Max("accepted_at"), read=Max("read_at")
        )
        accepted = Message.objects.filter(wamid__isnull=False).count()
        read = Message.objects.filter(status=Status.READ).count()
        failed_events = WebhookEvent.objects.filter(state="failed").count()
        events = WebhookEvent.objects.aggregate(
            received=Max("received_at"), processed=Max("processed_at")
        )
        processed_last = events["processed"]
    send_seconds = (window["accepted"] - window["first"]).total_seconds()
    if webhooks:
        total_seconds = (max(processed_last, window["accepted"]) - window["first"]).total_seconds()
    else:
        total_seconds = send_seconds
    peak = max((p for _, p in backlog), default=0)
    drain = 0.0
    if webhooks and last_accepted_at is not None:
        drain = round(finished - last_accepted_at, 2)
    return {
        "messages": n,
        "accepted": accepted,
        "read": read,
        "send_rate": round(accepted / send_seconds) if send_seconds else 0,
        "cycle_rate": round(n / total_seconds) if total_seconds else 0,
        "seconds": round(total_seconds, 2),
        "webhook_posts": stats.get("webhook_posts", 0),
        "webhooks_per_message": round(stats.get("webhook_posts", 0) / n, 2),
        "statuses": stats.get("webhook_items", 0),
        "webhook_failures": stats.get("webhook_failures", 0),
        "intake_ms": stats.get("webhook_latency_ms", {}),
        "backlog_peak": peak,
        "drain_after_last_accept_s": drain,
        # How far processing trailed intake at the end: the last webhook processed after the
        # last one arrived (seconds). Small means processing kept up with what came in.
        "last_processed_after_last_received_s": (
            round((events["processed"] - events["received"]).total_seconds(), 2)
            if webhooks and events["processed"]
            else None
        ),
        "failed_events": failed_events,
        "wall_seconds": round(finished - started, 1),
        "cpu_seconds": cpu,
    }


def intake_alone(seconds: float = 8.0) -> dict:
    """wrk against the intake and an empty view on the production server, and the empty view
    and Django's intake view on two sync workers (the server before issue 21)."""
    common.fresh_database()
    from django.db import connections
    from webhook_ingest import status_body

    from messaging.models import Channel

    connections.close_all()
    Channel.objects.create(
        name="Bench", provider="meta_cloud", phone_number_id=PHONE_NUMBER_ID,
        waba_id="100000000000001",
    )  # fmt: skip

    def signed(tag: str, count: int) -> list[tuple[str, str, dict[str, str], bytes]]:
        requests = []
        for i in range(count):
            body = status_body(f"wamid.{tag}{i}", "delivered", 1_767_225_600 + i)
            digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            headers = {
                "Content-Type": "application/json",
                "X-Hub-Signature-256": f"sha256={digest}",
            }
            requests.append(("POST", "/webhooks/whatsapp/", headers, body))
        return requests

    empty = [("GET", "/bench/empty", {}, b"")]
    results = {}
    port = common.free_port()
    with web_server(port):
        url = f"http://127.0.0.1:{port}"
        common.wait_http(url + "/bench/empty", timeout=60)
        loadgen.wrk(url, empty, seconds=2)  # warm both workers
        loadgen.wrk(url, signed("warm", 2000), seconds=2)
        results["empty_asgi"] = loadgen.wrk(url, empty, seconds=seconds)
        results["intake_asgi"] = loadgen.wrk(url, signed("asgi", 80_000), seconds=seconds)
    port = common.free_port()
    sync = [
        common.PY, "-m", "gunicorn", "bench_app:application", "--pythonpath", "bench",
        "--workers", "2", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
    ]  # fmt: skip
    env = common.bench_env(
        PYTHONPATH="bench", DJANGO_SETTINGS_MODULE="bench_settings", WHATSAPP_APP_SECRET=SECRET
    )
    with common.process(sync, env=env, log="full-cycle-sync"):
        url = f"http://127.0.0.1:{port}"
        common.wait_http(url + "/bench/empty", timeout=60)
        loadgen.wrk(url, empty, seconds=2)
        results["empty_sync"] = loadgen.wrk(url, empty, seconds=seconds)
        results["intake_sync"] = loadgen.wrk(url, signed("sync", 30_000), seconds=seconds)
    return results


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    args = parser.parse_args()
    common.fresh_database()
    common.setup_django(WHATSAPP_APP_SECRET=SECRET)

    send_only = cycle(args.messages, webhooks=False)
    one = cycle(args.messages, webhooks=True, max_batch=1)
    twenty = cycle(args.messages, webhooks=True, max_batch=20)
    intake = intake_alone()
    result = {"send_only": send_only, "one_status": one, "twenty_statuses": twenty, **intake}
    print(json.dumps(result, indent=2))

    base = send_only["send_rate"] or 1
    rows = [
        ("send only (no webhooks)", f"{send_only['send_rate']:,} msg/s", "—", "—", "baseline"),
    ]
    for label, run, target in (
        ("full cycle, 1 status per webhook", one, 0.5),
        ("full cycle, up to 20 statuses per webhook", twenty, 0.8),
    ):
        rows.append(
            (
                label,
                f"{run['cycle_rate']:,} msg/s ({run['cycle_rate'] / base:.0%} of send only); "
                f"sends {run['send_rate']:,} msg/s",
                f"{run['webhooks_per_message']} webhooks/msg; intake p50 "
                f"{run['intake_ms'].get('p50')} ms, p99 {run['intake_ms'].get('p99')} ms",
                f"backlog peak {run['backlog_peak']:,}, drained "
                f"{run['drain_after_last_accept_s']} s after the last send; the last webhook "
                f"processed {run['last_processed_after_last_received_s']} s after it arrived",
                f">= {target:.0%} of send only",
            )
        )
    empty, hooks = intake["empty_asgi"], intake["intake_asgi"]
    rows.append(
        (
            "intake alone, signed, 1 status per request",
            f"{hooks['rps']:,} req/s ({hooks['rps'] / empty['rps']:.0%} of an empty Django "
            f"view on the same server, {empty['rps']:,} req/s)",
            f"p50 {hooks['p50_ms']} ms, p99 {hooks['p99_ms']} ms",
            f"before: {intake['intake_sync']['rps']:,} req/s (p99 "
            f"{intake['intake_sync']['p99_ms']} ms) on 2 sync workers, whose empty view "
            f"answers {intake['empty_sync']['rps']:,} req/s",
            ">= the empty view, p99 < 25 ms",
        )
    )
    body = common.table(rows, ("path", "rate", "webhooks and intake", "backlog", "target"))
    body += "\n\nWhere the two cores went, per run (CPU seconds, core-ms per message):\n\n"
    runs = (("send only", send_only), ("1 status/webhook", one), ("20 statuses/webhook", twenty))
    roles = [*ROLES, "PostgreSQL", "other", "machine"]

    def cpu(run: dict, role: str) -> str:
        seconds = run["cpu_seconds"][role]
        return f"{seconds:,} s ({1000 * seconds / args.messages:.2f})"

    body += common.table(
        [
            (
                role,
                *(cpu(run, role) for _, run in runs),
            )
            for role in roles
        ]
        + [("wall clock", *(f"{run['wall_seconds']} s" for _, run in runs))],
        ("role", *(label for label, _ in runs)),
    )
    body += (
        f"\n\n{args.messages:,} messages per run, each run on a fresh database: 2 send workers x "
        "2 processes, 1 webhook worker x 2 processes, the production web server with 2 uvicorn "
        "workers, the simulator (16 webhook POSTs in flight; sent, delivered, read 0.2, 0.3, "
        "0.5 s after acceptance) and PostgreSQL on the same 2 cores. Beat's webhook sweeper is "
        "sent every 10 s as beat would. A full cycle runs from the first claim "
        "to the last webhook processed; the backlog is stored webhooks not yet processed. "
        "Intake alone: wrk, 1 thread, 16 connections, 8 s per figure, distinct signed bodies.\n"
    )
    common.summary(
        "full_cycle",
        [
            {
                "path": "full cycle, 1 status per webhook",
                "measured": f"{one['cycle_rate']:,} msg/s",
                "baseline": f"send only {send_only['send_rate']:,} msg/s",
                "target": ">= 50% of send only",
                "met": one["cycle_rate"] >= 0.5 * base and one["read"] == args.messages,
            },
            {
                "path": "full cycle, 20 statuses per webhook",
                "measured": f"{twenty['cycle_rate']:,} msg/s",
                "baseline": f"send only {send_only['send_rate']:,} msg/s",
                "target": ">= 80% of send only",
                "met": twenty["cycle_rate"] >= 0.8 * base and twenty["read"] == args.messages,
            },
            {
                "path": "webhook intake alone, production server",
                "measured": f"{hooks['rps']:,} req/s, p99 {hooks['p99_ms']} ms",
                "baseline": f"empty Django view {empty['rps']:,} req/s (same server)",
                "target": ">= the empty view, p99 < 25 ms",
                "met": hooks["rps"] >= empty["rps"] and hooks["p99_ms"] < 25,
            },
        ],
    )
    common.write_section("Full cycle", body)
    return result


if __name__ == "__main__":
    main()
