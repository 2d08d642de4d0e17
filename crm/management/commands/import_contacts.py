"""`manage.py import_contacts FILE [--dry-run] [--advisors]`: the same import as the staff
page and the API (an ImportJob with its checkpoint and error report), run in this process."""

from __future__ import annotations

import json
import os
import time

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from crm.importing.jobs import (
    import_job_create,
    import_job_resume,
    import_job_run,
)
from crm.models import ImportJob, ImportStatus
from crm.selectors import import_job_errors


class _Upload(File):
    """A local file shaped like an upload for the service (name, size, file)."""

    def __init__(self, path: str):
        super().__init__(open(path, "rb"), name=os.path.basename(path))  # noqa: SIM115


class Command(BaseCommand):
    help = "Import contacts (or advisors) from a CSV, JSON or JSON Lines file."

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="path of the CSV/JSON/JSONL file")
        parser.add_argument("--dry-run", action="store_true", help="check and count only")
        parser.add_argument("--advisors", action="store_true", help="rows are advisors")
        parser.add_argument("--resume", type=int, metavar="JOB_ID", help="continue a job")
        parser.add_argument(
            "--background", action="store_true", help="queue it for a Celery worker"
        )
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, file=None, dry_run=False, advisors=False, resume=None,
               background=False, json=False, **options):  # fmt: skip
        if bool(file) == bool(resume):
            raise CommandError("Give a FILE, or --resume JOB_ID.")
        try:
            if resume:
                job = ImportJob.objects.get(pk=resume)
                if job.status != ImportStatus.PENDING:
                    job = import_job_resume(job=job, enqueue=background)
            else:
                if not os.path.isfile(file):
                    raise CommandError(f"No such file: {file}")
                upload = _Upload(file)
                try:
                    job = import_job_create(
                        upload=upload, dry_run=dry_run, as_advisors=advisors,
                        enqueue=background,
                    )  # fmt: skip
                finally:
                    upload.close()
        except ImportJob.DoesNotExist:
            raise CommandError(f"No import job {resume}.") from None
        except DomainError as exc:
            raise CommandError(exc.message) from None
        if background:
            self.stdout.write(f"Queued import job #{job.pk}.")
            return
        started = time.monotonic()
        ran = import_job_run(job_id=job.pk)
        elapsed = time.monotonic() - started
        job.refresh_from_db()
        if ran is None and job.status != ImportStatus.COMPLETED:
            raise CommandError(f"Import job #{job.pk} is being run by another worker.")
        self._report(job, elapsed, as_json=json)
        if job.status == ImportStatus.FAILED:
            raise CommandError(f"Import job #{job.pk} failed: {job.message}")

    def _report(self, job: ImportJob, elapsed: float, *, as_json: bool) -> None:
        summary = {
            "job": job.pk, "status": job.status, "dry_run": job.dry_run,
            "rows": job.processed_rows, "created": job.created_count,
            "updated": job.updated_count, "unchanged": job.skipped_count,
            "errors": job.error_count, "seconds": round(elapsed, 3),
            "rows_per_second": round(job.processed_rows / elapsed) if elapsed else None,
        }  # fmt: skip
        if as_json:
            self.stdout.write(json.dumps(summary))
            return
        kind = "Dry run" if job.dry_run else "Import"
        verb = "would create" if job.dry_run else "created"
        self.stdout.write(
            f"{kind} #{job.pk} {job.get_status_display().lower()}: {job.processed_rows} rows, "
            f"{verb} {job.created_count}, updated {job.updated_count}, unchanged "
            f"{job.skipped_count}, errors {job.error_count} ({elapsed:.1f}s)."
        )
        for error in import_job_errors(job)[:10]:
            self.stdout.write(f"  line {error.line}: {error.reason} {error.value!r}")
        if job.error_count > 10:
            self.stdout.write(f"  ... and more: GET /api/v1/imports/{job.pk}/errors.csv")
