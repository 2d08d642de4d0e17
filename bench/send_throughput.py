"""Send throughput: queued -> accepted by the simulator, through real workers.

PostgreSQL, Redis, Celery worker processes and the simulator (no webhooks, no throughput
limit). N messages are queued in bulk, drainers are started, and the rate is measured from
the first claim to the last acceptance. Beside it, the rate of a bare one-process loop posting
the same bodies to the same simulator, and the simulator's own capacity with several clients.

    .venv/bin/python bench/send_throughput.py [--messages 20000] [--workers 2] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor

import common


def bare_loop(url: str, phone_number_id: str, n: int, offset: int = 0) -> float:
    """One process, one keep-alive connection, the same bodies the pipeline sends."""
    import requests

    session = requests.Session()
    session.trust_env = False  # as Parley's provider sessions (see providers/transport.py)
    headers = {"Authorization": "Bearer simulator-token", "Content-Type": "application/json"}
    endpoint = f"{url}/v25.0/{phone_number_id}/messages"
    start = time.perf_counter()
    for i in range(n):
        body = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": f"9177{offset + i:08d}",
            "type": "text",
            "text": {"body": f"Bench message {i}", "preview_url": False},
            "biz_opaque_callback_data": f"bare-{offset + i}",
        }
        response = session.post(endpoint, data=json.dumps(body), headers=headers, timeout=10)
        response.raise_for_status()
    return n / (time.perf_counter() - start)


def light_loop(url: str, phone_number_id: str, n: int, offset: int = 0) -> float:
    """`bare_loop` on `http.client`: a client light enough that the server is what it measures."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port)
    headers = {"Authorization": "Bearer simulator-token", "Content-Type": "application/json"}
    path = f"/v25.0/{phone_number_id}/messages"
    start = time.perf_counter()
    for i in range(n):
        body = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": f"9177{offset + i:08d}",
            "type": "text",
            "text": {"body": f"Bench message {i}", "preview_url": False},
            "biz_opaque_callback_data": f"light-{offset + i}",
        }
        conn.request("POST", path, body=json.dumps(body), headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"simulator answered {response.status}")
    return n / (time.perf_counter() - start)


def simulator_capacity(url: str, phone_number_id: str, n: int, clients: int) -> float:
    start = time.perf_counter()
    with ProcessPoolExecutor(clients) as pool:
        list(
            pool.map(
                light_loop,
                [url] * clients,
                [phone_number_id] * clients,
                [n] * clients,
                [1_000_000 * (k + 1) for k in range(clients)],
            )
        )
    return clients * n / (time.perf_counter() - start)


def queue_messages(channel, n: int) -> None:
    from django.utils import timezone

    from crm.models import Contact  # after common.setup_django()
    from messaging.models import Conversation, Lane, Message  # after common.setup_django()

    now = timezone.now()
    contacts = Contact.objects.bulk_create(
        [
            # Inside the 24-hour window: free-form text is what these messages are.
            Contact(
                phone=f"+9198{i:08d}",
                wa_id=f"9198{i:08d}",
                consent="opted_in",
                last_inbound_at=now,
            )
            for i in range(n)
        ],
        batch_size=5000,
    )
    # Each contact wrote to the number a moment ago (the window is per number's conversation).
    Conversation.objects.bulk_create(
        [Conversation(contact=c, channel=channel, last_inbound_at=now) for c in contacts],
        batch_size=5000,
    )
    Message.objects.bulk_create(
        [
            Message(
                channel=channel,
                contact=c,
                direction="out",
                type="text",
                content={"body": f"Hello {i}", "preview_url": False},
                lane=Lane.BULK,
                next_attempt_at=now,
            )
            for i, c in enumerate(contacts)
        ],
        batch_size=5000,
    )


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=2, help="pool size per worker")
    parser.add_argument("--send-concurrency", type=int, default=16, help="HTTP threads per task")
    args = parser.parse_args()

    common.fresh_database()
    common.setup_django()
    import requests
    from django.db.models import Max, Min

    from messaging.models import (
        Channel,
        Message,
        Status,
    )  # after common.setup_django()
    from messaging.sending.nudge import (
        send_enqueue,
    )  # after common.setup_django()

    with common.simulator() as sim_url:
        phone_number_id = "200000000000001"
        bare = bare_loop(sim_url, phone_number_id, 3000)
        capacity = simulator_capacity(sim_url, phone_number_id, 1500, clients=4)
        requests.post(f"{sim_url}/_sim/reset", timeout=5)

        channel = Channel.objects.create(
            name="Bench",
            provider="meta_cloud",
            phone_number_id=phone_number_id,
            waba_id="100000000000001",
            base_url=sim_url,
            throughput_mps=100_000,
        )
        queue_messages(channel, args.messages)
        env = {
            "SEND_CONCURRENCY": args.send_concurrency,
            "SEND_BATCH_SIZE": 500,
            "SEND_BULK_SHARE": 1.0,
            "SEND_RECIPIENT_MIN_GAP_SECONDS": 0,
            "WHATSAPP_API_TOKEN": "simulator-token",
        }
        with common.workers(count=args.workers, concurrency=args.concurrency, queues="send", **env):
            from config.celery import app  # after common.setup_django()

            common.wait_workers(app, args.workers)
            send_enqueue(channel_id=channel.pk, fanout=args.workers * args.concurrency)
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                done = Message.objects.filter(status=Status.ACCEPTED).count()
                if done >= args.messages:
                    break
                time.sleep(0.5)
        window = Message.objects.aggregate(first=Min("claimed_at"), last=Max("accepted_at"))
        accepted = Message.objects.filter(status=Status.ACCEPTED).count()
        seconds = (window["last"] - window["first"]).total_seconds()
        counts = requests.get(f"{sim_url}/_sim/counts", timeout=10).json()
        duplicates = sum(1 for v in counts.values() if v > 1)

    rate = accepted / seconds if seconds else 0.0
    result = {
        "messages": args.messages,
        "accepted": accepted,
        "seconds": round(seconds, 2),
        "pipeline_mps": round(rate),
        "bare_loop_mps": round(bare),
        "simulator_4_clients_rps": round(capacity),
        "duplicates_at_simulator": duplicates,
        "workers": f"{args.workers} x {args.concurrency} processes, "
        f"{args.send_concurrency} HTTP threads per task",
    }
    print(json.dumps(result, indent=2))
    body = common.table(
        [
            (
                "send pipeline, queued -> accepted",
                f"{result['pipeline_mps']:,} msg/s",
                ">= 1,000 msg/s and >= bare loop",
            ),
            (
                "bare one-process `requests` loop, same bodies",
                f"{result['bare_loop_mps']:,} req/s",
                "baseline",
            ),
            (
                "simulator alone, 4 `http.client` client processes",
                f"{result['simulator_4_clients_rps']:,} req/s",
                "not the bottleneck",
            ),
        ],
        ("path", "measured", "target"),
    )
    body += (
        f"\n\n{accepted:,} of {args.messages:,} messages accepted in {seconds:.1f} s "
        f"({result['workers']}); recipients that got a message twice: {duplicates}.\n"
    )
    common.summary(
        "send_throughput",
        [
            {
                "path": f"send, queued -> accepted ({args.messages:,} messages)",
                "measured": f"{result['pipeline_mps']:,} msg/s",
                "baseline": f"bare `requests` loop {result['bare_loop_mps']:,} req/s; simulator "
                f"alone {result['simulator_4_clients_rps']:,} req/s",
                "target": ">= 1,000 msg/s and >= bare loop",
                "met": rate >= 1000 and rate >= bare and accepted == args.messages,
            }
        ],
    )
    common.write_section("Send throughput", body)
    return result


if __name__ == "__main__":
    main()
