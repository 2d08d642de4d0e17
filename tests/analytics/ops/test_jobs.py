"""The job registry, runner, lock and the pages that start and watch jobs."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from analytics.models import JobRun, JobState, JobTrigger
from analytics.ops import jobs as ops_jobs
from analytics.ops.jobs import (
    JobAlreadyRunning,
    JobArgument,
    JobArgumentError,
    UnknownJob,
    job_cancel,
    job_execute,
    job_register,
    job_run_now,
    job_start,
    jobs_sweep,
)
from messaging.models import Status, WebhookEvent
from tests.factories import (
    ChannelFactory,
    ContactFactory,
    JobRunFactory,
    MessageFactory,
    OpsWebhookEventFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueued(monkeypatch):
    """Job runs handed to Celery (the task is not run)."""
    from analytics import tasks

    calls = []
    monkeypatch.setattr(
        tasks.job_run, "apply_async", lambda args, **kw: calls.append((args[0], kw))
    )
    return calls


@pytest.fixture
def test_job():
    seen = {}

    def work(ctx, *, times=3, fail=False):
        for i in range(times):
            ctx.log(f"step {i}")
            ctx.count("steps")
            ctx.progress((i + 1) * 100 / times)
        if fail:
            raise RuntimeError("it broke")
        seen["ctx"] = ctx
        return {"done": times}

    definition = job_register(
        "test_job",
        title="Test job",
        fn=work,
        permission="core.run_jobs",
        arguments=[JobArgument("times", kind="int"), JobArgument("fail", kind="bool")],
    )
    yield definition
    ops_jobs._REGISTRY.pop("test_job", None)


def test_start_queues_a_run_and_enqueues_it_on_the_default_queue_after_commit(
    test_job, enqueued, django_capture_on_commit_callbacks, admin_user
):
    with django_capture_on_commit_callbacks(execute=True):
        run = job_start(name="test_job", started_by=admin_user, arguments={"times": "2"})
    assert run.state == JobState.QUEUED
    assert run.arguments == {"times": 2}
    assert run.trigger == JobTrigger.USER and run.started_by == admin_user
    assert enqueued == [(run.pk, {"queue": "default", "retry": False})]


def test_the_runner_records_progress_counts_and_log(test_job, enqueued):
    run = job_start(name="test_job", arguments={"times": 3})
    run = job_execute(job_run_id=run.pk)
    assert run.state == JobState.SUCCEEDED
    assert run.progress == 100
    assert run.counts == {"steps": 3, "done": 3}
    assert "step 2" in run.log and run.log.count("\n") >= 4
    assert run.started_at and run.finished_at and not run.error
    # Running it again is a no-op: the run is no longer queued.
    assert job_execute(job_run_id=run.pk) is None


def test_a_failing_job_is_recorded_with_its_error_and_traceback(test_job, enqueued):
    run = job_execute(job_run_id=job_start(name="test_job", arguments={"fail": "yes"}).pk)
    assert run.state == JobState.FAILED
    assert run.error == "RuntimeError: it broke"
    assert "Traceback" in run.log


def test_the_same_job_never_runs_twice_at_once(test_job, enqueued):
    first = job_start(name="test_job")
    with pytest.raises(JobAlreadyRunning) as refused:
        job_start(name="test_job")
    assert refused.value.job_run == first
    assert "already queued" in refused.value.message
    JobRun.objects.filter(pk=first.pk).update(state=JobState.RUNNING)
    with pytest.raises(JobAlreadyRunning, match="already running"):
        job_start(name="test_job")
    job_cancel(job_run=first)  # asks it to stop; still running until it notices
    with pytest.raises(JobAlreadyRunning):
        job_start(name="test_job")
    JobRun.objects.filter(pk=first.pk).update(state=JobState.SUCCEEDED)
    assert job_start(name="test_job").state == JobState.QUEUED


def test_the_database_itself_refuses_a_second_active_run(test_job):
    JobRunFactory(name="test_job", state=JobState.RUNNING)
    with pytest.raises(IntegrityError), transaction.atomic():
        JobRunFactory(name="test_job", state=JobState.QUEUED)
    JobRunFactory(name="test_job", state=JobState.FAILED)  # finished runs do not count


def test_a_stale_running_job_no_longer_blocks(test_job, enqueued, settings):
    stale = JobRunFactory(
        name="test_job",
        state=JobState.RUNNING,
        heartbeat_at=timezone.now() - timedelta(seconds=settings.JOB_STALE_SECONDS + 1),
    )
    run = job_start(name="test_job")
    stale.refresh_from_db()
    assert stale.state == JobState.FAILED and "stopped reporting" in stale.error
    assert run.state == JobState.QUEUED


def test_cancel_a_queued_run_and_stop_a_running_one(test_job, enqueued):
    queued = job_start(name="test_job")
    assert job_cancel(job_run=queued).state == JobState.CANCELLED
    assert job_execute(job_run_id=queued.pk) is None

    def slow(ctx):
        JobRun.objects.filter(pk=ctx.job_run.pk).update(cancel_requested=True)
        for _ in range(10):
            ctx.check_cancelled()
        raise AssertionError("not stopped")

    job_register("slow_job", title="Slow", fn=slow, permission="core.run_jobs")
    try:
        run = job_execute(job_run_id=job_start(name="slow_job").pk)
    finally:
        ops_jobs._REGISTRY.pop("slow_job")
    assert run.state == JobState.CANCELLED


def test_the_log_keeps_the_last_lines(test_job, enqueued):
    run = job_execute(job_run_id=job_start(name="test_job", arguments={"times": 700}).pk)
    lines = run.log.splitlines()
    assert len(lines) == JobRun.MAX_LOG_LINES + 1
    assert lines[0].startswith("… ") and "earlier lines not kept" in lines[0]
    assert lines[-1].endswith("finished")


def test_arguments_are_validated(test_job):
    definition = test_job
    assert definition.clean_arguments({"times": "4", "fail": "no"}) == {"times": 4, "fail": False}
    with pytest.raises(JobArgumentError, match="times"):
        definition.clean_arguments({"times": "many"})
    with pytest.raises(JobArgumentError, match="takes no argument colour"):
        definition.clean_arguments({"colour": "red"})
    since = JobArgument("since", kind="datetime")
    value = since.parse(since.clean("2h"))
    assert abs((timezone.now() - value) - timedelta(hours=2)) < timedelta(seconds=5)
    assert since.clean("2026-01-31").startswith("2026-01-31T00:00:00")
    with pytest.raises(JobArgumentError):
        since.clean("yesterday-ish")
    with pytest.raises(JobArgumentError, match="required"):
        JobArgument("x", required=True).clean("")
    with pytest.raises(JobArgumentError):
        JobArgument("mode", kind="choice", choices=("a", "b")).clean("c")
    with pytest.raises(UnknownJob):
        job_start(name="nope")


def test_sweeper_requeues_lost_runs_and_fails_stale_ones(enqueued, settings):
    lost = JobRunFactory(state=JobState.QUEUED, created_at=timezone.now() - timedelta(minutes=5))
    JobRunFactory(name="purge_data", state=JobState.QUEUED)  # just queued: left alone
    stale = JobRunFactory(
        name="backup",
        state=JobState.RUNNING,
        heartbeat_at=timezone.now() - timedelta(seconds=settings.JOB_STALE_SECONDS + 1),
    )
    assert jobs_sweep() == {"stale_failed": 1, "requeued": 1}
    assert enqueued == [(lost.pk, {"queue": "default", "retry": False})]
    stale.refresh_from_db()
    assert stale.state == JobState.FAILED


def test_beat_starts_jobs_as_schedule_runs_and_skips_a_running_one(enqueued):
    from analytics.ops.tasks import job_scheduled

    pk = job_scheduled("purge_data")
    assert JobRun.objects.get(pk=pk).trigger == JobTrigger.SCHEDULE
    assert job_scheduled("purge_data") is None


def test_beat_locks_each_scheduled_job_apart(enqueued):
    """Two jobs due in the same minute (03:30: the purge and a rollup) never skip each other."""
    from django.core.cache import cache

    from analytics.ops.tasks import job_scheduled

    cache.add("task-lock:analytics.job_scheduled:rollup_analytics", "another run", timeout=60)
    try:
        assert job_scheduled(name="rollup_analytics") == {"skipped": "already running"}
        assert JobRun.objects.get(pk=job_scheduled(name="purge_data")).name == "purge_data"
    finally:
        cache.delete("task-lock:analytics.job_scheduled:rollup_analytics")


def test_the_task_is_routed_to_the_default_queue():
    from analytics.ops.tasks import job_run
    from config.celery import app

    options = app.amqp.router.route(job_run._get_exec_options(), "analytics.job_run")
    assert options["queue"].name == "default"
    assert app.amqp.router.route({}, "analytics.health_sample")["queue"].name == "analytics"


# --- Management command ------------------------------------------------------------------------


def test_run_job_command_runs_in_process_with_arguments(test_job, capsys):
    call_command("run_job", "test_job", "--arg", "times=2")
    run = JobRun.objects.get(name="test_job")
    assert run.trigger == JobTrigger.COMMAND and run.state == JobState.SUCCEEDED
    assert run.counts["steps"] == 2
    assert "step 1" in capsys.readouterr().out


def test_run_job_command_reports_failures(test_job):
    with pytest.raises(CommandError, match="it broke"):
        call_command("run_job", "test_job", "--arg", "fail=yes")
    with pytest.raises(CommandError, match="no job called"):
        call_command("run_job", "nope")
    with pytest.raises(CommandError, match="KEY=VALUE"):
        call_command("run_job", "test_job", "--arg", "times")


def test_run_job_list_and_enqueue(enqueued, capsys):
    call_command("run_job", "--list")
    out = capsys.readouterr().out
    for name in (
        "sync_templates",
        "retry_failed_messages",
        "replay_failed_webhooks",
        "purge_data",
        "backup",
    ):
        assert name in out
    call_command("run_job", "purge_data", "--enqueue")
    assert JobRun.objects.get(name="purge_data").state == JobState.QUEUED


# --- The built-in jobs -------------------------------------------------------------------------


def test_retry_failed_messages_requeues_only_retryable_outbound(
    enqueued, monkeypatch, django_capture_on_commit_callbacks
):
    from messaging.sending import nudge

    nudged = []
    monkeypatch.setattr(nudge, "send_enqueue", lambda channel_id, **kw: nudged.append(channel_id))
    channel = ChannelFactory()
    other = ChannelFactory(phone_number_id="300")
    now = timezone.now()
    retry = MessageFactory(
        channel=channel,
        status=Status.FAILED,
        error_code=131000,
        attempts=6,
        wamid="wamid.old",
        failed_at=now,
    )
    undeliverable = MessageFactory(channel=channel, status=Status.FAILED, error_code=131026)
    stopped = MessageFactory(channel=channel, status=Status.FAILED, error_code=131050)
    other_channel = MessageFactory(channel=other, status=Status.FAILED, error_code=131000)
    inbound = MessageFactory(channel=channel, direction="in", status=Status.FAILED)
    delivered = MessageFactory(channel=channel, status=Status.DELIVERED)

    with django_capture_on_commit_callbacks(execute=True):
        run = job_run_now(
            name="retry_failed_messages", arguments={"channel": channel.phone_number_id}
        )
    assert run.state == JobState.SUCCEEDED, run.error
    assert run.counts["requeued"] == 1
    retry.refresh_from_db()
    assert retry.status == Status.QUEUED and retry.attempts == 0 and retry.wamid is None
    assert retry.failed_at is None and retry.next_attempt_at <= timezone.now()
    for untouched in (undeliverable, stopped, other_channel, inbound):
        untouched.refresh_from_db()
        assert untouched.status == Status.FAILED
    delivered.refresh_from_db()
    assert delivered.status == Status.DELIVERED
    assert nudged == [channel.pk]

    run = job_run_now(name="retry_failed_messages", arguments={"code": "131026"})
    assert run.counts["requeued"] == 0 and run.counts["skipped_never_retry"] == 1


def test_retry_failed_messages_filters_by_code_and_since(enqueued):
    contact = ContactFactory()
    old = MessageFactory(
        contact=contact,
        status=Status.FAILED,
        error_code=131000,
        created_at=timezone.now() - timedelta(days=3),
    )
    other_code = MessageFactory(contact=contact, status=Status.FAILED, error_code=131053)
    recent = MessageFactory(contact=contact, status=Status.FAILED, error_code=131000)
    run = job_run_now(name="retry_failed_messages", arguments={"code": "131000", "since": "1d"})
    assert run.counts["requeued"] == 1
    assert [m.status for m in (old, other_code, recent) if m.refresh_from_db() is None] == [
        Status.FAILED,
        Status.FAILED,
        Status.QUEUED,
    ]
    with pytest.raises(CommandError, match="no channel"):
        call_command("run_job", "retry_failed_messages", "--arg", "channel=nope")


def test_replay_failed_webhooks_uses_the_messaging_replay(enqueued, monkeypatch):
    from messaging.webhooks import services as webhooks

    monkeypatch.setattr(webhooks, "webhook_drain_nudge", lambda: None)
    failed = [OpsWebhookEventFactory(state="failed", error="boom") for _ in range(3)]
    OpsWebhookEventFactory(state="processed")
    run = job_run_now(name="replay_failed_webhooks", arguments={"limit": "2"})
    assert run.counts == {"selected": 2, "replayed": 2}
    states = [WebhookEvent.objects.get(pk=e.pk).state for e in failed]
    assert states == ["pending", "pending", "failed"]


def test_sync_templates_job(channel):
    run = job_run_now(name="sync_templates")
    assert run.state == JobState.SUCCEEDED, run.error
    assert run.counts["channels"] == 1
    assert "unchanged" in run.log


# --- Pages -------------------------------------------------------------------------------------


def test_admin_starts_a_job_from_the_page_after_confirming(
    ops_client, enqueued, django_capture_on_commit_callbacks
):
    url = reverse("ops:job_start", args=["retry_failed_messages"])
    confirm = ops_client.get(url)
    assert b"Yes, start retry failed messages" in confirm.content
    assert JobRun.objects.count() == 0  # the GET only asks
    with django_capture_on_commit_callbacks(execute=True):
        response = ops_client.post(url, {"code": "131000", "since": "2h"})
    run = JobRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("ops:job_detail", args=[run.pk])
    assert run.arguments["code"] == 131000 and "since" in run.arguments
    assert run.trigger == JobTrigger.USER
    assert enqueued == [(run.pk, {"queue": "default", "retry": False})]


def test_bad_arguments_are_shown_on_the_form(ops_client, enqueued):
    response = ops_client.post(
        reverse("ops:job_start", args=["retry_failed_messages"]), {"code": "abc"}
    )
    assert response.status_code == 200
    assert b"expected a whole number" in response.content
    assert JobRun.objects.count() == 0


def test_a_second_start_is_refused_with_a_clear_message(ops_client, enqueued):
    running = JobRunFactory(name="purge_data", state=JobState.RUNNING)
    response = ops_client.post(reverse("ops:job_start", args=["purge_data"]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("ops:job_detail", args=[running.pk])
    assert "already running" in response.content.decode()
    assert JobRun.objects.count() == 1


def test_the_job_permission_is_needed_on_top_of_run_jobs(client, enqueued):
    user = UserFactory(username="operator")
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="core", codename__in=["view_operations", "run_jobs"]
        )
    )
    client.force_login(user)
    # Backups need core.manage_backups, the other jobs their own permission.
    assert client.get(reverse("ops:job_start", args=["backup"])).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="manage_backups"))
    assert client.get(reverse("ops:job_start", args=["backup"])).status_code == 200
    url = reverse("ops:job_start", args=["retry_failed_messages"])  # needs change_message
    assert client.get(url).status_code == 403
    assert client.post(url).status_code == 403
    page = client.get(reverse("ops:jobs")).content.decode()
    assert 'data-testid="job-backup"' in page
    assert 'data-testid="job-retry_failed_messages"' not in page
    assert JobRun.objects.count() == 0


def test_unknown_job_is_404(ops_client):
    assert ops_client.get(reverse("ops:job_start", args=["nope"])).status_code == 404


def test_the_job_page_polls_while_the_run_is_active(ops_client):
    run = JobRunFactory(state=JobState.RUNNING, progress=40, log="12:00:00 working")
    html = ops_client.get(reverse("ops:job_detail", args=[run.pk])).content.decode()
    assert f'hx-get="{reverse("ops:job_progress", args=[run.pk])}"' in html
    assert "working" in html and 'value="40"' in html
    JobRun.objects.filter(pk=run.pk).update(state=JobState.SUCCEEDED, progress=100)
    partial = ops_client.get(reverse("ops:job_progress", args=[run.pk])).content.decode()
    assert "hx-trigger" not in partial  # finished: polling stops
    assert "Succeeded" in partial


def test_cancel_from_the_page(ops_client, enqueued):
    run = job_start(name="purge_data")
    response = ops_client.post(reverse("ops:job_cancel", args=[run.pk]))
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.state == JobState.CANCELLED


def test_history_filters(ops_client):
    JobRunFactory(name="purge_data", state=JobState.FAILED)
    JobRunFactory(name="sync_templates", state=JobState.SUCCEEDED)
    JobRunFactory(name="sync_templates", state=JobState.FAILED, trigger="schedule")
    page = ops_client.get(reverse("ops:jobs"), {"name": "sync_templates", "state": "failed"})
    assert len(page.context["page"].object_list) == 1
    page = ops_client.get(reverse("ops:jobs"), {"trigger": "schedule"})
    assert [r.name for r in page.context["page"].object_list] == ["sync_templates"]


def test_job_history_queries_are_bounded(ops_client, django_assert_max_num_queries):
    for i in range(30):
        JobRunFactory(name=f"job_{i}", started_by=UserFactory(username=f"u{i}"))
    with django_assert_max_num_queries(10):
        assert ops_client.get(reverse("ops:jobs")).status_code == 200


def test_content_jobs_are_registered_and_run(db, settings):
    from analytics.ops.jobs import job_run_now

    run = job_run_now(name="distribute_content", arguments={})
    assert run.state == "succeeded", run.error
    assert "distributed to 0 advisor" in run.log
    settings.CONTENT_FEED_URL = ""
    run = job_run_now(name="import_content_feed", arguments={})
    assert run.state == "succeeded", run.error
