from django.core.management.base import BaseCommand, CommandError

from analytics.models import JobState
from analytics.ops.jobs import JobAlreadyRunning, job_run_now


class Command(BaseCommand):
    help = (
        "Delete data past its retention (WEBHOOK_RETENTION_DAYS, HEALTH_SAMPLE_RETENTION_DAYS, "
        "JOB_RETENTION_DAYS, APP_ERROR_RETENTION_DAYS); the same job beat runs nightly."
    )

    def handle(self, *args, **options):
        try:
            run = job_run_now(name="purge_data", echo=self.stdout.write)
        except JobAlreadyRunning as exc:
            raise CommandError(exc.message) from exc
        if run.state != JobState.SUCCEEDED:
            raise CommandError(f"purge failed: {run.error}")
        self.stdout.write(self.style.SUCCESS(f"purged: {run.counts}"))
