"""The jobs and board sections the operations centre ships with (registered in ready())."""

from __future__ import annotations

from django.apps import apps
from django.db.models import Count
from django.urls import NoReverseMatch, reverse

from analytics.ops.backup import backup_write, backups_rotate
from analytics.ops.board import BoardDay, BoardRow, board_register
from analytics.ops.jobs import JobArgument, JobContext, job_register
from analytics.ops.models import AppError, JobRun, JobState
from analytics.ops.retention import data_purge, retention_last_purge, retention_settings
from analytics.ops.retry import channel_resolve, failed_messages_retry
from core.audit import audit_record
from core.models import AuditAction
from messaging.channels.templates import templates_sync_all
from messaging.content.distribution import content_distribute
from messaging.content.feed import content_feed_import
from messaging.models import Direction, Message, MessageType, Status, WebhookEvent, WebhookState
from messaging.webhooks.services import webhook_events_replay, webhook_events_select

# --- Jobs --------------------------------------------------------------------------------------


def sync_templates_job(ctx: JobContext) -> dict:

    results = templates_sync_all()
    for channel, summary in results.items():
        ctx.log(f"{channel}: {summary}")
    if not results:
        ctx.log("no active channel")
    return {"channels": len(results)}


def retry_failed_messages_job(
    ctx: JobContext, *, code=None, channel=None, since=None, limit=None
) -> dict:

    resolved = channel_resolve(channel)
    ctx.log(
        f"filter: code={code or 'any'} channel={resolved or 'any'} "
        f"since={since.isoformat() if since else 'any time'} limit={limit or 'none'}"
    )

    def report(done: int, total: int) -> None:
        ctx.progress(done * 100 / total if total else 100)

    result = failed_messages_retry(
        code=code, channel=resolved, since=since, limit=limit, report=report
    )
    ctx.log(f"{result['requeued']} of {result['matched']} failed messages queued again")
    if result["skipped_never_retry"]:
        ctx.log(f"{result['skipped_never_retry']} skipped: undeliverable or opted out")
    return result


def replay_failed_webhooks_job(ctx: JobContext, *, since=None, limit=None) -> dict:

    events = webhook_events_select(since=since, failed_only=True).order_by("id")
    ids = list(events.values_list("pk", flat=True)[: limit or None])
    ctx.log(f"{len(ids)} failed webhook events to replay")
    replayed = 0
    for start in range(0, len(ids), 500):
        replayed += webhook_events_replay(event_ids=ids[start : start + 500])
        ctx.progress((start + 500) * 100 / len(ids))
    ctx.log(f"{replayed} events queued for processing")
    return {"selected": len(ids), "replayed": replayed}


def purge_data_job(ctx: JobContext) -> dict:

    return data_purge(log=ctx.log)


def backup_job(ctx: JobContext) -> dict:
    """The record of a backup is its run: when and how long (started/finished), the outcome
    (state), and in its counts the archive's name, size in bytes and SHA-256."""
    written = backup_write(log=ctx.log, progress=ctx.progress, exclude_job_run_id=ctx.job_run.pk)
    rotated = backups_rotate(log=ctx.log)
    audit_record(
        AuditAction.BACKUP,
        actor=ctx.job_run.started_by,
        details={
            "archive": written.path.name,
            "bytes": written.size,
            "sha256": written.sha256,
            "job_run": ctx.job_run.pk,
        },
    )
    return {
        "archive": written.path.name,
        "bytes": written.size,
        "sha256": written.sha256,
        "rows": written.rows,
        "media_files": written.media_files,
        "media_bytes": written.media_bytes,
        "rotated_out": len(rotated),
    }


def distribute_content_job(ctx: JobContext, *, day=None) -> dict:

    result = content_distribute(day=day, actor=ctx.job_run.started_by)
    ctx.log(result.summary())
    return {"items": len(result.items), "advisors_sent": result.sent}


def import_content_feed_job(ctx: JobContext) -> dict:

    result = content_feed_import()
    ctx.log(f"{result.created} new draft(s), {result.skipped} already known")
    for error in result.errors:
        ctx.log(f"error: {error}")
    return {"created": result.created, "skipped": result.skipped, "errors": len(result.errors)}


def register_jobs() -> None:
    job_register(
        "sync_templates",
        title="Sync templates",
        fn=sync_templates_job,
        permission="messaging.sync_messagetemplate",
        description="Pull every template of every active channel from the provider.",
    )
    job_register(
        "retry_failed_messages",
        title="Retry failed messages",
        fn=retry_failed_messages_job,
        permission="messaging.change_message",
        arguments=[
            JobArgument("code", kind="int", help="Only this error code, e.g. 131000"),
            JobArgument("channel", help="Channel id, phone number id or name"),
            JobArgument(
                "since",
                kind="datetime",
                help="Only messages created since (2026-01-31, 2026-01-31 08:00, 2h, 7d)",
            ),
            JobArgument("limit", kind="int", help="At most this many messages"),
        ],
        description="Queue failed outbound messages again (same messages, attempts reset). "
        "Never retries 131026 (undeliverable) or 131050 (stopped marketing); consent and "
        "blocks are checked again when sending.",
    )
    job_register(
        "replay_failed_webhooks",
        title="Replay failed webhooks",
        fn=replay_failed_webhooks_job,
        permission="messaging.replay_webhookevent",
        arguments=[
            JobArgument(
                "since", kind="datetime", help="Only events received since (2h, 7d, a date)"
            ),
            JobArgument("limit", kind="int", help="At most this many events"),
        ],
        description="Process failed webhook events again; whatever was applied is skipped.",
    )
    job_register(
        "purge_data",
        title="Purge old data",
        fn=purge_data_job,
        permission="messaging.delete_webhookevent",
        description="Delete raw webhooks, health samples, job runs and application errors, "
        "redact message bodies and media, purge finished imports' files and error rows, "
        "each older than its retention setting (runs nightly).",
    )
    job_register(
        "distribute_content",
        title="Distribute today's content",
        fn=distribute_content_job,
        permission="messaging.distribute_contentitem",
        arguments=[
            JobArgument("day", kind="date", help="Distribute this day's items (default today)")
        ],
        description="Send the day's approved content to its active advisors (runs daily; "
        "sending twice sends nothing twice).",
    )
    job_register(
        "import_content_feed",
        title="Import the content feed",
        fn=import_content_feed_job,
        permission="messaging.add_contentitem",
        description="Fetch CONTENT_FEED_URL and create drafts for new items (runs hourly).",
    )
    job_register(
        "backup",
        title="Back up the database",
        fn=backup_job,
        permission="core.manage_backups",
        description="Write an archive of every Parley table and the uploaded media to BACKUP_DIR "
        "(JSON Lines with checksums, plus pg_dump on PostgreSQL), then keep the newest "
        "BACKUP_KEEP archives (runs daily).",
    )


# --- Board sections ----------------------------------------------------------------------------


def _url(name: str, query: str = "", *args) -> str:
    try:
        return reverse(name, args=args) + (f"?{query}" if query else "")
    except NoReverseMatch:
        return ""


def messages_today(day: BoardDay) -> list[BoardRow]:

    by_status = dict(
        Message.objects.filter(
            direction=Direction.OUTBOUND, created_at__gte=day.start, created_at__lt=day.end
        )
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
    )
    delivered = sum(by_status.get(s, 0) for s in (Status.DELIVERED, Status.READ))
    sent = delivered + sum(by_status.get(s, 0) for s in (Status.ACCEPTED, Status.SENT))
    failed = by_status.get(Status.FAILED, 0)
    waiting = sum(by_status.get(s, 0) for s in (Status.QUEUED, Status.SENDING, Status.UNKNOWN))
    date = day.day.isoformat()
    return [
        BoardRow(
            "Sent", sent, url=_url("admin:messaging_message_changelist", "direction__exact=out")
        ),
        BoardRow("Delivered or read", delivered),
        BoardRow(
            "Failed",
            failed,
            state="warn" if failed else "ok",
            url=_url("ops:errors", f"kind=messages&date_from={date}&date_to={date}"),
        ),
        BoardRow("Waiting (queued, sending, unknown)", waiting),
        BoardRow("Cancelled before sending", by_status.get(Status.CANCELLED, 0)),
    ]


def inbound_today(day: BoardDay) -> list[BoardRow]:

    by_type = dict(
        Message.objects.filter(
            status=Status.RECEIVED,
            direction=Direction.INBOUND,
            created_at__gte=day.start,
            created_at__lt=day.end,
        )
        .order_by()
        .values_list("type")
        .annotate(n=Count("id"))
    )
    taps = by_type.get(MessageType.BUTTON_REPLY, 0) + by_type.get(MessageType.INTERACTIVE_REPLY, 0)
    return [
        BoardRow(
            "Messages received", sum(by_type.values()), url=_url("ops:events", "kind=inbound")
        ),
        BoardRow("Button and list replies", taps, url=_url("ops:events", "kind=button")),
    ]


def webhooks_today(day: BoardDay) -> list[BoardRow]:

    by_state = dict(
        WebhookEvent.objects.filter(received_at__gte=day.start, received_at__lt=day.end)
        .order_by()
        .values_list("state")
        .annotate(n=Count("id"))
    )
    failed = by_state.get(WebhookState.FAILED, 0)
    return [
        BoardRow("Webhooks received", sum(by_state.values())),
        BoardRow(
            "Failed processing",
            failed,
            state="warn" if failed else "ok",
            url=_url("ops:errors", "kind=webhooks"),
        ),
        BoardRow("Pending", by_state.get(WebhookState.PENDING, 0)),
    ]


def imports_today(day: BoardDay) -> list[BoardRow]:
    try:
        import_job = apps.get_model("crm", "ImportJob")
    except LookupError:
        return [BoardRow("Imports", "not available")]
    by_status = dict(
        import_job.objects.filter(created_at__gte=day.start, created_at__lt=day.end)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
    )
    failed = by_status.get("failed", 0)
    url = _url("crm:import_list")
    return [
        BoardRow("Imports started", sum(by_status.values()), url=url),
        BoardRow("Completed", by_status.get("completed", 0)),
        BoardRow("Running or queued", by_status.get("running", 0) + by_status.get("pending", 0)),
        BoardRow("Failed", failed, state="warn" if failed else "ok", url=url),
    ]


def jobs_today(day: BoardDay) -> list[BoardRow]:

    by_state = dict(
        JobRun.objects.filter(created_at__gte=day.start, created_at__lt=day.end)
        .order_by()
        .values_list("state")
        .annotate(n=Count("id"))
    )
    failed = by_state.get(JobState.FAILED, 0)
    active = by_state.get(JobState.RUNNING, 0) + by_state.get(JobState.QUEUED, 0)
    return [
        BoardRow("Jobs run", sum(by_state.values()), url=_url("ops:jobs")),
        BoardRow("Running or queued", active, url=_url("ops:jobs", "state=running")),
        BoardRow(
            "Failed", failed, state="warn" if failed else "ok", url=_url("ops:errors", "kind=jobs")
        ),
    ]


def app_errors_today(day: BoardDay) -> list[BoardRow]:

    count = AppError.objects.filter(created_at__gte=day.start, created_at__lt=day.end).count()
    return [
        BoardRow(
            "Application errors",
            count,
            state="warn" if count else "ok",
            url=_url("ops:errors", "kind=app"),
        )
    ]


def _days(value: int) -> str:
    return f"{value} days" if value else "kept (0: off)"


def retention_last_night(day: BoardDay) -> list[BoardRow]:
    """What the latest nightly purge redacted and removed, and the settings in force."""
    run = retention_last_purge()
    settings_now = retention_settings()
    rows = []
    if run is None:
        rows.append(BoardRow("Last purge", "never ran", state="warn"))
    else:
        counts = run.counts or {}
        url = _url("ops:job_detail", "", run.pk)
        rows += [
            BoardRow(
                "Last purge", f"{run.created_at:%Y-%m-%d %H:%M} ({run.state})",
                state="ok" if run.state == JobState.SUCCEEDED else "warn", url=url,
            ),
            BoardRow("Messages redacted", counts.get("messages_redacted", 0)),
            BoardRow("Media files deleted", counts.get("media_files_deleted", 0)),
            BoardRow("Import files purged", counts.get("import_files", 0)),
            BoardRow("Import error rows purged", counts.get("import_error_rows", 0)),
            BoardRow("Raw webhooks purged", counts.get("webhook_events", 0)),
        ]  # fmt: skip
    rows += [
        BoardRow("Message bodies and media", _days(settings_now["MESSAGE_RETENTION_DAYS"])),
        BoardRow("Import files and error rows", _days(settings_now["UPLOAD_RETENTION_DAYS"])),
        BoardRow("Raw webhooks", _days(settings_now["WEBHOOK_RETENTION_DAYS"])),
    ]
    return rows


def register_board() -> None:
    board_register("messages", messages_today, title="Messages sent", order=10)
    board_register("inbound", inbound_today, title="Inbound", order=20)
    board_register("webhooks", webhooks_today, title="Webhooks", order=30)
    board_register("imports", imports_today, title="Imports", order=60)
    board_register("jobs", jobs_today, title="Jobs", order=80)
    board_register("app_errors", app_errors_today, title="Errors", order=90)
    board_register("retention", retention_last_night, title="Retention", order=95)
