"""Contact imports as background jobs: create from an upload, run in batches with a committed
checkpoint, resume after a crash, sweep jobs a dead worker left behind.

A run claims its job with a conditional UPDATE (a fresh `run_token`); every batch commits the
contacts, the error rows, the counters, the checkpoint and a heartbeat together, and only
while the token is still its own. So a worker killed mid-batch loses that batch's work and
nothing else, and the next run starts at the checkpoint: no contact twice, no row counted
twice. `import_jobs_resume_stale` (beat, every minute) re-drives jobs whose heartbeat went
quiet and queued jobs whose Celery message was lost.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.files import File
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.text import get_valid_filename

from core.audit import audit_record
from core.errors import DomainError
from core.models import AuditAction
from core.queueing import task
from crm.importing.readers import FileRefused, reader_for, upload_sniff
from crm.importing.rows import Row, RowParser, RowProblem
from crm.importing.writer import TagCache, batch_apply
from crm.models import Contact, ImportJob, ImportRowError, ImportStatus
from crm.services.attributes import attribute_definitions
from crm.signals import consent_changed_bulk, consent_recorded_bulk

logger = logging.getLogger(__name__)


class LostClaim(Exception):
    """Another run took the job over (ours was presumed dead); stop without writing."""


# --- Creating jobs -----------------------------------------------------------------------------


def import_upload_check(*, upload, size: int | None = None) -> tuple[str, list[str]]:
    """(format, columns) of an upload, or FileRefused: size limit, extension, content sniff."""
    size = upload.size if size is None else size
    limit = settings.IMPORT_MAX_BYTES
    if size > limit:
        raise FileRefused(
            f"The file is {size / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB.",
            code="file_too_large",
        )
    return upload_sniff(upload.file if hasattr(upload, "file") else upload, upload.name)


def import_job_create(
    *,
    upload,
    actor=None,
    dry_run: bool = False,
    as_advisors: bool = False,
    enqueue: bool = True,
) -> ImportJob:
    """Store the upload under MEDIA_ROOT/imports and queue its job (after commit).

    `enqueue=False` leaves it for the caller to run (the command runs it in-process).
    """
    fmt, columns = import_upload_check(upload=upload)
    parser = RowParser(definitions=attribute_definitions(), as_advisors=as_advisors)
    mapping = parser.column_map(columns)
    name = os.path.basename(upload.name)
    stored = f"{uuid.uuid4().hex[:12]}-{get_valid_filename(name) or 'import'}"
    with transaction.atomic():
        job = ImportJob(
            original_name=name[:255], format=fmt, size_bytes=upload.size, dry_run=dry_run,
            as_advisors=as_advisors, columns=mapping, ignored_columns=parser.ignored,
            created_by=actor if getattr(actor, "pk", None) else None,
        )  # fmt: skip
        upload.seek(0)
        job.file.save(stored, File(upload.file if hasattr(upload, "file") else upload), save=False)
        job.save()
        # The rows are written in bulk by the job (no model signals): one event says who
        # started it; the job's counters say what it did.
        audit_record(
            AuditAction.IMPORT, obj=job, actor=_person(actor),
            details={"file": job.original_name, "dry_run": dry_run, "advisors": as_advisors},
        )  # fmt: skip
        if enqueue:
            import_job_enqueue(job)
    return job


def _person(actor):
    return actor if getattr(actor, "pk", None) else None


def import_job_from_dry_run(*, job: ImportJob, actor=None) -> ImportJob:
    """Run a checked file for real: a new job over the same stored file."""
    if not job.dry_run or job.status != ImportStatus.COMPLETED:
        raise DomainError("Only a finished dry run can be imported.", code="invalid_import")
    with transaction.atomic():
        real = ImportJob.objects.create(
            file=job.file.name, original_name=job.original_name, format=job.format,
            size_bytes=job.size_bytes, dry_run=False, as_advisors=job.as_advisors,
            columns=job.columns, ignored_columns=job.ignored_columns, source_job=job,
            created_by=actor if getattr(actor, "pk", None) else None,
        )  # fmt: skip
        audit_record(
            AuditAction.IMPORT, obj=real, actor=_person(actor),
            details={"file": real.original_name, "dry_run": False, "from_dry_run": job.pk},
        )  # fmt: skip
        import_job_enqueue(real)
    return real


def import_job_enqueue(job: ImportJob) -> None:
    job_id = job.pk
    transaction.on_commit(
        lambda: task("crm.import_run").apply_async(args=[job_id], queue="default")
    )


def import_job_resume(*, job: ImportJob, actor=None, enqueue: bool = True) -> ImportJob:
    """Continue a failed or stuck job from its checkpoint (staff button, API, command)."""
    stale = timezone.now() - timedelta(seconds=settings.IMPORT_STALE_SECONDS)
    resumable = Q(status=ImportStatus.FAILED) | Q(status=ImportStatus.PENDING)
    resumable |= Q(status=ImportStatus.RUNNING) & (
        Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True)
    )
    with transaction.atomic():
        updated = (
            ImportJob.objects.filter(pk=job.pk, purged_at__isnull=True)
            .exclude(file="")
            .filter(resumable)
            .update(status=ImportStatus.PENDING, message="", run_token="", heartbeat_at=None)
        )
        if not updated:
            raise DomainError(
                "This job is finished or still running; nothing to resume.", code="not_resumable"
            )
        audit_record(
            AuditAction.IMPORT, obj=job, actor=_person(actor),
            details={"file": job.original_name, "resumed": True},
        )  # fmt: skip
        if enqueue:
            import_job_enqueue(job)
    job.refresh_from_db()
    return job


def import_jobs_resume_stale() -> list[int]:
    """Queue again every job a dead worker or a lost message left behind (beat, each minute)."""
    stale = timezone.now() - timedelta(seconds=settings.IMPORT_STALE_SECONDS)
    stuck = ImportJob.objects.filter(
        Q(status=ImportStatus.RUNNING, heartbeat_at__lt=stale)
        | Q(status=ImportStatus.RUNNING, heartbeat_at__isnull=True, created_at__lt=stale)
        | Q(status=ImportStatus.PENDING)
        & (Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True, created_at__lt=stale))
    ).values_list("pk", flat=True)
    ids = list(stuck[:100])
    for job_id in ids:
        logger.warning("import job %s looks stuck; queueing it again", job_id)
        transaction.on_commit(
            lambda job_id=job_id: task("crm.import_run").apply_async(args=[job_id], queue="default")
        )
    return ids


# --- Running jobs ------------------------------------------------------------------------------


def _claim(job_id: int) -> str | None:
    now = timezone.now()
    stale = now - timedelta(seconds=settings.IMPORT_STALE_SECONDS)
    token = uuid.uuid4().hex
    claimed = (
        ImportJob.objects.filter(pk=job_id)
        .filter(
            Q(status=ImportStatus.PENDING)
            | Q(status=ImportStatus.RUNNING, heartbeat_at__lt=stale)
            | Q(status=ImportStatus.RUNNING, heartbeat_at__isnull=True)
        )
        .update(
            status=ImportStatus.RUNNING,
            run_token=token,
            heartbeat_at=now,
            attempts=F("attempts") + 1,
            started_at=Coalesce(F("started_at"), Value(now)),
        )
    )
    return token if claimed else None


def _guarded(job_id: int, token: str):
    return ImportJob.objects.filter(pk=job_id, run_token=token)


def _finish(job_id: int, token: str, **fields) -> None:
    _guarded(job_id, token).update(heartbeat_at=timezone.now(), **fields)


def import_job_run(
    *, job_id: int, max_seconds: float | None = None, max_batches: int | None = None
) -> ImportJob | None:
    """Claim the job and import from its checkpoint until done (or out of time: then queue
    the rest). Returns the job, or None when another run holds it or it is finished."""
    token = _claim(job_id)
    if token is None:
        return None
    job = ImportJob.objects.get(pk=job_id)
    try:
        done = _run(job, token, max_seconds=max_seconds, max_batches=max_batches)
    except LostClaim:
        logger.warning("import job %s was taken over by another run", job_id)
        return None
    except FileRefused as exc:
        _finish(job_id, token, status=ImportStatus.FAILED, message=exc.message,
                finished_at=timezone.now())  # fmt: skip
    except DatabaseError:
        # Left `running`: the heartbeat goes stale and the sweeper resumes the job.
        logger.exception("import job %s hit a database error", job_id)
        raise
    except Exception as exc:
        _finish(job_id, token, status=ImportStatus.FAILED, message=f"Stopped by an error: {exc}",
                finished_at=timezone.now())  # fmt: skip
        raise
    else:
        if done:
            _finish(job_id, token, status=ImportStatus.COMPLETED, finished_at=timezone.now(),
                    total_rows=F("processed_rows"))  # fmt: skip
        else:
            with transaction.atomic():
                _finish(job_id, token, status=ImportStatus.PENDING, run_token="")
                import_job_enqueue(job)
    job.refresh_from_db()
    return job


@dataclass
class _Batch:
    """One batch, read and validated: rows to write, problems to report, where it ends."""

    rows: list[Row]
    problems: list[RowProblem]
    count: int
    bad: int
    end_byte: int
    end_line: int


def _parse(records: list, parser: RowParser) -> _Batch:
    rows: list[Row] = []
    problems: list[RowProblem] = []
    bad = 0
    for record in records:
        if record.error:
            problems.append(RowProblem(record.line, "", "", record.error))
            bad += 1
            continue
        parsed = parser.parse(record.line, record.data)
        if isinstance(parsed, Row):
            rows.append(parsed)
        else:
            problems.extend(parsed)
            bad += 1
    last = records[-1]
    return _Batch(rows, problems, len(records), bad, last.end_byte, last.end_line)


def _batches(job: ImportJob, fh, parser: RowParser, size: int) -> Iterator[_Batch]:
    records = reader_for(job.format, fh).records(
        start_byte=job.checkpoint_byte, start_line=job.checkpoint_line
    )
    batch: list = []
    try:
        for record in records:
            batch.append(record)
            if len(batch) >= size:
                yield _parse(batch, parser)
                batch = []
    except FileRefused:
        if batch:  # keep what came before the broken part of the file
            yield _parse(batch, parser)
        raise
    if batch:
        yield _parse(batch, parser)


class _ReadAhead:
    """Reads and validates the next batches in a helper thread while this one waits on the
    database (the wait releases the GIL), at most `depth` batches ahead. Errors, FileRefused
    included, come out of iteration in order, after the batches read before them."""

    _END = object()

    # While both threads run, hand the GIL over sooner than Python's default 5 ms: each
    # database round trip of the writing thread otherwise waits out the reader's time slice.
    SWITCH_INTERVAL = 0.0005

    def __init__(self, batches: Iterator[_Batch], depth: int = 2):
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, args=(batches,), daemon=True)
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, self.SWITCH_INTERVAL))
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self, batches: Iterator[_Batch]) -> None:
        try:
            for batch in batches:
                if not self._put(batch):
                    return
            self._put(self._END)
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(exc)

    def __iter__(self) -> Iterator[_Batch]:
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        sys.setswitchinterval(self._switch_interval)


def _run(job: ImportJob, token: str, *, max_seconds, max_batches) -> bool:
    started = time.monotonic()
    try:
        path = job.file.path
        if not os.path.exists(path):
            raise FileNotFoundError(path)
    except (FileNotFoundError, NotImplementedError, ValueError):
        raise FileRefused("The uploaded file is gone; upload it again.") from None
    parser = RowParser(definitions=attribute_definitions(), as_advisors=job.as_advisors)
    tags = TagCache()
    done = 0
    with open(path, "rb") as fh:
        ahead = _ReadAhead(_batches(job, fh, parser, max(1, settings.IMPORT_BATCH_SIZE)))
        try:
            for batch in ahead:
                _batch_commit(job, token, batch, parser, tags)
                done += 1
                if max_batches is not None and done >= max_batches:
                    return False
                if max_seconds is not None and time.monotonic() - started > max_seconds:
                    return False
        finally:
            ahead.close()
    return True


def _batch_commit(job: ImportJob, token: str, batch: _Batch, parser: RowParser, tags) -> None:
    """Write and checkpoint one batch, all in one transaction."""
    rows, problems = batch.rows, batch.problems
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # The checkpoint commits with the rows, so a batch lost in a database crash is
            # simply redone on resume: no need to wait for each commit's WAL flush.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        result = batch_apply(
            rows, as_advisors=job.as_advisors, dry_run=job.dry_run, tags=tags, job_id=job.pk
        )
        if problems:
            ImportRowError.objects.bulk_create(
                [
                    ImportRowError(
                        job_id=job.pk,
                        line=p.line,
                        column=p.column[:100],
                        value=p.value[:200],
                        reason=p.reason[:300],
                    )
                    for p in problems
                ]
            )
        updated = _guarded(job.pk, token).update(
            processed_rows=F("processed_rows") + batch.count,
            created_count=F("created_count") + result.created,
            updated_count=F("updated_count") + result.updated,
            skipped_count=F("skipped_count") + result.skipped,
            error_count=F("error_count") + batch.bad,
            checkpoint_byte=batch.end_byte,
            checkpoint_line=batch.end_line,
            ignored_columns=parser.ignored,
            heartbeat_at=timezone.now(),
        )
        if not updated:
            raise LostClaim  # rolls the whole batch back
        if result.consent_changes:
            changes = result.consent_changes
            consent_recorded_bulk.send(sender=Contact, changes=changes, source="import")
            transaction.on_commit(
                lambda: consent_changed_bulk.send(sender=Contact, changes=changes, source="import")
            )
