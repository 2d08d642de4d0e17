"""Production metrics in Prometheus' format (README "Metrics and error reports").

Two kinds of figures:

* Counters and histograms that the hot paths bump (messages by status, provider errors,
  rate-limiter waits, webhook intake, event-webhook deliveries). Each bump is a few memory
  writes, never a query. They live here, in the bottom layer, so every app can record one.
* Gauges computed when Prometheus scrapes (webhook lag, queue depths, campaign progress):
  they read the database or the broker, so they are not kept per process. The app that owns
  the data registers a collector function (`metrics_collector_register`, from its
  AppConfig.ready()); `metrics_registry` runs them on each scrape.

Multiprocess mode: gunicorn workers and Celery's prefork children are separate processes, so
each keeps its own counters. With `PROMETHEUS_MULTIPROC_DIR` set (before Python starts: the
client library decides at import), every process writes its values into files in that folder
and `/metrics` sums them with `multiprocess.MultiProcessCollector` in a fresh registry. The
folder must be emptied when the whole deployment (web and workers of one machine) starts
(`bin/run` does), and a process that exits must be marked dead (`metrics_process_dead`: the
gunicorn hook in config/gunicorn.py, Celery's `worker_process_shutdown` in config/celery.py);
its counters stay counted. Without the variable the default registry of this one process is
shown (the dev server, tests).

Labels stay few and bounded: a channel id, a status, an outcome, an error code from the
known table (others read "other"). Never a phone number, a message id or a contact.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Callable, Iterable

from django.conf import settings
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder

from core.addresses import client_address

logger = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# `_created` series double the output and are meaningless summed over processes.
disable_created_metrics()

MESSAGE_STATUSES = ("accepted", "sent", "delivered", "read", "failed")
ERROR_SOURCES = ("send", "status")
WEBHOOK_INTAKE_OUTCOMES = ("stored", "duplicate", "refused", "error")
WEBHOOK_OUT_OUTCOMES = ("delivered", "failed", "dead", "disabled")

MESSAGES = Counter(
    "parley_messages",
    "Outbound messages that reached a status: accepted by the provider's API, then sent, "
    "delivered, read or failed as the provider reported (or as the send path decided).",
    ["channel", "status"],
)
PROVIDER_ERRORS = Counter(
    "parley_provider_errors",
    "Errors from the WhatsApp provider, by Meta error code (codes outside Parley's table read "
    "'other', none 'none') and where they came from: a send request or a failed status.",
    ["code", "source"],
)
RATE_LIMITER_WAITS = Counter(
    "parley_rate_limiter_waits",
    "Times a sender slept for the channel's rate limiter before a request.",
)
RATE_LIMITER_WAIT_SECONDS = Histogram(
    "parley_rate_limiter_wait_seconds",
    "Seconds a sender slept for the channel's rate limiter before a request.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
WEBHOOK_INTAKE = Counter(
    "parley_webhook_intake",
    "Provider webhooks received, by outcome: stored, duplicate (the body was stored before), "
    "refused (4xx: bad signature, unknown channel, not JSON, too large), error (5xx).",
    ["outcome"],
)
WEBHOOK_INTAKE_SECONDS = Histogram(
    "parley_webhook_intake_seconds",
    "Seconds the webhook intake took to answer, by outcome.",
    ["outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)
WEBHOOK_OUT_DELIVERIES = Counter(
    "parley_webhook_out_deliveries",
    "Event webhooks to integrators, by outcome: delivered, failed (retried later), dead "
    "(given up after WEBHOOK_OUT_MAX_ATTEMPT_HOURS); disabled counts subscriptions turned off "
    "after failing for WEBHOOK_OUT_DISABLE_AFTER_HOURS.",
    ["outcome"],
)


# --- Recording (hot paths: no I/O beyond the counter itself) -----------------------------------


def _checked(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; one of {', '.join(allowed)}")
    return value


def messages_count(*, channel_id: int | str, status: str, n: int = 1) -> None:
    """`n` messages of channel `channel_id` reached `status` (one of MESSAGE_STATUSES)."""
    if n > 0:
        MESSAGES.labels(str(channel_id), _checked(status, MESSAGE_STATUSES, "status")).inc(n)


def provider_errors_count(*, code: str, source: str, n: int = 1) -> None:
    """`n` provider errors with `code`, already bounded by the caller (the error-code table's
    owner: `messaging.providers.error_codes.error_code_label`)."""
    if n > 0:
        PROVIDER_ERRORS.labels(code, _checked(source, ERROR_SOURCES, "source")).inc(n)


def rate_limiter_wait_observe(seconds: float) -> None:
    RATE_LIMITER_WAITS.inc()
    RATE_LIMITER_WAIT_SECONDS.observe(seconds)


def webhook_intake_observe(outcome: str, seconds: float) -> None:
    """One provider webhook answered with `outcome` (WEBHOOK_INTAKE_OUTCOMES) in `seconds`."""
    _checked(outcome, WEBHOOK_INTAKE_OUTCOMES, "outcome")
    WEBHOOK_INTAKE.labels(outcome).inc()
    WEBHOOK_INTAKE_SECONDS.labels(outcome).observe(seconds)


def webhook_intake_outcome(status_code: int, *, duplicate: bool = False) -> str:
    """The intake outcome an HTTP answer stands for."""
    if status_code >= 500:
        return "error"
    if status_code >= 400:
        return "refused"
    return "duplicate" if duplicate else "stored"


# Set on the intake's 200 response when the body had been stored before.
DUPLICATE_ATTR = "webhook_duplicate"


def webhook_intake_timed(view: Callable) -> Callable:
    """Observe each call of an intake function `(request, ...) -> HttpResponse`: its time
    and outcome (from the status code, and `DUPLICATE_ATTR` on the response). An exception
    counts as an error and propagates."""

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            response = view(*args, **kwargs)
        except BaseException:
            webhook_intake_observe("error", time.perf_counter() - started)
            raise
        duplicate = bool(getattr(response, DUPLICATE_ATTR, False))
        outcome = webhook_intake_outcome(response.status_code, duplicate=duplicate)
        webhook_intake_observe(outcome, time.perf_counter() - started)
        return response

    timed.__name__ = getattr(view, "__name__", "timed")
    timed.__doc__ = view.__doc__
    timed.__wrapped__ = view
    return timed


def webhook_out_count(*, outcome: str, n: int = 1) -> None:
    if n > 0:
        WEBHOOK_OUT_DELIVERIES.labels(_checked(outcome, WEBHOOK_OUT_OUTCOMES, "outcome")).inc(n)


# --- Scrape-time collectors ---------------------------------------------------------------------

CollectFn = Callable[[], Iterable[Metric]]
_collectors: dict[str, CollectFn] = {}


def metrics_collector_register(name: str, collect: CollectFn) -> None:
    """Run `collect()` on every scrape; it yields metric families (GaugeMetricFamily...).

    Registered by name, so a second registration (tests, a reloaded app) replaces the first.
    A collector that raises is reported as `parley_scrape_collector_up{collector=name} 0` and
    logged; the others still answer.
    """
    _collectors[name] = collect


def metrics_collectors() -> dict[str, CollectFn]:
    return dict(_collectors)


class _ScrapeCollectors:
    """Every registered collector, each guarded, plus their up/down gauge."""

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "parley_scrape_collector_up",
            "1 when the scrape-time collector answered, 0 when it failed (see the log).",
            labels=["collector"],
        )
        for name, collect in sorted(_collectors.items()):
            try:
                families = list(collect())
            except Exception:
                logger.warning("metrics collector %s failed", name, exc_info=True)
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from families
        yield up


class _ThisProcess:
    """The default registry (this process's metrics), when not in multiprocess mode."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def metrics_multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def metrics_registry() -> CollectorRegistry:
    """A fresh registry for one scrape: every process's counters (multiprocess mode) or this
    process's, and the scrape-time collectors."""
    registry = CollectorRegistry(auto_describe=False)
    if metrics_multiprocess():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(_ScrapeCollectors())
    return registry


def metrics_render(accept: str = "") -> tuple[bytes, str]:
    """(body, content type) of a scrape, in the format the scraper's Accept header asks for
    (Prometheus' text format 0.0.4 by default; OpenMetrics when asked)."""
    encoder, content_type = choose_encoder(accept)
    return encoder(metrics_registry()), content_type


def metrics_process_dead(pid: int) -> None:
    """Tell multiprocess mode that process `pid` exited (its live gauges go; its counters stay
    counted). A no-op without PROMETHEUS_MULTIPROC_DIR."""
    if metrics_multiprocess():
        multiprocess.mark_process_dead(pid)


# --- Who may scrape -----------------------------------------------------------------------------


@functools.cache
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs if cidr.strip())


def metrics_networks_problem(cidrs: Iterable[str]) -> str | None:
    """Why METRICS_ALLOWED_NETWORKS cannot be used (a system check), or None."""
    for cidr in cidrs:
        try:
            ipaddress.ip_network(str(cidr).strip(), strict=False)
        except ValueError as exc:
            return f"{cidr!r}: {exc}"
    return None


def metrics_access_refusal(request) -> int | None:
    """None when `request` may read the metrics, else the status to answer.

    METRICS_TOKEN (`Authorization: Bearer <token>`, compared in constant time) and
    METRICS_ALLOWED_NETWORKS (the client address as `core.addresses.client_address` finds it
    behind TRUSTED_PROXY_COUNT proxies) are each checked when set: with both, a scrape needs
    both. With neither the endpoint does not exist (404).
    """
    token = getattr(settings, "METRICS_TOKEN", "") or ""
    cidrs = tuple(getattr(settings, "METRICS_ALLOWED_NETWORKS", ()) or ())
    if not token and not cidrs:
        return 404
    if cidrs:
        address = client_address(request)
        try:
            ip = ipaddress.ip_address(address) if address else None
        except ValueError:
            ip = None
        if ip is None or not any(ip in network for network in _networks(cidrs)):
            return 403
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return 403
    return None
