"""GET /metrics: who may scrape, what it answers, and the collectors' guard.

The families' movements after real actions are tested beside the code that records them
(tests/messaging/test_metrics.py, tests/analytics/ops/test_metrics.py); multiprocess mode under
gunicorn in tests/integration/test_metrics.py.
"""

from __future__ import annotations

import pytest
from django.core.checks import run_checks
from django.test import Client

from core import metrics
from core.metrics import (
    metrics_collector_register,
    metrics_collectors,
    provider_errors_count,
    webhook_intake_observe,
    webhook_intake_outcome,
)
from tests.core.metrics_support import TOKEN, families, scrape, scrape_text, value

pytestmark = pytest.mark.django_db


@pytest.fixture
def token_only(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []
    return settings


# --- Access ------------------------------------------------------------------------------------


def test_neither_token_nor_network_configured_means_not_exposed(settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    client = Client()
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 404


def test_the_right_bearer_token_reads_the_metrics(token_only):
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert b"# HELP parley_messages_total" in response.content
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer wrong-token",
        f"Token {TOKEN}",
        f"Basic {TOKEN}",
        f"Bearer {TOKEN}x",
    ],
)
def test_a_missing_or_wrong_token_is_refused(token_only, authorization):
    extra = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    response = Client().get("/metrics", **extra)
    assert response.status_code == 403
    assert b"parley_" not in response.content


def test_a_staff_session_is_no_credential(token_only, admin_user):
    client = Client()
    client.force_login(admin_user)
    assert client.get("/metrics").status_code == 403


def test_an_allowed_network_reads_without_a_token(settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["10.1.0.0/16"]
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="10.2.0.1").get("/metrics").status_code == 403
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 403


def test_behind_proxies_the_network_is_checked_on_the_client_the_proxies_saw(settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["10.1.0.0/16"]
    settings.TRUSTED_PROXY_COUNT = 1
    # The balancer (REMOTE_ADDR) is inside; the client it names is what counts.
    inside = Client(REMOTE_ADDR="10.1.0.9", HTTP_X_FORWARDED_FOR="10.1.5.5")
    outside = Client(REMOTE_ADDR="10.1.0.9", HTTP_X_FORWARDED_FOR="203.0.113.7")
    forged = Client(REMOTE_ADDR="10.1.0.9", HTTP_X_FORWARDED_FOR="10.1.5.5, 203.0.113.7")
    assert inside.get("/metrics").status_code == 200
    assert outside.get("/metrics").status_code == 403
    assert forged.get("/metrics").status_code == 403  # the left entry is the client's own


def test_with_both_set_a_scrape_needs_both(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = ["10.1.0.0/16"]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics", **auth).status_code == 200
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 403
    assert Client(REMOTE_ADDR="192.0.2.1").get("/metrics", **auth).status_code == 403


def test_the_local_settings_let_this_machine_in():
    from config.settings import local

    assert local.METRICS_ALLOWED_NETWORKS == ["127.0.0.1/32"]
    assert local.METRICS_TOKEN == ""


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_only_get_is_accepted_even_with_the_token_and_without_csrf(token_only, method):
    client = Client(enforce_csrf_checks=True)
    response = getattr(client, method)("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 405


def test_a_scrape_touches_no_session_and_no_user(token_only, django_assert_num_queries):
    """Only the scrape-time collectors query (webhook backlog, campaigns: none running)."""
    with django_assert_num_queries(2):
        response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers and not response.cookies


def test_a_network_that_is_not_a_cidr_fails_the_system_checks(settings):
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "intranet"]
    errors = [e for e in run_checks() if e.id == "core.E002"]
    assert errors and "intranet" in errors[0].msg
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "::1/128"]
    assert not [e for e in run_checks() if e.id == "core.E002"]


# --- Content -----------------------------------------------------------------------------------

FAMILIES = {
    "parley_messages",
    "parley_provider_errors",
    "parley_rate_limiter_waits",
    "parley_rate_limiter_wait_seconds",
    "parley_webhook_intake",
    "parley_webhook_intake_seconds",
    "parley_webhook_out_deliveries",
    "parley_webhook_lag_seconds",
    "parley_webhook_pending",
    "parley_queue_depth",
    "parley_campaign_messages",
    "parley_scrape_collector_up",
}


def test_every_family_is_there_with_help_text(token_only):
    found = families(scrape_text())
    assert set(found) >= FAMILIES, FAMILIES - set(found)
    for name in FAMILIES:
        assert len(found[name]) > 20, name


def test_every_scrape_time_collector_answers(token_only):
    samples = scrape()
    for name in ("webhook_backlog", "campaign_progress", "queue_depth"):
        assert value(samples, "parley_scrape_collector_up", collector=name) == 1, name


def test_a_failing_collector_is_reported_down_and_the_others_still_answer(token_only):
    def broken():
        raise RuntimeError("database gone")
        yield  # pragma: no cover

    saved = metrics_collectors()
    metrics_collector_register("broken_for_test", broken)
    try:
        samples = scrape()
    finally:
        metrics._collectors.clear()
        metrics._collectors.update(saved)
    assert value(samples, "parley_scrape_collector_up", collector="broken_for_test") == 0
    assert value(samples, "parley_scrape_collector_up", collector="webhook_backlog") == 1
    assert ("parley_webhook_pending", ()) in samples


def test_labels_are_checked_so_no_free_text_becomes_a_series():
    with pytest.raises(ValueError):
        webhook_intake_observe("919812345678", 0.01)
    with pytest.raises(ValueError):
        provider_errors_count(code="131026", source="wamid.HBgL")
    with pytest.raises(ValueError):
        metrics.messages_count(channel_id=1, status="queued")


def test_intake_outcomes_follow_the_status_code():
    assert webhook_intake_outcome(200) == "stored"
    assert webhook_intake_outcome(200, duplicate=True) == "duplicate"
    assert webhook_intake_outcome(403) == "refused"
    assert webhook_intake_outcome(413) == "refused"
    assert webhook_intake_outcome(503) == "error"


def test_the_counters_of_every_process_are_summed_in_multiprocess_mode(tmp_path, monkeypatch):
    """The registry a scrape uses in multiprocess mode reads the folder's files (written here
    by hand as two processes would), not this process's default registry."""
    from prometheus_client.mmap_dict import MmapedDict, mmap_key

    for pid, n in ((101, 2.0), (202, 3.0)):
        db = MmapedDict(str(tmp_path / f"counter_{pid}.db"))
        key = mmap_key(
            "parley_webhook_intake_total", "parley_webhook_intake_total", ("outcome",),
            ("stored",), "Provider webhooks received",
        )  # fmt: skip
        db.write_value(key, n, 0)
        db.close()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    text = metrics.metrics_render()[0].decode()
    summed = 'parley_webhook_intake_total{outcome="stored"} 5.0'
    assert summed in text
    assert "parley_scrape_collector_up" in text  # the collectors join the fresh registry
    metrics.metrics_process_dead(101)  # removes only live-gauge files: the counts stay
    assert summed in metrics.metrics_render()[0].decode()
