"""Background jobs that staff start from the operations page, beat starts on a schedule and
`manage.py run_job` starts from a shell: one registry, one runner, one history (`JobRun`).

Adding a job::

    from analytics.ops.jobs import JobArgument, job_register

    def rollup(ctx, *, day=None):
        ctx.log("rolling up ...")
        ctx.progress(50)
        ctx.count("days", 1)
        return {"rows": 123}  # optional: merged into the run's counts

    job_register(
        "rollup_analytics",
        title="Roll up analytics",
        fn=rollup,
        permission="analytics.change_dailysnapshot",
        arguments=[JobArgument("day", kind="date", help="Day to recompute (default today)")],
        description="Recompute the daily snapshots.",
    )

Register from your app's `AppConfig.ready()`. The job then appears on the Jobs page for users
with `core.run_jobs` and the job's own permission, runs with `manage.py run_job NAME --arg
key=value`, and can be scheduled with `core.schedules.schedule_ensure(apps, name=...,
task="analytics.job_scheduled", kwargs='{"name": "rollup_analytics"}', ...)`.

A job never runs twice at once: `JobRun` allows one queued-or-running row per name (a partial
unique constraint), and `job_start` refuses a second start with `JobAlreadyRunning`.
"""

from __future__ import annotations

import json
import logging
import re
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, connections, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from analytics.ops.models import ACTIVE_JOB_STATES, JobRun, JobState, JobTrigger
from core.errors import Conflict, DomainError
from core.queueing import task

logger = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.5  # seconds between writes of log/progress while a job runs


class UnknownJob(DomainError):
    code = "unknown_job"
    status_code = 404


class JobArgumentError(DomainError):
    code = "invalid_job_arguments"


class JobAlreadyRunning(Conflict):
    code = "job_already_running"

    def __init__(self, message: str, *, job_run: JobRun | None = None):
        super().__init__(message)
        self.job_run = job_run


class JobCancelled(Exception):
    """Raised inside a job (by JobContext) when a user asked it to stop."""


# --- Arguments ---------------------------------------------------------------------------------

_RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class JobArgument:
    """One argument of a job. `kind`: str, int, bool, date, datetime or choice.

    Values arrive as strings (form fields, `--arg key=value`) or native values (code), are
    validated by `clean`, and stored JSON-safe on the run; a `datetime` also takes a relative
    age ("30m", "2h", "7d", "1w" ago), resolved when the job is started.
    """

    name: str
    kind: str = "str"
    help: str = ""
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()

    def clean(self, raw: Any) -> Any:
        """The JSON-safe value for `raw` (None when empty and not required)."""
        if raw is None or (isinstance(raw, str) and raw.strip() == ""):
            if self.required:
                raise JobArgumentError(f"{self.name} is required.", details={self.name: "required"})
            return self.default
        try:
            return self._clean(raw)
        except (TypeError, ValueError) as exc:
            raise JobArgumentError(f"{self.name}: {exc}", details={self.name: str(exc)}) from exc

    def _clean(self, raw: Any) -> Any:
        if self.kind == "int":
            text = str(raw).strip()
            if not text.lstrip("-").isdigit():
                raise ValueError("expected a whole number")
            return int(text)
        if self.kind == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected yes or no")
        if self.kind == "date":
            if isinstance(raw, date) and not isinstance(raw, datetime):
                return raw.isoformat()
            parsed = parse_date(str(raw).strip())
            if parsed is None:
                raise ValueError("expected a date like 2026-01-31")
            return parsed.isoformat()
        if self.kind == "datetime":
            return _clean_datetime(raw).isoformat()
        if self.kind == "choice":
            if str(raw) not in self.choices:
                raise ValueError(f"expected one of {', '.join(self.choices)}")
            return str(raw)
        return str(raw).strip()

    def parse(self, stored: Any) -> Any:
        """The Python value handed to the job function."""
        if stored is None:
            return None
        if self.kind == "date":
            return parse_date(stored)
        if self.kind == "datetime":
            return parse_datetime(stored)
        return stored


def _clean_datetime(raw: Any) -> datetime:
    if isinstance(raw, datetime):
        value = raw
    else:
        text = str(raw).strip()
        relative = _RELATIVE.match(text)
        if relative:
            amount, unit = int(relative.group(1)), relative.group(2)
            return timezone.now() - timedelta(**{_UNITS[unit]: amount})
        value = parse_datetime(text)
        if value is None:
            day = parse_date(text)
            if day is None:
                raise ValueError("expected a date, a date and time, or an age like 2h or 7d")
            value = datetime(day.year, day.month, day.day)
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


# --- The registry ------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobDefinition:
    name: str
    title: str
    fn: Callable[..., Any]
    permission: str
    arguments: tuple[JobArgument, ...] = ()
    description: str = ""

    def clean_arguments(self, raw: dict[str, Any] | None) -> dict[str, Any]:
        raw = dict(raw or {})
        known = {a.name for a in self.arguments}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise JobArgumentError(
                f"{self.name} takes no argument {', '.join(unknown)}"
                + (f" (it takes {', '.join(sorted(known))})" if known else ""),
                details=dict.fromkeys(unknown, "unknown"),
            )
        cleaned = {}
        for argument in self.arguments:
            value = argument.clean(raw.get(argument.name))
            if value is not None:
                cleaned[argument.name] = value
        return cleaned

    def parse_arguments(self, stored: dict[str, Any]) -> dict[str, Any]:
        by_name = {a.name: a for a in self.arguments}
        return {
            name: by_name[name].parse(value) for name, value in stored.items() if name in by_name
        }

    def user_may_start(self, user) -> bool:
        return bool(user and user.has_perms(("core.run_jobs", self.permission)))


_REGISTRY: dict[str, JobDefinition] = {}


def job_register(
    name: str,
    *,
    title: str,
    fn: Callable[..., Any],
    permission: str,
    arguments: Iterable[JobArgument] = (),
    description: str = "",
) -> JobDefinition:
    """Register (or re-register, e.g. after a reload) the job `name`.

    `fn(ctx, **arguments)` does the work; `ctx` is a `JobContext`. It may return a dict of
    counts, merged into the run's counts. `permission` is needed on top of `core.run_jobs` to
    start it from the staff pages.
    """
    definition = JobDefinition(
        name=name,
        title=title,
        fn=fn,
        permission=permission,
        arguments=tuple(arguments),
        description=description,
    )
    _REGISTRY[name] = definition
    return definition


def job_get(name: str) -> JobDefinition:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownJob(f"There is no job called {name!r}.") from None


def jobs_all() -> list[JobDefinition]:
    return sorted(_REGISTRY.values(), key=lambda d: d.title)


def jobs_for_user(user) -> list[JobDefinition]:
    return [d for d in jobs_all() if d.user_may_start(user)]


# --- Starting ----------------------------------------------------------------------------------


def jobs_expire_stale(*, name: str | None = None) -> int:
    """Fail running jobs that stopped reporting (their worker died), freeing their lock."""
    cutoff = timezone.now() - timedelta(seconds=settings.JOB_STALE_SECONDS)
    runs = JobRun.objects.filter(state=JobState.RUNNING, heartbeat_at__lt=cutoff)
    if name is not None:
        runs = runs.filter(name=name)
    return runs.update(
        state=JobState.FAILED,
        finished_at=timezone.now(),
        error=f"The job stopped reporting for {settings.JOB_STALE_SECONDS} s "
        "(its worker probably stopped); start it again.",
    )


def job_start(
    *,
    name: str,
    started_by=None,
    arguments: dict[str, Any] | None = None,
    trigger: str = JobTrigger.USER,
    enqueue: bool = True,
) -> JobRun:
    """Record a queued run of job `name` and (after commit) hand it to a worker.

    Raises UnknownJob, JobArgumentError, or JobAlreadyRunning when a run of the same job is
    queued or running. With `enqueue=False` the caller runs it (`job_execute`) itself.
    """
    definition = job_get(name)
    cleaned = definition.clean_arguments(arguments)
    jobs_expire_stale(name=name)
    try:
        with transaction.atomic():
            run = JobRun.objects.create(
                name=name,
                trigger=trigger,
                started_by=started_by if getattr(started_by, "pk", None) else None,
                arguments=cleaned,
                state=JobState.QUEUED,
            )
    except IntegrityError:
        active = (
            JobRun.objects.filter(name=name, state__in=ACTIVE_JOB_STATES)
            .select_related("started_by")
            .first()
        )
        message = _already_running_message(definition, active)
        raise JobAlreadyRunning(message, job_run=active) from None
    logger.info("job %s #%s queued (%s)", name, run.pk, trigger)
    if enqueue:
        transaction.on_commit(lambda: job_enqueue(run.pk))
    return run


def _already_running_message(definition: JobDefinition, active: JobRun | None) -> str:
    if active is None:
        return f"“{definition.title}” is already running."
    who = active.started_by or active.get_trigger_display().lower()
    when = timezone.localtime(active.created_at).strftime("%H:%M:%S")
    return (
        f"“{definition.title}” is already {active.get_state_display().lower()} "
        f"(run #{active.pk}, started at {when} by {who}). Wait for it to finish or cancel it."
    )


def job_enqueue(job_run_id: int) -> None:
    """Nudge a worker; never raises. A lost nudge is re-sent by `jobs_sweep`."""
    try:
        task("analytics.job_run").apply_async(args=[job_run_id], queue="default", retry=False)
    except Exception:
        logger.warning("could not enqueue job run %s; the sweeper will retry", job_run_id)


def job_cancel(*, job_run: JobRun) -> JobRun:
    """Cancel a queued run at once; ask a running one to stop at its next report."""
    now = timezone.now()
    if JobRun.objects.filter(pk=job_run.pk, state=JobState.QUEUED).update(
        state=JobState.CANCELLED, finished_at=now, cancel_requested=True
    ):
        logger.info("job %s #%s cancelled before it started", job_run.name, job_run.pk)
    elif JobRun.objects.filter(pk=job_run.pk, state=JobState.RUNNING).update(cancel_requested=True):
        logger.info("job %s #%s asked to stop", job_run.name, job_run.pk)
    job_run.refresh_from_db()
    return job_run


def jobs_sweep(*, requeue_after_seconds: float = 60.0) -> dict[str, int]:
    """Every minute: fail stale running jobs, re-enqueue queued ones whose message was lost."""
    failed = jobs_expire_stale()
    cutoff = timezone.now() - timedelta(seconds=requeue_after_seconds)
    queued = list(
        JobRun.objects.filter(state=JobState.QUEUED, created_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:100]
    )
    for pk in queued:
        job_enqueue(pk)
    return {"stale_failed": failed, "requeued": len(queued)}


# --- Running -----------------------------------------------------------------------------------


class JobContext:
    """What a job function gets: its run, its arguments, and ways to report.

    `log(msg)`, `progress(pct)` and `count(key, n)` are buffered and written at most every
    half second (and at the end), so a chatty job does not hammer the database; each write
    also refreshes the run's heartbeat and notices a cancel request (raising JobCancelled).
    """

    def __init__(self, job_run: JobRun, *, echo: Callable[[str], None] | None = None):
        self.job_run = job_run
        self.echo = echo
        self._lines: list[str] = [line for line in job_run.log.splitlines() if line]
        self._dropped = 0
        self._progress = job_run.progress
        self._counts: dict[str, Any] = dict(job_run.counts or {})
        self._last_flush = 0.0
        self._dirty = False
        self._aside = None

    @property
    def counts(self) -> dict[str, Any]:
        return dict(self._counts)

    def log(self, message: str) -> None:
        stamp = timezone.localtime().strftime("%H:%M:%S")
        for line in str(message).splitlines() or [""]:
            self._lines.append(f"{stamp} {line}")
            if self.echo is not None:
                self.echo(line)
        overflow = len(self._lines) - JobRun.MAX_LOG_LINES
        if overflow > 0:
            self._dropped += overflow
            del self._lines[:overflow]
        self._touch()

    def progress(self, percent: float) -> None:
        self._progress = max(0, min(100, int(percent)))
        self._touch()

    def count(self, key: str, n: int = 1) -> None:
        self._counts[key] = self._counts.get(key, 0) + n
        self._touch()

    def set_count(self, key: str, value: Any) -> None:
        self._counts[key] = value
        self._touch()

    def check_cancelled(self) -> None:
        self.flush(force=True)

    def _touch(self) -> None:
        self._dirty = True
        if time.monotonic() - self._last_flush >= FLUSH_INTERVAL:
            self.flush()

    def log_text(self) -> str:
        lines = self._lines
        if self._dropped:
            lines = [f"… {self._dropped} earlier lines not kept", *lines]
        return "\n".join(lines)

    def flush(self, *, force: bool = False, final: bool = False) -> None:
        if not (self._dirty or force):
            return
        self._last_flush = time.monotonic()
        self._dirty = False
        values = {
            "log": self.log_text(),
            "progress": self._progress,
            "counts": self._counts,
            "heartbeat_at": timezone.now(),
        }
        if connection.vendor == "postgresql" and connection.in_atomic_block:
            cancel = self._write_aside(values)
        else:
            JobRun.objects.filter(pk=self.job_run.pk).update(**values)
            cancel = JobRun.objects.filter(pk=self.job_run.pk, cancel_requested=True).exists()
        if final:
            self.close()
        elif cancel:
            raise JobCancelled

    def _write_aside(self, values: dict[str, Any]) -> bool:
        """Report on a connection of our own while the job holds a long transaction (a backup's
        snapshot): the page sees progress at once, and the run's row is never locked by it."""
        if self._aside is None:
            self._aside = connections.create_connection(JobRun.objects.db)
        quote = self._aside.ops.quote_name
        meta = JobRun._meta
        column = {name: quote(meta.get_field(name).column) for name in [*values, "id"]}
        # Identifiers come from the model's meta, quoted; values are parameters.
        sql = "UPDATE {} SET {}, {} = CAST(%s AS jsonb), {} = %s WHERE {} = %s".format(  # noqa: S608
            quote(meta.db_table),
            ", ".join(f"{column[n]} = %s" for n in ("log", "progress")),
            column["counts"],
            column["heartbeat_at"],
            column["id"],
        )
        params = [
            values["log"],
            values["progress"],
            json.dumps(values["counts"]),
            values["heartbeat_at"],
            self.job_run.pk,
        ]
        with self._aside.cursor() as cursor:
            cursor.execute(sql, params)
            cursor.execute(
                "SELECT {} FROM {} WHERE {} = %s".format(  # noqa: S608
                    quote(meta.get_field("cancel_requested").column),
                    quote(meta.db_table),
                    column["id"],
                ),
                [self.job_run.pk],
            )
            row = cursor.fetchone()
        return bool(row and row[0])

    def close(self) -> None:
        if self._aside is not None:
            self._aside.close()
            self._aside = None


def job_execute(*, job_run_id: int, echo: Callable[[str], None] | None = None) -> JobRun | None:
    """Run a queued job here and now; a no-op for runs already taken, finished or cancelled."""
    now = timezone.now()
    claimed = JobRun.objects.filter(pk=job_run_id, state=JobState.QUEUED).update(
        state=JobState.RUNNING, started_at=now, heartbeat_at=now
    )
    if not claimed:
        return None
    run = JobRun.objects.get(pk=job_run_id)
    ctx = JobContext(run, echo=echo)
    state, error = JobState.SUCCEEDED, ""
    try:
        definition = job_get(run.name)
        ctx.log(f"{definition.title} started ({run.get_trigger_display().lower()})")
        result = definition.fn(ctx, **definition.parse_arguments(run.arguments))
        if isinstance(result, dict):
            for key, value in result.items():
                ctx.set_count(str(key), value)
        ctx.progress(100)
        ctx.log("finished")
    except JobCancelled:
        state, error = JobState.CANCELLED, "Cancelled on request."
        ctx.log("cancelled on request")
    except Exception as exc:
        state, error = JobState.FAILED, f"{type(exc).__name__}: {exc}"[:4000]
        ctx.log(f"failed: {error}")
        ctx.log(traceback.format_exc())
        # A warning, not an error: job failures have their own place in the error log.
        logger.warning("job %s #%s failed: %s", run.name, run.pk, error)
    ctx.flush(force=True, final=True)
    JobRun.objects.filter(pk=run.pk).update(
        state=state, error=error, finished_at=timezone.now(), heartbeat_at=timezone.now()
    )
    run.refresh_from_db()
    logger.info("job %s #%s %s", run.name, run.pk, run.state)
    return run


def job_run_now(
    *,
    name: str,
    arguments: dict[str, Any] | None = None,
    started_by=None,
    trigger: str = JobTrigger.COMMAND,
    echo: Callable[[str], None] | None = None,
) -> JobRun:
    """Start and run a job in this process (management commands); returns the finished run."""
    run = job_start(
        name=name, started_by=started_by, arguments=arguments, trigger=trigger, enqueue=False
    )
    return job_execute(job_run_id=run.pk, echo=echo) or run


def job_last_runs(names: Iterable[str]) -> dict[str, JobRun | None]:
    """The latest run of each job name, whatever its state (None for "never")."""
    return {
        name: JobRun.objects.filter(name=name).select_related("started_by").first()
        for name in names
    }
