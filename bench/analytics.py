"""Analytics at volume: rollups and dashboard response times on PostgreSQL.

Generates, in SQL (INSERT ... SELECT generate_series, no ORM loop), 5,000,000 messages over 90
days (85% outbound with per-status timestamps, half of them from one campaign per day; 15%
inbound, a third of those button replies), 200,000 contacts, 50,000 conversions, consent events
and conversation events, in the scratch database. Then it measures:

* the rollup of one day without and with the message indexes it relies on (migration
  messaging 0013),
* the rollup of all 90 days and the customer metrics,
* p50/p95 of every dashboard page and reporting endpoint, in-process through Django's test
  client as a signed-in analyst (static files collected, as in production).

    .venv/bin/python bench/analytics.py [--messages 5000000] [--contacts 200000]
        [--conversions 50000] [--requests 60]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from datetime import timedelta

import common

DAYS = 90
# The message indexes the rollups need (messaging/models.py, migration messaging 0013). They
# are dropped while the data is generated (a bulk load is faster without them) and while the
# rollup is timed without them, then built again from the model's own definitions.
ANALYTICS_INDEXES = (
    "message_sent_at",
    "message_delivered_at",
    "message_read_at",
    "message_failed_at",
    "message_inbound_received",
    "message_campaign_recent",
    "message_replied_at",
    "message_clicked_at",
)


def sql(statement: str, params=None) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def column_defaults() -> None:
    """Give each NOT NULL column with a model default (or a blank string) a database default,
    on the tables the INSERT ... SELECT statements below fill, so a column added after this
    bench was written (an edit history, a cost) takes its model default instead of failing."""
    from django.apps import apps
    from django.db import connection

    quote = connection.ops.quote_name
    with connection.schema_editor() as editor:
        for model in apps.get_models():
            if model._meta.app_label not in ("crm", "messaging", "analytics"):
                continue
            for field in model._meta.concrete_fields:
                default = None if field.null else editor.effective_default(field)
                if field.primary_key or default is None:
                    continue
                editor.execute(
                    f"ALTER TABLE {quote(model._meta.db_table)} "
                    f"ALTER COLUMN {quote(field.column)} SET DEFAULT %s",
                    [default],
                )


def generate(args) -> dict:
    from django.contrib.auth.models import Group, User
    from django.utils import timezone

    from analytics.days import day_bounds, today  # after common.setup_django()
    from messaging.models import Campaign, Channel, MessageTemplate  # after setup_django()

    started = time.perf_counter()
    column_defaults()
    channels = [
        Channel.objects.create(
            name=f"Bench {n}", provider="meta_cloud", phone_number_id=f"20000000000000{n}"
        )
        for n in (1, 2)
    ]
    current = today()
    first_day = current - timedelta(days=DAYS - 1)
    first_start = day_bounds(first_day)[0]
    elapsed_today = max(60, int((timezone.now() - day_bounds(current)[0]).total_seconds()) - 60)
    # Eight approved templates (two languages of four names) on each number; every outbound
    # message is a send of one of them, a campaign's messages of the campaign's template.
    templates = MessageTemplate.objects.bulk_create(
        [
            MessageTemplate(
                channel=channel, name=name, language=language, status="APPROVED",
                category="MARKETING" if name.startswith("offer") else "UTILITY",
                quality_score="GREEN",
            )
            for channel in channels
            for name in ("offer_daily", "offer_weekend", "order_update", "payment_due")
            for language in ("en", "hi")
        ]
    )  # fmt: skip
    first_template = min(t.pk for t in templates)
    campaigns = Campaign.objects.bulk_create(
        [
            Campaign(
                name=f"Daily offer {n}",
                channel=channels[0],
                # Today's campaign is still running, with a large audience (its messages so
                # far): the live campaign summary's worst case.
                state="running" if n == DAYS - 1 else "completed",
                launched_at=day_bounds(first_day + timedelta(days=n))[0],
                template_id=first_template + n % 2,
                created_at=day_bounds(first_day + timedelta(days=n))[0],
            )
            for n in range(DAYS)
        ]
    )  # fmt: skip
    first_campaign = min(c.pk for c in campaigns)
    sql(
        """
        INSERT INTO crm_contact (phone, wa_id, name, profile_name, language, attributes, consent,
            blocked, pinned, undeliverable, undeliverable_reason, unread_count, created_at,
            updated_at)
        SELECT '+9196' || lpad(g::text, 8, '0'), '9196' || lpad(g::text, 8, '0'), 'Contact ' || g,
               '', 'en', '{}'::jsonb, 'opted_in', false, false, false, '', 0,
               %s::timestamptz + (g %% %s) * interval '1 day', now()
        FROM generate_series(1, %s) AS g
        """,
        [first_start, DAYS, args.contacts],
    )
    from crm.models import Contact  # after common.setup_django()

    contact_base = Contact.objects.order_by("pk").values_list("pk", flat=True).first()
    per_day = args.messages // DAYS
    chunk = 500_000
    for lo in range(0, per_day * DAYS, chunk):
        hi = min(per_day * DAYS, lo + chunk) - 1
        sql(
            """
            WITH base AS (
                SELECT g, g / %(per_day)s AS d, g %% %(per_day)s AS i,
                       (g::bigint * 2654435761) %% 1000 AS r, (g::bigint * 40503) %% 100 AS s
                FROM generate_series(%(lo)s, %(hi)s) AS g
            ), shaped AS (
                SELECT g, d, i, r, s,
                    %(first)s::timestamptz + d * interval '1 day'
                      + (i * (CASE WHEN d = %(last)s THEN %(elapsed)s ELSE 86400 END)::float8
                         / %(per_day)s) * interval '1 second' AS created,
                    %(contact_base)s + (i::bigint * 7919) %% %(contacts)s AS contact,
                    r < 150 AS inbound,
                    CASE WHEN s < 5 THEN 70 WHEN s < 10 THEN 40 WHEN s < 25 THEN 50 ELSE 60 END
                      AS status
                FROM base
            )
            INSERT INTO messaging_message (uuid, channel_id, contact_id, direction, type, content,
                is_marketing, context_wamid, wamid, wa_id, status, lane, created_at, accepted_at,
                sent_at, delivered_at, read_at, failed_at, received_at, attempts,
                next_attempt_at, error_code, error_title, error_detail, pricing,
                pricing_category, billable, conversation_info, media_id, media_file, media_error,
                reaction, is_automated, campaign_id, cost, cost_currency, template_id)
            SELECT gen_random_uuid(),
                CASE WHEN i %% 10 = 0 THEN %(channel2)s ELSE %(channel1)s END,
                contact,
                CASE WHEN inbound THEN 'in' ELSE 'out' END,
                CASE WHEN inbound AND r < 50 THEN 'button' WHEN inbound THEN 'text'
                     ELSE 'template' END,
                CASE WHEN inbound AND r < 50 THEN
                    jsonb_build_object('payload', 'B' || (r %% 4), 'text',
                        (ARRAY['Shop now', 'Track order', 'Unlock content', 'Stop'])[1 + r %% 4])
                     ELSE '{}'::jsonb END,
                NOT inbound, '', 'wamid.b' || g, '',
                CASE WHEN inbound THEN 1 ELSE status END, 1, created,
                CASE WHEN inbound OR status = 70 THEN NULL ELSE created + interval '1 second' END,
                CASE WHEN inbound OR status = 70 THEN NULL ELSE created + interval '2 seconds' END,
                CASE WHEN NOT inbound AND status IN (50, 60)
                     THEN created + interval '10 seconds' END,
                CASE WHEN NOT inbound AND status = 60
                     THEN created + (60 + r * 7) * interval '1 second' END,
                CASE WHEN NOT inbound AND status = 70 THEN created + interval '3 seconds' END,
                CASE WHEN inbound THEN created END,
                1, created,
                CASE WHEN NOT inbound AND status = 70
                     THEN (ARRAY[131026, 131047, 131049, 130472, 131000])[1 + r %% 5] END,
                CASE WHEN NOT inbound AND status = 70 THEN 'Failure' ELSE '' END, '',
                '{}'::jsonb, '',
                CASE WHEN NOT inbound AND i %% 2 = 0 THEN true END,
                '{}'::jsonb, '', '', '', '', false,
                CASE WHEN NOT inbound AND i %% 2 = 0 THEN %(first_campaign)s + d END,
                CASE WHEN inbound THEN NULL WHEN status = 70 THEN 0 ELSE 0.0107 END,
                CASE WHEN inbound OR status = 70 THEN '' ELSE 'USD' END,
                CASE WHEN inbound THEN NULL
                     WHEN i %% 2 = 0 THEN %(first_template)s + d %% 2
                     ELSE %(first_template)s + (CASE WHEN i %% 10 = 0 THEN 8 ELSE 0 END)
                          + 2 + (g %% 6) END
            FROM shaped
            """,
            {
                "per_day": per_day, "lo": lo, "hi": hi, "first": first_start, "last": DAYS - 1,
                "elapsed": elapsed_today, "contact_base": contact_base,
                "contacts": args.contacts, "channel1": channels[0].pk,
                "channel2": channels[1].pk, "first_campaign": first_campaign,
                "first_template": first_template,
            },
        )  # fmt: skip
        print(f"  messages {hi + 1:,} / {per_day * DAYS:,}", flush=True)
    engagement_mark()
    sql(
        """
        INSERT INTO analytics_conversionevent (reference_id, type, name, page_name, session_id,
            value, currency, value_base, occurred_at, contact_id, source, attribution_source,
            created_at)
        SELECT 'BENCH-' || g, t, '', CASE WHEN t = 'page_view' THEN 'pricing' ELSE '' END, '',
               v, 'INR', v, o, %s + (g::bigint * 48271) %% LEAST(%s, 30000), 'bench', 'organic', o
        FROM (
            SELECT g,
                (ARRAY['order', 'order', 'order', 'order', 'order', 'payment', 'signup',
                       'page_view', 'subscription', 'order'])[1 + g %% 10] AS t,
                CASE WHEN g %% 10 IN (6, 7) THEN 0
                     ELSE (ARRAY[299, 499, 799, 1299, 2499, 4999])[1 + g %% 6] END AS v,
                %s::timestamptz + ((g::bigint * 7907) %% (%s * 86400 - 3600)) * interval '1 second'
                  AS o
            FROM generate_series(1, %s) AS g
        ) c WHERE o < now()
        """,
        [contact_base, args.contacts, first_start, DAYS, args.conversions],
    )
    sql(
        """
        INSERT INTO crm_consentevent (contact_id, previous, consent, source, note, created_at)
        SELECT %s + (g * 31) %% %s, 'opted_in', CASE WHEN g %% 3 = 0 THEN 'opted_in'
               ELSE 'opted_out' END, 'keyword', '',
               %s::timestamptz + ((g::bigint * 7919) %% (%s * 86400 - 3600)) * interval '1 second'
        FROM generate_series(1, 20000) AS g
        """,
        [contact_base, args.contacts, first_start, DAYS],
    )
    sql(
        """
        INSERT INTO messaging_conversation (contact_id, channel_id, is_open, opened_at,
            last_activity_at, first_response_automated)
        SELECT id, %s, id %% 7 = 0, created_at, created_at, false
        FROM crm_contact ORDER BY id LIMIT 60000
        """,
        [channels[0].pk],
    )
    sql(
        """
        INSERT INTO messaging_conversationevent (conversation_id, kind, at, automated, seconds,
            note)
        SELECT c.id, k.kind, %s::timestamptz
                 + ((c.id::bigint * 104729 + k.n) %% (%s * 86400 - 7200)) * interval '1 second'
                 + CASE WHEN k.kind = 'first_response' THEN interval '5 minutes'
                        ELSE interval '0' END,
               k.kind = 'first_response' AND c.id %% 3 = 0,
               CASE WHEN k.kind = 'first_response' THEN 30 + (c.id %% 600) END, ''
        FROM messaging_conversation c
        CROSS JOIN (VALUES ('opened', 0), ('first_response', 0), ('closed', 1)) AS k(kind, n)
        """,
        [first_start, DAYS],
    )
    user = User.objects.create_user("bench-analyst", password="bench-analyst-pw-1")
    user.groups.add(Group.objects.get(name="Analyst"))
    sql("ANALYZE")
    return {"seconds": time.perf_counter() - started, "first_day": first_day, "user": user}


def engagement_mark() -> None:
    """What the inbound path and the button recorder leave behind (messaging.sending.engagement),
    set-based: each outbound message's first reply within the 7-day window (`replied_at`) and
    every inbound message credited (`reply_credited`), each
    button reply's tap answering the contact's latest message before it (ids follow time
    here), and that message's first tap in the window (`clicked_at`)."""
    sql(
        """
        WITH timeline AS (
            SELECT id, direction, type, contact_id, campaign_id, channel_id, content, created_at,
                   COALESCE(sent_at, delivered_at, read_at, received_at) AS at,
                   MIN(CASE WHEN direction = 'in' AND type NOT IN ('reaction', 'system')
                            THEN received_at END)
                     OVER (PARTITION BY contact_id ORDER BY id
                           ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS next_reply,
                   MAX(CASE WHEN direction = 'out' THEN id END)
                     OVER (PARTITION BY contact_id ORDER BY id
                           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS last_out
            FROM messaging_message
        ), replies AS (
            UPDATE messaging_message m SET replied_at = t.next_reply FROM timeline t
            WHERE m.id = t.id AND t.direction = 'out' AND t.at IS NOT NULL
              AND t.next_reply >= t.at AND t.next_reply < t.at + interval '7 days'
        )
        INSERT INTO analytics_buttonclick (message_id, replied_to_id, channel_id, contact_id,
            campaign_id, kind, payload, title, label, clicked_at, delay_seconds, created_at)
        SELECT t.id, t.last_out, t.channel_id, t.contact_id, o.campaign_id, 'button',
               t.content->>'payload', t.content->>'text', t.content->>'text', t.created_at,
               mod(t.id, 5000)::float8, t.created_at
        FROM timeline t LEFT JOIN messaging_message o ON o.id = t.last_out
        WHERE t.direction = 'in' AND t.type = 'button'
        """
    )
    sql("UPDATE messaging_message SET reply_credited = true WHERE direction = 'in'")
    sql(
        """
        UPDATE messaging_message m SET clicked_at = c.first
        FROM (SELECT replied_to_id, MIN(clicked_at) AS first FROM analytics_buttonclick
              WHERE replied_to_id IS NOT NULL GROUP BY replied_to_id) c
        WHERE m.id = c.replied_to_id
          AND c.first >= COALESCE(m.sent_at, m.delivered_at, m.read_at)
          AND c.first < COALESCE(m.sent_at, m.delivered_at, m.read_at) + interval '7 days'
        """
    )


def indexes_drop() -> None:
    for name in ANALYTICS_INDEXES:
        sql(f"DROP INDEX IF EXISTS {name}")


def indexes_create() -> float:
    from django.db import connection

    from messaging.models import Message  # after common.setup_django()

    started = time.perf_counter()
    with connection.schema_editor() as editor:
        for index in Message._meta.indexes:
            if index.name in ANALYTICS_INDEXES:
                editor.add_index(Message, index)
    sql("ANALYZE messaging_message")
    return time.perf_counter() - started


def indexes_described() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname = ANY(%s)",
            [list(ANALYTICS_INDEXES)],
        )
        rows = dict(cursor.fetchall())
    return ", ".join(f"`{rows[name].split(' USING btree ', 1)[-1]}`" for name in ANALYTICS_INDEXES)


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return statistics.median(ordered), p95


def dashboards(
    user, campaign_id: int, running_id: int, template_id: int, n: int
) -> list[tuple[str, float, float]]:
    from django.test import Client

    client = Client()
    client.force_login(user)
    urls = [
        "/staff/analytics/?range=30",
        "/staff/analytics/?range=90",
        "/staff/analytics/today/",
        "/staff/analytics/campaigns/?range=30",
        f"/staff/analytics/campaigns/{campaign_id}/",
        f"/staff/analytics/campaigns/{running_id}/",
        "/staff/analytics/templates/?range=7",
        "/staff/analytics/templates/?range=30",
        f"/staff/analytics/templates/{template_id}/?range=30",
        "/staff/analytics/buttons/?range=30",
        "/staff/analytics/page-views/?range=90",
        "/staff/analytics/conversations/?range=30",
        "/staff/analytics/customers/",
        "/staff/analytics/revenue/?range=90",
        "/api/v1/reporting/dashboard?range=30",
        f"/api/v1/reporting/campaigns/{campaign_id}/summary",
        f"/api/v1/reporting/campaigns/{running_id}/summary",
        "/api/v1/reporting/templates/?range=30",
        "/api/v1/reporting/revenue?range=90",
        "/api/v1/reporting/messages/status?status=failed",
        f"/api/v1/reporting/messages/status?campaign={campaign_id}",
        "/api/v1/reporting/inbound",
        "/api/v1/reporting/page-views/?range=90",
    ]
    results = []
    for url in urls:
        for _ in range(3):  # warm up
            assert client.get(url).status_code == 200, url
        samples = []
        for _ in range(n):
            started = time.perf_counter()
            response = client.get(url)
            samples.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, url
        p50, p95 = percentiles(samples)
        results.append((url, p50, p95))
        print(f"  {url}: p50 {p50:.1f} ms, p95 {p95:.1f} ms", flush=True)
    return results


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=5_000_000)
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--conversions", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--no-write", action="store_true", help="print, leave README alone")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the scratch database of an earlier run (migrated to the current code) and "
        "measure again: rollups and pages, not the load nor the rollup without indexes",
    )
    parser.add_argument("--generate-only", action="store_true", help="load the data and stop")
    args = parser.parse_args()

    extra = {
        "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "STATIC_ROOT": str(common.ROOT / "var" / "bench-static"),
        "API_THROTTLE_REPORTING": "100000/min",
        "API_THROTTLE_USER": "100000/min",
    }
    if args.reuse:
        subprocess.run(
            [common.PY, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=common.ROOT, env=common.bench_env(), check=True,
        )  # fmt: skip
    else:
        common.fresh_database()
    subprocess.run(
        [common.PY, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=common.ROOT, env=common.bench_env(**extra), check=True,
    )  # fmt: skip
    common.setup_django(**extra)
    from django.contrib.auth.models import User  # after common.setup_django()

    from analytics.days import today  # after common.setup_django()
    from analytics.models import (
        CampaignPerformance,
    )  # after common.setup_django()
    from analytics.services.customers import (
        customers_rollup,
    )  # after common.setup_django()
    from analytics.services.rollups import (
        analytics_rollup,
    )  # after common.setup_django()
    from messaging.models import Campaign, Message  # after common.setup_django()

    day = today() - timedelta(days=DAYS // 2)
    quiet = {"log": lambda message: None}
    if args.reuse:
        world = {
            "seconds": 0.0,
            "first_day": today() - timedelta(days=DAYS - 1),
            "user": User.objects.get(username="bench-analyst"),
        }
        no_index, index_seconds = None, None
    else:
        print("generating ...", flush=True)
        indexes_drop()
        world = generate(args)
        print(f"generated in {world['seconds']:.0f} s", flush=True)
        if args.generate_only:
            index_seconds = indexes_create()
            print(f"indexes built in {index_seconds:.0f} s; stopping (--generate-only)")
            return {}
        no_index = timed(lambda: analytics_rollup(days=[day], customers=False, **quiet))
        print(f"one day without the analytics indexes: {no_index:.2f} s", flush=True)
        index_seconds = indexes_create()
    one_day = [
        timed(lambda: analytics_rollup(days=[day], customers=False, **quiet)) for _ in range(3)
    ]
    today_run = timed(lambda: analytics_rollup(days=[today()], customers=False, **quiet))
    print(f"one day: {one_day}, today: {today_run:.2f} s", flush=True)
    all_days = [world["first_day"] + timedelta(days=n) for n in range(DAYS)]
    ninety = timed(lambda: analytics_rollup(days=all_days, customers=False, **quiet))
    customers = timed(customers_rollup)
    print(f"90 days: {ninety:.1f} s, customers: {customers:.1f} s", flush=True)
    campaign_id = (
        CampaignPerformance.objects.filter(day__isnull=True).order_by("-sent").first().campaign_id
    )
    running_id = Campaign.objects.get(state="running").pk
    template_id = Campaign.objects.get(pk=running_id).template_id
    pages = dashboards(world["user"], campaign_id, running_id, template_id, args.requests)
    from analytics.selectors import _today_compute  # after common.setup_django()

    live = []
    for _ in range(args.requests):
        started = time.perf_counter()
        _today_compute(today())
        live.append((time.perf_counter() - started) * 1000)
    live_p50, live_p95 = percentiles(live)
    print(f"today's live figures, uncached: p50 {live_p50:.1f} ms, p95 {live_p95:.1f} ms")

    counts = {
        "messages": Message.objects.count(),
        "contacts": args.contacts,
        "conversions": args.conversions,
    }
    result = {
        **counts,
        "generate_s": round(world["seconds"], 1),
        "index_build_s": round(index_seconds, 1) if index_seconds is not None else None,
        "rollup_one_day_without_indexes_s": round(no_index, 2) if no_index is not None else None,
        "rollup_one_day_s": round(statistics.median(one_day), 2),
        "rollup_today_s": round(today_run, 2),
        "rollup_90_days_s": round(ninety, 1),
        "customer_metrics_s": round(customers, 1),
        "pages": {url: [round(p50, 1), round(p95, 1)] for url, p50, p95 in pages},
        "today_live_uncached_ms": [round(live_p50, 1), round(live_p95, 1)],
    }
    print(json.dumps(result, indent=2))
    if args.no_write:
        return result
    worst = max(p95 for _url, _p50, p95 in pages)
    body = (
        f"{counts['messages']:,} messages over {DAYS} days (85% outbound with per-status "
        f"timestamps, half from one campaign per day; 15% inbound, a third of them button "
        f"replies), {args.contacts:,} contacts, {args.conversions:,} conversions (attributed "
        "by the rollup), 20,000 consent events and 180,000 conversation events, generated in "
        + (
            f"SQL in {world['seconds']:.0f} s. "
            if not args.reuse
            else "SQL by an earlier run (this one `--reuse`d it, migrated to the current code). "
        )
        + "PostgreSQL on this machine, one process. "
        "Dashboards and reporting endpoints through Django's test client as a signed-in "
        f"analyst, {args.requests} requests each after 3 warm-up requests.\n\n"
        + common.table(
            [
                ("rollup of one day (median of 3)", f"{statistics.median(one_day):.2f} s", "< 5 s"),
                (
                    "rollup of one day without the message analytics indexes",
                    f"{no_index:.2f} s" if no_index is not None else "not measured (--reuse)",
                    "(why messaging has them)",
                ),
                ("rollup of today (the 5-minute run)", f"{today_run:.2f} s", ""),
                (f"rollup of all {DAYS} days", f"{ninety:.1f} s", ""),
                (
                    "customer metrics (200,000 contacts, 90 days of messages)",
                    f"{customers:.1f} s",
                    "nightly",
                ),
                (
                    "building the analytics indexes",
                    f"{index_seconds:.1f} s" if index_seconds is not None else "(--reuse)",
                    "once",
                ),
                ("slowest p95 of the pages below", f"{worst:.1f} ms", "< 100 ms"),
                (
                    "today's live figures without their 10 s cache, p50 / p95",
                    f"{live_p50:.1f} / {live_p95:.1f} ms",
                    "",
                ),
            ],
            ("what", "measured", "target"),
        )
        + "\n\n"
        + common.table(
            [(f"`{url}`", f"{p50:.1f}", f"{p95:.1f}") for url, p50, p95 in pages],
            ("page", "p50 ms", "p95 ms"),
        )
        + "\n\nToday's tile (overview, `today/`, the dashboard API) is computed live at most "
        "every `ANALYTICS_TODAY_CACHE_SECONDS` (10); the pages above mostly hit that cache, "
        "the row above is its cost. Analytics queries run with `SET LOCAL jit = off`: "
        "PostgreSQL otherwise JIT-compiles these aggregates for ~100 ms each."
        + "\n\nThe message indexes the rollups use (migration messaging 0013), dropped for "
        "the load and the timing without them, then built again: " + indexes_described() + ".\n"
    )
    rollup = statistics.median(one_day)
    common.summary(
        "analytics",
        [
            {
                "path": f"rollup of one day at {args.messages:,} messages over {DAYS} days",
                "measured": f"{rollup:.2f} s",
                "baseline": f"{no_index:.2f} s without the message indexes"
                if no_index is not None
                else "",
                "target": "< 5 s",
                "met": rollup < 5,
            },
            {
                "path": f"dashboards and reporting API at {args.messages:,} messages",
                "measured": f"slowest p95 {worst:.1f} ms",
                "baseline": f"{len(pages)} pages and endpoints",
                "target": "p95 < 100 ms",
                "met": worst < 100,
            },
        ],
    )
    common.write_section("Analytics", body)
    return result


if __name__ == "__main__":
    main()
