"""The operations centre in a real browser: live health, a job started and watched, live events."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from core.models import WorkerHeartbeat
from messaging.models import Status
from tests.e2e.conftest import live_server_idle
from tests.factories import ContactFactory, MessageFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

QUEUES = ["analytics", "default", "send", "webhooks"]


@pytest.fixture(autouse=True)
def _fast_and_local(settings, tmp_path):
    cache.clear()
    settings.OPS_HEALTH_POLL_SECONDS = 1
    settings.WHATSAPP_GRAPH_URL = "http://127.0.0.1:9"
    settings.BACKUP_DIR = tmp_path / "backups"
    yield
    cache.clear()


def test_a_stopped_worker_shows_down_and_recovers(make_user, page, login, live_server, screenshot):
    WorkerHeartbeat.objects.create(hostname="e2e@host", queues=QUEUES)
    login(make_user("Admin").username)
    page.goto(f"{live_server.url}/staff/operations/")
    state = page.locator(
        '[data-testid="worker"][data-hostname="e2e@host"] [data-testid="worker-state"]'
    )
    workers_card = page.get_by_test_id("component-workers").get_by_test_id("component-state")
    expect(state).to_have_text("Up")
    expect(workers_card).to_have_text("Up")

    # The worker stops without a goodbye: its heartbeat ages past the stale limit. (Each
    # write waits for the page's polling request to finish: they share one connection.)
    with live_server_idle():
        WorkerHeartbeat.objects.filter(hostname="e2e@host").update(
            last_seen_at=timezone.now() - timedelta(minutes=5)
        )
    expect(state).to_have_text("Down", timeout=10_000)
    expect(workers_card).to_have_text("Down")
    screenshot("operations-worker-down")

    # A clean shutdown removes the row altogether.
    with live_server_idle():
        WorkerHeartbeat.objects.filter(hostname="e2e@host").delete()
    expect(page.get_by_test_id("no-workers")).to_be_visible(timeout=10_000)

    # It comes back.
    with live_server_idle():
        WorkerHeartbeat.objects.create(hostname="e2e@host", queues=QUEUES)
    expect(state).to_have_text("Up", timeout=10_000)
    expect(workers_card).to_have_text("Up")
    screenshot("operations-worker-up")


def test_start_a_job_and_watch_it_finish(
    make_user, page, login, live_server, monkeypatch, screenshot
):
    from analytics.ops import jobs

    # No worker in this test: the run starts in the web process right after it is queued.
    monkeypatch.setattr(jobs, "job_enqueue", lambda pk: jobs.job_execute(job_run_id=pk))
    login(make_user("Admin").username)
    page.goto(f"{live_server.url}/staff/operations/jobs/")
    page.get_by_test_id("job-purge_data").get_by_role("link", name="Start…").click()
    page.get_by_test_id("confirm-start").click()
    expect(page.get_by_test_id("job-state")).to_have_text("Succeeded", timeout=10_000)
    expect(page.get_by_test_id("job-log")).to_contain_text("health samples older than")
    screenshot("operations-job-finished")
    page.goto(f"{live_server.url}/staff/operations/jobs/")
    expect(page.get_by_test_id("job-run").first).to_contain_text("Succeeded")


def test_live_events_appear_without_reloading(make_user, page, login, live_server, screenshot):
    contact = ContactFactory(name="Meera")
    login(make_user("Admin").username)
    page.goto(f"{live_server.url}/staff/operations/events/")
    events = page.get_by_test_id("event")
    expect(events).to_have_count(0)
    MessageFactory(
        contact=contact,
        direction="in",
        status=Status.RECEIVED,
        type="button",
        content={"text": "Unlock today's note", "payload": "unlock"},
    )
    expect(events.first).to_contain_text("Unlock today", timeout=10_000)
    expect(events.first).to_contain_text("Button tap")
    screenshot("operations-live-events")
