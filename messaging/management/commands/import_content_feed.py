"""Fetch the content feed now and create drafts for its new entries."""

from django.core.management.base import BaseCommand

from messaging.content.feed import content_feed_import


class Command(BaseCommand):
    help = "Import CONTENT_FEED_URL (or --url): new entries become content drafts (by guid)."

    def add_arguments(self, parser):
        parser.add_argument("--url", help="a feed URL instead of CONTENT_FEED_URL")

    def handle(self, *args, url=None, **options):
        result = content_feed_import(url=url)
        self.stdout.write(f"{result.created} created, {result.skipped} skipped")
        for error in result.errors:
            self.stderr.write(error)
        if not url and not result.created and not result.errors and not result.skipped:
            self.stdout.write("CONTENT_FEED_URL is empty: nothing to import.")
