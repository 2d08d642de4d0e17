"""Webhook processing alone, in one process: what one drain costs per status.

Stores signed-body-shaped status webhooks straight into `WebhookEvent` (no HTTP), then times
`webhook_events_process` batch by batch in this process, on PostgreSQL: sent, delivered and
read for N campaign messages, first one status per webhook (as Meta mostly sends them), then
20 per webhook. Beside each, the floor of the same batches: claim the events and mark them
processed, nothing applied. `--profile` prints where the time goes (cProfile, top 25 by own
time) for the one-status run.

    .venv/bin/python bench/webhook_processing.py [--messages 10000] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import time

import common
from webhook_ingest import PHONE_NUMBER_ID, statuses_payload

BATCH = 500


def body(statuses: list[tuple[str, str, int]]) -> str:
    """A notification with these (wamid, status, time) statuses: sent and delivered carry a
    conversation and pricing (only sent has the conversation's expiry), read neither."""
    items = []
    for wamid, status, ts in statuses:
        item = {"id": wamid, "status": status, "timestamp": str(ts), "recipient_id": "919800000000"}
        if status != "read":
            conversation = {"id": f"conv{wamid}", "origin": {"type": "marketing"}}
            if status == "sent":
                conversation["expiration_timestamp"] = str(ts + 86400)
            item["conversation"] = conversation
            item["pricing"] = {
                "billable": True, "pricing_model": "PMP", "category": "marketing",
                "type": "regular",
            }  # fmt: skip
        items.append(item)
    return json.dumps(statuses_payload(items))


def setup(n: int) -> tuple[int, int]:
    """A channel, a campaign and N accepted messages with wamids; returns (channel, campaign)."""
    from django.utils import timezone

    from crm.models import Contact  # after common.setup_django()
    from messaging.models import Campaign, Channel, Message, Status  # after setup_django()

    channel = Channel.objects.create(
        name="Bench", provider="meta_cloud", phone_number_id=PHONE_NUMBER_ID,
        waba_id="100000000000001",
    )  # fmt: skip
    campaign = Campaign.objects.create(name="Bench", channel=channel)
    contacts = Contact.objects.bulk_create(
        [Contact(phone=f"+9198{i:08d}", wa_id=f"9198{i:08d}") for i in range(n)],
        batch_size=5000,
    )
    now = timezone.now()
    Message.objects.bulk_create(
        [
            Message(
                channel=channel,
                contact=c,
                campaign=campaign,
                direction="out",
                type="text",
                content={"body": f"Hello {i}"},
                status=Status.ACCEPTED,
                accepted_at=now,
                wamid=f"wamid.bench{i}",
            )
            for i, c in enumerate(contacts)
        ],
        batch_size=5000,
    )
    return channel.pk, campaign.pk


def store(n: int, per_webhook: int) -> int:
    """Store the webhooks for sent, delivered and read of N messages; returns how many."""
    from django.utils import timezone

    from messaging.webhooks.services import (
        WebhookBody,
        body_sha256,
        webhook_events_store,
    )  # after common.setup_django()

    start = int(time.time()) - 600
    statuses = [
        (f"wamid.bench{i}", status, start + offset)
        for offset, status in enumerate(["sent", "delivered", "read"])
        for i in range(n)
    ]
    texts = [body(statuses[i : i + per_webhook]) for i in range(0, len(statuses), per_webhook)]
    now = timezone.now()
    for i in range(0, len(texts), 1000):
        webhook_events_store(
            [
                WebhookBody("meta_cloud", text, body_sha256(text.encode()), now)
                for text in texts[i : i + 1000]
            ]
        )
    return len(texts)


def drain(process) -> tuple[float, int]:
    """Run `process(limit=BATCH)` until nothing is left; (seconds, events)."""
    events = 0
    started = time.perf_counter()
    while True:
        done = len(process(limit=BATCH))
        events += done
        if done < BATCH:
            return time.perf_counter() - started, events


def floor_process(*, limit: int) -> list:
    """Claim a batch and mark it processed without applying anything: the floor."""
    from django.db import transaction
    from django.db.models import F
    from django.utils import timezone

    from messaging.webhooks.models import WebhookEvent, WebhookState  # after setup_django()

    with transaction.atomic():
        events = list(
            WebhookEvent.objects.select_for_update(skip_locked=True)
            .filter(state=WebhookState.PENDING)
            .order_by("pk")[:limit]
        )
        WebhookEvent.objects.filter(pk__in=[e.pk for e in events]).update(
            state=WebhookState.PROCESSED, processed_at=timezone.now(), attempts=F("attempts") + 1
        )
    return events


def run(n: int, per_webhook: int, *, profile: bool = False) -> dict:
    common.fresh_database()
    common.setup_django()
    from django.db import connections

    from messaging.models import Message, Status, WebhookEvent  # after common.setup_django()
    from messaging.webhooks.services import webhook_events_process  # after setup_django()

    connections.close_all()  # the database was re-created
    setup(n)
    webhooks = store(n, per_webhook)
    floor_seconds, _ = drain(floor_process)
    WebhookEvent.objects.update(state="pending", attempts=0)
    connections["default"].cursor().execute("VACUUM ANALYZE")
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    seconds, events = drain(webhook_events_process)
    if profiler:
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        print(out.getvalue())
    read = Message.objects.filter(status=Status.READ).count()
    failed = WebhookEvent.objects.filter(state="failed").count()
    statuses = 3 * n
    return {
        "per_webhook": per_webhook,
        "webhooks": webhooks,
        "statuses": statuses,
        "seconds": round(seconds, 2),
        "statuses_per_second": round(statuses / seconds),
        "ms_per_batch": round(1000 * seconds / -(-events // BATCH), 1),
        "floor_seconds": round(floor_seconds, 2),
        "floor_statuses_per_second": round(statuses / floor_seconds),
        "read": read,
        "failed_events": failed,
    }


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    runs = [
        run(args.messages, 1, profile=args.profile),
        run(args.messages, 20),
    ]
    print(json.dumps(runs, indent=2))
    for r in runs:
        assert r["read"] == args.messages and not r["failed_events"], r
    rows = [
        (
            f"{r['per_webhook']} status{'es' if r['per_webhook'] > 1 else ''} per webhook",
            f"{r['statuses_per_second']:,} statuses/s",
            f"{r['ms_per_batch']} ms per batch of {BATCH} webhooks",
            f"{r['floor_statuses_per_second']:,} statuses/s",
        )
        for r in runs
    ]
    body_text = common.table(
        rows, ("webhooks", "applied, one process", "batch", "floor: claim and mark only")
    )
    body_text += (
        f"\n\n{args.messages:,} campaign messages x sent, delivered and read "
        f"({3 * args.messages:,} statuses), stored straight into the events table and drained "
        f"by `webhook_events_process` in this one process, {BATCH} webhooks per batch. The "
        "floor claims the same batches and marks them processed, applying nothing.\n"
    )
    common.write_section("Webhook processing, one process", body_text)
    common.summary(
        "webhook_processing",
        [
            {
                "path": f"webhook processing, one process, {r['per_webhook']} per webhook",
                "measured": f"{r['statuses_per_second']:,} statuses/s",
                "baseline": f"claim and mark only {r['floor_statuses_per_second']:,}/s",
                "target": "stays ahead of intake (see full cycle)",
                "met": None,
            }
            for r in runs
        ],
    )
    return {"runs": runs}


if __name__ == "__main__":
    main()
