"""Announce the day's approved content to advisors now (what the daily beat does)."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from messaging.content.distribution import content_distribute
from messaging.content.schedules import content_schedules_ensure


class Command(BaseCommand):
    help = (
        "Send the approved (or scheduled) content due on a day to its active advisors. "
        "Safe to repeat: nobody gets an item twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", help="YYYY-MM-DD (default: today in CONTENT_TIME_ZONE)")
        parser.add_argument(
            "--reschedule",
            action="store_true",
            help="Re-apply CONTENT_DISTRIBUTION_TIME and CONTENT_TIME_ZONE to the beat schedule "
            "and stop.",
        )

    def handle(self, *args, date=None, reschedule=False, **options):
        if reschedule:
            from django.apps import apps

            content_schedules_ensure(apps)
            self.stdout.write("Content schedules updated from the settings.")
            return
        day = None
        if date:
            try:
                day = _parse(date)
            except ValueError as exc:
                raise CommandError(f"--date must be YYYY-MM-DD: {exc}") from exc
        result = content_distribute(day=day)
        self.stdout.write(result.summary())


def _parse(value: str) -> date:
    return date.fromisoformat(value)
