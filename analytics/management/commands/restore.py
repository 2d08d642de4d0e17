from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from analytics.ops.backup import RestoreError, backup_restore
from core.audit import audit_record
from core.models import AuditAction


class Command(BaseCommand):
    help = (
        "Restore a backup archive into this database. Run `migrate` first; the database must "
        "hold no data unless --force, which deletes everything in it before loading."
    )

    def add_arguments(self, parser):
        parser.add_argument("archive", help="path of a parley-backup-*.tar.gz")
        parser.add_argument(
            "--force", action="store_true", help="flush a database that holds data, then restore"
        )

    def handle(self, *args, archive, force, **options):
        name = Path(archive).name
        try:
            counts = backup_restore(archive=archive, force=force, log=self.stdout.write)
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
