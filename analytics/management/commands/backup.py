from django.core.management.base import BaseCommand, CommandError

from analytics.models import JobState
from analytics.ops.backup import backup_create
from analytics.ops.jobs import JobAlreadyRunning, job_run_now
from core.audit import audit_record
from core.models import AuditAction


class Command(BaseCommand):
    help = (
        "Write a backup archive of every Parley table (JSON Lines + manifest with checksums, "
        "plus pg_dump on PostgreSQL) to BACKUP_DIR or --output, and print its path."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", help="directory for the archive (default BACKUP_DIR)")
        parser.add_argument(
            "--no-pg-dump", action="store_true", help="skip the pg_dump file on PostgreSQL"
        )

    def handle(self, *args, output=None, no_pg_dump=False, **options):
        if output or no_pg_dump:
            # A custom destination is a one-off copy: not recorded as a job run.
            path = backup_create(output_dir=output, log=self.stdout.write, pg_dump=not no_pg_dump)
            audit_record(
                AuditAction.BACKUP,
                details={"archive": path.name, "bytes": path.stat().st_size, "via": "command"},
            )
            self.stdout.write(str(path))
            return
        try:
            run = job_run_now(name="backup", echo=self.stdout.write)
        except JobAlreadyRunning as exc:
            raise CommandError(exc.message) from exc
        if run.state != JobState.SUCCEEDED:
            raise CommandError(f"backup failed: {run.error}")
