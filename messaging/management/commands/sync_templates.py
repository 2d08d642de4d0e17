from django.core.management.base import BaseCommand, CommandError

from messaging.channels.templates import templates_sync
from messaging.models import Channel


class Command(BaseCommand):
    help = "Pull message templates from the provider for every active channel (or one)."

    def add_arguments(self, parser):
        parser.add_argument("--channel", help="phone_number_id of one channel")

    def handle(self, *args, channel=None, **options):
        channels = Channel.objects.filter(is_active=True)
        if channel:
            channels = channels.filter(phone_number_id=channel)
            if not channels:
                raise CommandError(f"no active channel with phone_number_id {channel}")
        failed = False
        for ch in channels:
            result = templates_sync(channel=ch)
            failed |= bool(result.errors)
            self.stdout.write(f"{ch.name}: {result.summary()}")
        if failed:
            raise CommandError("template sync failed for at least one channel")
