from django.core.management.base import BaseCommand, CommandError

from analytics.ops.backup import RestoreError, backup_restore


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
        try:
            counts = backup_restore(archive=archive, force=force, log=self.stdout.write)
        except RestoreError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(f"restored {sum(counts.values())} rows"))
