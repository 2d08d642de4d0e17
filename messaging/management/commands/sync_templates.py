from django.core.management.base import BaseCommand, CommandError

from messaging.channels.selectors import ChannelUnknown, channel_for, channels_active
from messaging.channels.templates import templates_sync


class Command(BaseCommand):
    help = "Pull message templates from the provider for every active channel (or one)."

    def add_arguments(self, parser):
        parser.add_argument("--channel", help="phone_number_id of one channel")

    def handle(self, *args, channel=None, **options):
        channels = channels_active()
        if channel:
            try:
                channels = [channel_for(phone_number_id=channel)]
            except ChannelUnknown as exc:
                raise CommandError(exc.message) from exc
        failed = False
        for ch in channels:
            result = templates_sync(channel=ch)
            failed |= bool(result.errors)
            self.stdout.write(f"{ch.name}: {result.summary()}")
        if failed:
            raise CommandError("template sync failed for at least one channel")
