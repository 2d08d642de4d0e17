"""The operations centre's health report: every dependency, its state and its key numbers.

`/healthz` (core.health) stays the cheap machine-readable probe; this report is for people and
goes further: each worker and queue, beat, webhook intake, each channel's provider, the host.
Components are `ok`, `warn` (working, but look) or `down`.

Costs: the per-request part uses indexed reads only. Figures over a window (error rates, events
per minute, accepted in the last minute) scan a time range of messages and webhooks, so they are
cached for OPS_HEALTH_CACHE_SECONDS, and provider probes (TCP connect + HTTP GET, 2 s timeout)
for 30 s: many people watching the page cost the same as one.

`health_sample_record` (task `analytics.health_sample`, every minute) stores a `HealthSample`,
from which the page draws uptime percentages and 24-hour sparklines.
"""

from __future__ import annotations

import logging
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, Q
from django.utils import timezone

from analytics.ops.backup import backup_latest
from analytics.ops.jobs import job_last_runs
from analytics.ops.models import HealthSample
from analytics.ops.queues import QUEUES, queue_states
from core.health import check_broker, check_database
from core.models import WorkerHeartbeat
from messaging.hooks_out.selectors import subscriptions_needing_attention
from messaging.models import Channel, Direction, Message, Status, WebhookEvent, WebhookState
from messaging.providers import UnknownProvider, provider_type
from messaging.providers.probe import reachability_probe
from messaging.webhooks.selectors import webhook_backlog

logger = logging.getLogger(__name__)

OK, WARN, DOWN = "ok", "warn", "down"
_RANK = {OK: 0, WARN: 1, DOWN: 2}
PROBE_CACHE_SECONDS = 30
WATCHED_JOBS = ("rollup_analytics", "distribute_content")


def worst(*states: str) -> str:
    return max(states, key=lambda s: _RANK.get(s, 0), default=OK)


def _component(key: str, label: str, state: str, **extra: Any) -> dict[str, Any]:
    return {"key": key, "label": label, "state": state, **extra}


# --- Probes ------------------------------------------------------------------------------------


def provider_probe(
    base_url: str, *, timeout: float | None = None, provider: str | None = None
) -> dict[str, Any]:
    """Is the provider's API answering? Asks the provider type's probe (by default a TCP
    connect, then an HTTP GET of the base URL without credentials: any HTTP answer, even 400
    or 404, means reachable); a plain reachability check without `provider`. Never raises."""
    timeout = settings.OPS_PROBE_TIMEOUT if timeout is None else timeout
    if provider is None:
        return reachability_probe(base_url, timeout=timeout)
    return provider_type(provider).probe(base_url, timeout=timeout)


def _probes(channels: list, *, use_cache: bool) -> dict[int, dict[str, Any]]:
    results: dict[int, dict[str, Any]] = {}
    targets: dict[int, tuple[str, str]] = {}
    for channel in channels:
        try:
            targets[channel.pk] = (
                channel.provider,
                provider_type(channel.provider).base_url_for(channel),
            )
        except UnknownProvider as exc:
            results[channel.pk] = {"url": "", "ok": False, "error": str(exc)}
    missing: dict[tuple[str, str], list[int]] = {}
    for pk, target in targets.items():
        cached = cache.get(_probe_key(target)) if use_cache else None
        if cached is not None:
            results[pk] = cached
        else:
            missing.setdefault(target, []).append(pk)
    if missing:
        with ThreadPoolExecutor(max_workers=min(8, len(missing))) as pool:
            found = pool.map(lambda t: provider_probe(t[1], provider=t[0]), missing)
            probed = dict(zip(missing, found, strict=True))
        for target, result in probed.items():
            cache.set(_probe_key(target), result, PROBE_CACHE_SECONDS)
            for pk in missing[target]:
                results[pk] = result
    return results


def _probe_key(target: tuple[str, str]) -> str:
    return "ops:probe:{}:{}".format(*target)


# --- Window figures (cached) -------------------------------------------------------------------


def _window_figures(now: datetime) -> dict[str, Any]:

    minute, hour, day = (
        now - timedelta(seconds=60),
        now - timedelta(hours=1),
        now - timedelta(days=1),
    )
    failed_hour = Q(status=Status.FAILED, failed_at__gte=hour)
    # created_at (indexed) bounds the scan to a day: a message queued more than a day before it
    # was sent does not count in these rates.
    rows = (
        Message.objects.filter(direction=Direction.OUTBOUND, created_at__gte=day)
        .order_by()
        .values("channel_id")
        .annotate(
            accepted_minute=Count("id", filter=Q(accepted_at__gte=minute)),
            finished_hour=Count("id", filter=Q(accepted_at__gte=hour) | failed_hour),
            failed_hour=Count("id", filter=failed_hour),
            last_send=Max("accepted_at"),
        )
    )
    channels = {row.pop("channel_id"): row for row in rows}
    webhooks = WebhookEvent.objects.filter(received_at__gte=hour).aggregate(
        last_hour=Count("id"),
        last_5_min=Count("id", filter=Q(received_at__gte=now - timedelta(minutes=5))),
        failed=Count("id", filter=Q(state=WebhookState.FAILED)),
        handled=Count("id", filter=~Q(state=WebhookState.PENDING)),
    )
    return {"computed_at": now, "channels": channels, "webhooks": webhooks}


def window_figures(now: datetime, *, use_cache: bool = True) -> dict[str, Any]:
    key = "ops:health:window"
    figures = cache.get(key) if use_cache else None
    if figures is None:
        figures = _window_figures(now)
        cache.set(key, figures, settings.OPS_HEALTH_CACHE_SECONDS)
    return figures


# --- Components --------------------------------------------------------------------------------


def _workers(now: datetime) -> tuple[dict[str, Any], list[dict[str, Any]]]:

    stale = timedelta(seconds=settings.WORKER_HEARTBEAT_STALE_SECONDS)
    workers = []
    # A worker silent for a day is gone for good (its host was replaced): not listed any more.
    recent = WorkerHeartbeat.objects.filter(last_seen_at__gte=now - timedelta(days=1))
    for beat in recent.order_by("hostname")[:100]:
        age = (now - beat.last_seen_at).total_seconds()
        workers.append(
            {
                "hostname": beat.hostname,
                "queues": beat.queues,
                "pid": beat.pid,
                "started_at": beat.started_at,
                "last_seen_at": beat.last_seen_at,
                "age_s": max(0.0, age),
                "state": OK if now - beat.last_seen_at <= stale else DOWN,
            }
        )
    alive = [w for w in workers if w["state"] == OK]
    consumed = {q for w in alive for q in w["queues"]}
    missing = [q for q in QUEUES if q not in consumed]
    if settings.CELERY_TASK_ALWAYS_EAGER:
        state, detail = OK, "eager mode: tasks run in the calling process"
    elif not alive:
        state, detail = DOWN, "no live worker"
    elif missing:
        state, detail = DOWN, f"no worker consumes {', '.join(missing)}"
    else:
        state, detail = OK, f"{len(alive)} live"
    summary = _component(
        "workers", "Workers", state, detail=detail, alive=len(alive), queues_without_worker=missing
    )
    return summary, workers


def _queues(workers: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]], dict]:
    transport, states, extra = queue_states()
    consumers: dict[str, int] = {}
    for worker in workers:
        if worker["state"] == OK:
            for q in worker["queues"]:
                consumers[q] = consumers.get(q, 0) + 1
    components = []
    for qs in states:
        if qs.error:
            state, detail = DOWN, qs.error
        elif not consumers.get(qs.name) and not settings.CELERY_TASK_ALWAYS_EAGER:
            state, detail = DOWN, "no live worker consumes it"
        elif qs.oldest_age_s is not None and qs.oldest_age_s > settings.OPS_QUEUE_AGE_WARN_SECONDS:
            state, detail = WARN, "tasks are waiting long"
        else:
            state, detail = OK, ""
        components.append(
            _component(
                f"queue:{qs.name}",
                qs.name,
                state,
                detail=detail,
                depth=qs.depth,
                oldest_age_s=qs.oldest_age_s,
                oldest_eta=qs.oldest_eta,
                age_note=qs.age_note,
                consumers=consumers.get(qs.name, 0),
            )
        )
    return transport, components, extra


def _beat(now: datetime) -> dict[str, Any]:
    from django_celery_beat.models import PeriodicTask

    last = PeriodicTask.objects.aggregate(last=Max("last_run_at"))["last"]
    if last is None:
        return _component("beat", "Beat", WARN, detail="no schedule has run yet", last_tick=None)
    age = (now - last).total_seconds()
    state = OK if age <= settings.OPS_BEAT_STALE_SECONDS else DOWN
    # django-celery-beat saves last_run_at every few minutes, not on every tick.
    return _component(
        "beat",
        "Beat",
        state,
        last_tick=last,
        age_s=max(0.0, age),
        detail="" if state == OK else "no schedule ran recently",
    )


def _backup(now: datetime) -> dict[str, Any]:
    """The last successful backup's age, size and checksum; `warn` when it is older than
    BACKUP_MAX_AGE_HOURS, when there is none, or when the latest run failed."""
    latest = backup_latest()
    done, last = latest["last_success"], latest["last"]
    limit = timedelta(hours=settings.BACKUP_MAX_AGE_HOURS)
    counts = (done.counts or {}) if done else {}
    finished = (done.finished_at or done.created_at) if done else None
    age = (now - finished).total_seconds() if finished else None
    if done is None:
        state, detail = WARN, "no successful backup yet"
    elif now - finished > limit:
        state, detail = WARN, f"the last successful backup is older than {_limit_text(limit)}"
    elif last is not None and last.state == "failed":
        state, detail = WARN, "the latest backup failed"
    else:
        state, detail = OK, ""
    return _component(
        "backup",
        "Backups",
        state,
        detail=detail,
        run=done,
        latest_run=last,
        finished_at=finished,
        age_s=max(0.0, age) if age is not None else None,
        size=counts.get("bytes"),
        sha256=counts.get("sha256", ""),
        archive=counts.get("archive", ""),
    )


def _limit_text(limit: timedelta) -> str:
    hours = limit.total_seconds() / 3600
    return f"{hours:g} hours" if hours != 24 else "a day"


def _webhooks(now: datetime, window: dict[str, Any]) -> dict[str, Any]:

    backlog, oldest = webhook_backlog()
    last = WebhookEvent.objects.order_by("-received_at").values_list("received_at", flat=True)
    last_received = last.first()
    lag = (now - oldest).total_seconds() if oldest else 0.0
    figures = window["webhooks"]
    handled = figures["handled"] or 0
    failure_share = (figures["failed"] / handled) if handled else 0.0
    warn_lag = settings.OPS_WEBHOOK_LAG_WARN_SECONDS
    if lag > 10 * warn_lag:
        state, detail = DOWN, "events are not being processed"
    elif lag > warn_lag:
        state, detail = WARN, "processing lags behind"
    elif handled >= 10 and failure_share > 0.1:
        state, detail = WARN, "many events fail"
    else:
        state, detail = OK, ""
    return _component(
        "webhooks",
        "Webhook intake",
        state,
        detail=detail,
        last_received=last_received,
        per_minute_5=round(figures["last_5_min"] / 5, 2),
        per_minute_60=round(figures["last_hour"] / 60, 2),
        backlog=backlog,
        lag_s=max(0.0, lag),
        failure_share=failure_share,
        failed_hour=figures["failed"],
    )


def _event_webhooks(now: datetime) -> list[dict[str, Any]]:
    """One component per event webhook subscription that needs a look: disabled after failing
    for WEBHOOK_OUT_DISABLE_AFTER_HOURS (down), or failing now (warn). Healthy ones add none."""
    return [
        _component(
            f"hooks_out:{row['subscription'].pk}",
            f"Event webhook {row['subscription'].name}",
            row["state"],
            detail=row["detail"],
            subscription=row["subscription"],
        )
        for row in subscriptions_needing_attention(now)
    ]


def _last_send_fallback(channel_ids: list[int]) -> dict[int, Any]:
    """Last send of channels that sent nothing in the last day (older, unindexed by time)."""

    sent = [Status.ACCEPTED, Status.SENT, Status.DELIVERED, Status.READ]
    result = {}
    for channel_id in channel_ids:
        result[channel_id] = (
            Message.objects.filter(
                channel_id=channel_id, direction=Direction.OUTBOUND, status__in=sent
            )
            .order_by("-created_at")
            .values_list("accepted_at", flat=True)
            .first()
        )
    return result


def _channels(window: dict[str, Any], *, use_cache: bool) -> list[dict[str, Any]]:

    channels = list(Channel.objects.order_by("name"))
    active = [c for c in channels if c.is_active]
    probes = _probes(active, use_cache=use_cache) if active else {}
    figures = window["channels"]
    fallback = _last_send_fallback([c.pk for c in active if c.pk not in figures][:10])
    components = []
    for channel in channels:
        numbers = figures.get(channel.pk, {})
        finished = numbers.get("finished_hour", 0)
        error_rate = numbers.get("failed_hour", 0) / finished if finished else 0.0
        accepted = numbers.get("accepted_minute", 0)
        use = (accepted / 60) / channel.throughput_mps if channel.throughput_mps else 0.0
        probe = probes.get(channel.pk)
        if not channel.is_active:
            state, detail = WARN, "inactive"
        elif channel.paused_reason:
            state, detail = DOWN, f"paused: {channel.paused_reason}"
        elif probe and not probe["ok"]:
            state, detail = DOWN, f"provider unreachable: {probe.get('error', '')}"
        elif finished >= 10 and error_rate > 0.1:
            state, detail = WARN, "many sends fail"
        elif use > 0.9:
            state, detail = WARN, "near its throughput limit"
        else:
            state, detail = OK, ""
        components.append(
            _component(
                f"channel:{channel.pk}",
                str(channel),
                state,
                detail=detail,
                channel=channel,
                probe=probe,
                last_send=numbers.get("last_send") or fallback.get(channel.pk),
                error_rate=error_rate,
                failed_hour=numbers.get("failed_hour", 0),
                finished_hour=finished,
                accepted_minute=accepted,
                throughput_use=use,
                paused_reason=channel.paused_reason,
            )
        )
    return components


def _meminfo() -> dict[str, int]:
    values = {}
    with open("/proc/meminfo") as f:
        for line in f:
            name, _, rest = line.partition(":")
            parts = rest.split()
            if parts and parts[0].isdigit():
                values[name] = int(parts[0]) * 1024
    return values


def _host() -> list[dict[str, Any]]:
    components = []
    path = settings.VAR_DIR if os.path.isdir(settings.VAR_DIR) else settings.BASE_DIR
    try:
        usage = shutil.disk_usage(path)
        free = usage.free / usage.total if usage.total else 0.0
        state = DOWN if free < 0.05 else WARN if free < 0.10 else OK
        components.append(
            _component(
                "disk",
                "Disk",
                state,
                path=str(path),
                total=usage.total,
                free=usage.free,
                free_share=free,
            )
        )
    except OSError as exc:
        components.append(_component("disk", "Disk", WARN, detail=str(exc)))
    try:
        info = _meminfo()
        total = info.get("MemTotal", 0)
        available = info.get("MemAvailable", info.get("MemFree", 0))
        share = available / total if total else 0.0
        state = DOWN if share < 0.03 else WARN if share < 0.10 else OK
        components.append(
            _component(
                "memory", "Memory", state, total=total, available=available, available_share=share
            )
        )
    except OSError as exc:
        components.append(_component("memory", "Memory", WARN, detail=f"not knowable: {exc}"))
    return components


def _check(key: str, label: str, result: dict[str, Any]) -> dict[str, Any]:
    return _component(
        key,
        label,
        OK if result.get("ok") else DOWN,
        detail=result.get("error", ""),
        latency_ms=result.get("latency_ms"),
        raw=result,
    )


def health_collect(*, use_cache: bool = True) -> dict[str, Any]:
    """The whole report. Never raises for a dependency being down (that is what it reports)."""

    now = timezone.now()
    database = _check("database", "Database", check_database())
    broker = _check("broker", "Broker", check_broker())
    workers, worker_rows = _workers(now)
    transport, queues, broker_extra = _queues(worker_rows)
    broker["transport"] = transport
    broker.update(broker_extra)
    window = window_figures(now, use_cache=use_cache)
    webhooks = _webhooks(now, window)
    channels = _channels(window, use_cache=use_cache)
    host = _host()
    beat = _beat(now)
    backup = _backup(now)
    hooks_out = _event_webhooks(now)
    components = [
        database,
        broker,
        workers,
        *queues,
        beat,
        webhooks,
        backup,
        *hooks_out,
        *channels,
        *host,
    ]
    status = worst(
        *(
            c["state"]
            for c in components
            if not c["key"].startswith("channel:") or c["channel"].is_active
        )
    )
    return {
        "status": status,
        "time": now,
        "components": components,
        "by_key": {c["key"]: c for c in components},
        "core": [database, broker, workers, beat, webhooks, backup],
        "workers": worker_rows,
        "queues": queues,
        "channels": channels,
        "hooks_out": hooks_out,
        "host": host,
        "window_computed_at": window["computed_at"],
        "jobs": job_last_runs(WATCHED_JOBS),
    }


# --- Samples, uptime, sparklines ---------------------------------------------------------------


def _sample_numbers(report: dict[str, Any]) -> dict[str, Any]:
    by_key = report["by_key"]
    depths = [q["depth"] for q in report["queues"] if q["depth"] is not None]
    numbers: dict[str, Any] = {
        "db_latency_ms": by_key["database"].get("latency_ms"),
        "queue_depth": sum(depths) if depths else None,
        "webhook_backlog": by_key["webhooks"]["backlog"],
        "webhook_lag_s": round(by_key["webhooks"]["lag_s"], 1),
        "webhook_per_min": by_key["webhooks"]["per_minute_5"],
        "webhook_failure_share": round(by_key["webhooks"]["failure_share"], 4),
    }
    finished = sum(c["finished_hour"] for c in report["channels"])
    failed = sum(c["failed_hour"] for c in report["channels"])
    numbers["send_failure_share"] = round(failed / finished, 4) if finished else 0.0
    for q in report["queues"]:
        numbers[f"depth:{q['label']}"] = q["depth"]
    for c in report["channels"]:
        numbers[f"{c['key']}:error_rate"] = round(c["error_rate"], 4)
        numbers[f"{c['key']}:throughput_use"] = round(c["throughput_use"], 4)
    for h in report["host"]:
        if "free_share" in h:
            numbers["disk_free_share"] = round(h["free_share"], 4)
        if "available_share" in h:
            numbers["memory_available_share"] = round(h["available_share"], 4)
    return numbers


def health_sample_record(*, report: dict[str, Any] | None = None) -> HealthSample:
    """Store one sample of every component (the per-minute task)."""
    report = report or health_collect(use_cache=False)
    components = {
        c["key"]: {"state": c["state"], "latency_ms": c.get("latency_ms")}
        for c in report["components"]
    }
    return HealthSample.objects.create(
        created_at=report["time"],
        ok=report["status"] != DOWN,
        components=components,
        numbers=_sample_numbers(report),
    )


SPARKLINES = [
    ("queue_depth", "Queue depth (all queues)"),
    ("webhook_backlog", "Webhook backlog"),
    ("webhook_per_min", "Webhook events per minute"),
    ("webhook_lag_s", "Webhook processing lag (s)"),
    ("db_latency_ms", "Database latency (ms)"),
    ("send_failure_share", "Send failure share (last hour)"),
]
SPARK_BUCKETS = 96  # 15 minutes each over 24 hours


def _history(now: datetime) -> dict[str, Any]:
    day_ago, week_ago = now - timedelta(days=1), now - timedelta(days=7)
    up_day: dict[str, list[int]] = {}
    up_week: dict[str, list[int]] = {}
    bucket_seconds = 86400 / SPARK_BUCKETS
    series: dict[str, list[float | None]] = {k: [None] * SPARK_BUCKETS for k, _ in SPARKLINES}
    hourly: list[list[int]] = [[0, 0] for _ in range(24)]
    samples = HealthSample.objects.filter(created_at__gte=week_ago).order_by("created_at")
    total_week = total_day = 0
    for created_at, ok, components, numbers in samples.values_list(
        "created_at", "ok", "components", "numbers"
    ).iterator(chunk_size=2000):
        recent = created_at >= day_ago
        total_week += 1
        total_day += recent
        for key, value in (components or {}).items():
            up = value.get("state") != DOWN
            counts = up_week.setdefault(key, [0, 0])
            counts[0] += up
            counts[1] += 1
            if recent:
                counts = up_day.setdefault(key, [0, 0])
                counts[0] += up
                counts[1] += 1
        if recent:
            offset = (created_at - day_ago).total_seconds()
            index = min(SPARK_BUCKETS - 1, int(offset // bucket_seconds))
            for key, _ in SPARKLINES:
                value = (numbers or {}).get(key)
                if isinstance(value, int | float):
                    current = series[key][index]
                    series[key][index] = value if current is None else max(current, value)
            hour = min(23, int(offset // 3600))
            hourly[hour][0] += bool(ok)
            hourly[hour][1] += 1

    def share(counts: list[int] | None) -> float | None:
        return counts[0] / counts[1] if counts and counts[1] else None

    keys = set(up_week)
    return {
        "uptime_day": {k: share(up_day.get(k)) for k in keys},
        "uptime_week": {k: share(up_week.get(k)) for k in keys},
        "series": series,
        "hourly_ok": [share(h) for h in hourly],
        "samples_day": total_day,
        "samples_week": total_week,
    }


def health_history(now: datetime | None = None) -> dict[str, Any]:
    """Uptime (24 h, 7 d) per component and 24-hour series; cached until the next sample."""
    now = now or timezone.now()
    latest = HealthSample.objects.order_by("-created_at").values_list("pk", flat=True).first()
    key = f"ops:health:history:{latest}"
    history = cache.get(key)
    if history is None:
        history = _history(now)
        cache.set(key, history, 120)
    return history
