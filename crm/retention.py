"""Import files and their error rows do not live forever.

An import's file holds every row it was given, and its error rows (`ImportRowError`) the
values refused: personal data that outlives its use once the job has finished. Two ways out:

- retention: `import_uploads_purge` removes the files and error rows of jobs finished more
  than UPLOAD_RETENTION_DAYS ago (the nightly purge, in batches); the job keeps its counters.
- erasure: `import_traces_erase` removes the files of finished jobs that mention an erased
  number, and their error rows on the lines that mention it.

A file shared by a dry run and the import started from it goes only when no job that still
needs it remains. Files are deleted after the transaction commits.
"""

from __future__ import annotations

import re
from datetime import timedelta

import phonenumbers
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.storage import files_delete_on_commit
from crm.models import ImportJob, ImportRowError, ImportStatus, _import_storage

FINISHED = (ImportStatus.COMPLETED, ImportStatus.FAILED)
NON_DIGITS = re.compile(rb"\D")


def _files_delete_on_commit(names: set[str]) -> None:
    """Delete files no unpurged job uses any more, once the purge has committed."""
    if not names:
        return
    still_used = set(
        ImportJob.objects.filter(file__in=names, purged_at__isnull=True).values_list(
            "file", flat=True
        )
    )
    files_delete_on_commit(names - still_used, storage=_import_storage)


def _jobs_purge(job_ids: list[int], *, now) -> tuple[int, int]:
    """Mark jobs purged, delete their error rows and (after commit) their files."""
    with transaction.atomic():
        jobs = list(ImportJob.objects.select_for_update().filter(pk__in=job_ids))
        names = {job.file.name for job in jobs if job.file.name}
        errors, _ = ImportRowError.objects.filter(job_id__in=job_ids).delete()
        ImportJob.objects.filter(pk__in=job_ids).update(purged_at=now)
        _files_delete_on_commit(names)
    return len(jobs), errors


def import_uploads_purge(
    *, older_than_days: int | None = None, batch: int | None = None
) -> dict[str, int]:
    """Remove the files and error rows of imports finished more than `older_than_days`
    (UPLOAD_RETENTION_DAYS; 0 keeps them) ago, `batch` jobs per transaction."""
    days = settings.UPLOAD_RETENTION_DAYS if older_than_days is None else older_than_days
    counts = {"import_files": 0, "import_error_rows": 0}
    if not days:
        return counts
    size = batch or settings.RETENTION_BATCH
    now = timezone.now()
    due = ImportJob.objects.filter(
        status__in=FINISHED, purged_at__isnull=True, finished_at__lt=now - timedelta(days=days)
    )
    while True:
        ids = list(due.order_by("pk").values_list("pk", flat=True)[:size])
        if not ids:
            return counts
        jobs, errors = _jobs_purge(ids, now=now)
        counts["import_files"] += jobs
        counts["import_error_rows"] += errors


def _needles(phone: str) -> list[bytes]:
    """Digit runs that spell `phone` in a file: the full international number and the national
    significant number (files often hold numbers without their country code)."""
    digits = phone.lstrip("+")
    needles = [digits.encode()]
    try:
        national = phonenumbers.national_significant_number(phonenumbers.parse(phone))
    except phonenumbers.NumberParseException:
        national = ""
    if len(national) >= 6 and national != digits:
        needles.append(national.encode())
    return needles


def _lines_mentioning(path: str, needles: list[bytes]) -> set[int]:
    """1-based numbers of the lines whose digits contain one of `needles`."""
    found: set[int] = set()
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, start=1):
            digits = NON_DIGITS.sub(b"", line)
            if any(needle in digits for needle in needles):
                found.add(number)
    return found


def import_traces_erase(*, phone: str | None) -> dict[str, int]:
    """Remove what finished imports still hold of the number `phone` (E.164): the files that
    mention it (the job keeps its counters) and the error rows of the lines that do. Jobs
    still running are left alone; what they import starts opted out if the number was."""
    counts = {"import_files": 0, "import_error_rows": 0}
    if not phone:
        return counts
    needles = _needles(phone)
    storage = _import_storage()
    hits: dict[int, set[int]] = {}
    jobs = ImportJob.objects.filter(status__in=FINISHED, purged_at__isnull=True).exclude(file="")
    for job_id, name in jobs.values_list("pk", "file").iterator():
        try:
            lines = _lines_mentioning(storage.path(name), needles)
        except OSError:
            continue  # already gone
        if lines:
            hits[job_id] = lines
    if not hits:
        return counts
    for job_id, lines in hits.items():
        deleted, _ = ImportRowError.objects.filter(job_id=job_id, line__in=lines).delete()
        counts["import_error_rows"] += deleted
    names = set(ImportJob.objects.filter(pk__in=hits).values_list("file", flat=True))
    ImportJob.objects.filter(pk__in=hits).update(file="")  # retention still takes the rest
    _files_delete_on_commit(names)
    counts["import_files"] = len(hits)
    return counts
