"""Campaign launch and delivery at scale.

A 100,000-contact tag audience on PostgreSQL; reports the launch time (pre-flight plus
materialising one message per contact) and the end-to-end rate until every message is
accepted by the simulator (no webhooks, no throughput limit), beside the bare loop rate.

    .venv/bin/python bench/campaign.py [--contacts 100000] [--workers 2] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import json
import time

import common
from send_throughput import bare_loop


def make_audience(n: int):
    from django.db import connection

    from crm.models import Tag  # after common.setup_django()

    tag = Tag.objects.create(name="bench")
    with connection.cursor() as cursor:
        # COPY-speed generation in SQL: the benchmark measures the launch, not the setup.
        cursor.execute(
            """
            INSERT INTO crm_contact (phone, wa_id, name, profile_name, language, attributes,
                consent, blocked, pinned, undeliverable, undeliverable_reason, unread_count,
                created_at, updated_at)
            SELECT '+9197' || lpad(g::text, 8, '0'), '9197' || lpad(g::text, 8, '0'),
                   'Contact ' || g, '', 'en', '{}'::jsonb, 'opted_in', false, false, false, '',
                   0, now(), now()
            FROM generate_series(1, %s) AS g
            """,
            [n],
        )
        cursor.execute(
            "INSERT INTO crm_contact_tags (contact_id, tag_id) SELECT id, %s FROM crm_contact",
            [tag.pk],
        )
    return tag


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()

    common.fresh_database()
    common.setup_django()
    import requests
    from django.db.models import Max, Min

    from messaging.campaigns.services import (
        campaign_launch,
    )  # after common.setup_django()
    from messaging.channels.templates import (
        templates_sync,
    )  # after common.setup_django()
    from messaging.models import (
        Campaign,
        Channel,
        Message,
        MessageTemplate,
        Status,
    )  # after common.setup_django()

    with common.simulator() as sim_url:
        phone_number_id = "200000000000001"
        bare = bare_loop(sim_url, phone_number_id, 3000)
        requests.post(f"{sim_url}/_sim/reset", timeout=5)
        channel = Channel.objects.create(
            name="Bench", provider="meta_cloud", phone_number_id=phone_number_id,
            waba_id="100000000000001", base_url=sim_url, throughput_mps=100_000,
        )  # fmt: skip
        templates_sync(channel=channel)
        tag = make_audience(args.contacts)
        campaign = Campaign.objects.create(
            name="Bench campaign",
            channel=channel,
            template=MessageTemplate.objects.get(channel=channel, name="delivery_delayed"),
            parameter_mapping={
                "body": [
                    {"source": "field", "value": "name"},
                    {"source": "constant", "value": "#40321"},
                    {"source": "constant", "value": "Monday"},
                ]
            },
        )
        campaign.tags.add(tag)

        env = {
            "SEND_CONCURRENCY": 16,
            "SEND_BATCH_SIZE": 500,
            "SEND_BULK_SHARE": 1.0,
            "SEND_RECIPIENT_MIN_GAP_SECONDS": 0,
            "WHATSAPP_API_TOKEN": "simulator-token",
            "CAMPAIGN_MAX_DRAINERS": args.workers * args.concurrency,
        }
        with common.workers(
            count=args.workers, concurrency=args.concurrency, queues="send,default", **env
        ):
            from config.celery import app  # after common.setup_django()

            common.wait_workers(app, args.workers)
            started = time.perf_counter()
            campaign_launch(campaign=campaign)
            launch_seconds = time.perf_counter() - started
            deadline = time.monotonic() + 900
            pending = [Status.QUEUED, Status.SENDING]
            while time.monotonic() < deadline:
                if not Message.objects.filter(campaign=campaign, status__in=pending).exists():
                    break
                time.sleep(1)
        window = Message.objects.filter(campaign=campaign).aggregate(
            first=Min("claimed_at"), last=Max("accepted_at")
        )
        accepted = Message.objects.filter(campaign=campaign, status=Status.ACCEPTED).count()
        seconds = (window["last"] - window["first"]).total_seconds()
        counts = requests.get(f"{sim_url}/_sim/counts", timeout=30).json()

    result = {
        "contacts": args.contacts,
        "launch_seconds": round(launch_seconds, 2),
        "accepted": accepted,
        "delivery_seconds": round(seconds, 1),
        "end_to_end_mps": round(accepted / seconds) if seconds else 0,
        "bare_loop_mps": round(bare),
        "duplicates_at_simulator": sum(1 for v in counts.values() if v > 1),
    }
    print(json.dumps(result, indent=2))
    body = common.table(
        [
            ("launch (pre-flight + materialise)", f"{result['launch_seconds']} s", "< 10 s"),
            (
                "end to end, launch -> all accepted",
                f"{result['end_to_end_mps']:,} msg/s",
                ">= bare loop",
            ),
            ("bare one-process loop", f"{result['bare_loop_mps']:,} req/s", "baseline"),
        ],
        ("path", "measured", "target"),
    )
    body += (
        f"\n\n{accepted:,} of {args.contacts:,} messages accepted; recipients that got the "
        f"campaign twice: {result['duplicates_at_simulator']}.\n"
    )
    common.summary(
        "campaign",
        [
            {
                "path": f"campaign launch, {args.contacts:,} recipients",
                "measured": f"{result['launch_seconds']} s",
                "baseline": f"then {result['end_to_end_mps']:,} msg/s end to end (bare loop "
                f"{result['bare_loop_mps']:,} req/s)",
                "target": "< 10 s",
                "met": result["launch_seconds"] < 10,
            }
        ],
    )
    common.write_section("Campaign launch", body)
    return result


if __name__ == "__main__":
    main()
