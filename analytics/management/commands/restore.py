from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from analytics.ops.backup import RESTORE_METHODS, RestoreError, backup_restore
from core.audit import audit_record
from core.models import AuditAction


class Command(BaseCommand):
    help = (
        "Restore a backup archive into this database. Run `migrate` first; the database must "
        "hold no data unless --force, which replaces everything in it. Atomic: the database "
        "ends up as the backup, or on any failure (or a killed process) exactly as it was."
    )

    def add_arguments(self, parser):
        parser.add_argument("archive", help="path of a parley-backup-*.tar.gz")
        parser.add_argument(
            "--force", action="store_true", help="replace a database that holds data"
        )
        parser.add_argument(
            "--method",
            choices=RESTORE_METHODS,
            default="auto",
            help="postgresql: load the archive's pg_dump into a new schema swapped in by one "
            "transaction; portable: load the JSON Lines in one transaction; auto (default): "
            "postgresql when the database and the archive allow it",
        )
        parser.add_argument("--no-media", action="store_true", help="leave MEDIA_ROOT as it is")

    def handle(self, *args, archive, force, method, no_media, **options):
        name = Path(archive).name
        try:
            counts = backup_restore(
                archive=archive,
                force=force,
                method=method,
                media=not no_media,
                log=self.stdout.write,
            )
        except RestoreError as exc:
            audit_record(
                AuditAction.RESTORE,
                details={"archive": name, "ok": False, "error": exc.message[:500]},
            )
            raise CommandError(exc.message) from exc
        # Written after the restore: the audit table itself was just restored from the archive.
        audit_record(
            AuditAction.RESTORE,
            details={"archive": name, "ok": True, "rows": sum(counts.values()), "force": force},
        )
        self.stdout.write(self.style.SUCCESS(f"restored {sum(counts.values())} rows"))
