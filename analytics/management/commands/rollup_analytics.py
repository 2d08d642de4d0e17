"""`manage.py rollup_analytics [--date D | --since D] [--nightly] [--customers] [--dry-run]`.

Runs the `rollup_analytics` job in this process, so the run is recorded in the operations
centre (Jobs, "last rollup") and never overlaps a scheduled run. `--dry-run` computes and
prints without writing (and without a job record).
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date

from analytics.ops.jobs import JobAlreadyRunning, job_run_now
from analytics.registry import ROLLUP_JOB
from analytics.services.rollups import RollupBusy, analytics_rollup, rollup_since


def _date(raw: str):
    day = parse_date(raw)
    if day is None:
        raise CommandError(f"not a date: {raw!r} (use YYYY-MM-DD)")
    return day


class Command(BaseCommand):
    help = "Recompute analytics rollups (default: today and the days that changed)."

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--date", type=_date, help="recompute this day only")
        which.add_argument("--since", type=_date, help="recompute every day since this one")
        parser.add_argument(
            "--nightly", action="store_true", help="also every recent day and customer metrics"
        )
        parser.add_argument("--customers", action="store_true", help="rebuild customer metrics")
        parser.add_argument("--dry-run", action="store_true", help="compute, write nothing")

    def handle(
        self, *args, date=None, since=None, nightly=False, customers=False, dry_run=False, **options
    ):
        if dry_run:
            return self._dry_run(date, since, nightly, customers)
        arguments = {"mode": "nightly" if nightly else "incremental"}
        if date:
            arguments["day"] = date
        if since:
            arguments["since"] = since
        if customers:
            arguments["customers"] = True
        try:
            run = job_run_now(name=ROLLUP_JOB, arguments=arguments, echo=self.stdout.write)
        except JobAlreadyRunning as exc:
            raise CommandError(exc.message) from exc
        if run.state != "succeeded":
            raise CommandError(run.error or f"the rollup ended {run.state}")

    def _dry_run(self, date, since, nightly, customers):

        days = [date] if date else (rollup_since(since) if since else None)
        try:
            result = analytics_rollup(
                days=days,
                mode="nightly" if nightly else "incremental",
                customers=True if customers else None,
                dry_run=True,
                log=self.stdout.write,
            )
        except RollupBusy as exc:
            raise CommandError(exc.message) from exc
        for day, total in result.preview.items():
            self.stdout.write(
                f"{day}: sent {total['sent']}, delivered {total['delivered']}, read "
                f"{total['read']}, failed {total['failed']}, inbound {total['inbound']}, "
                f"conversions {total['conversions']}, revenue {total['revenue']}, cost "
                f"{total['cost']}"
            )
        self.stdout.write(f"dry run: {result.counts()}")
