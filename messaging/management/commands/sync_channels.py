from django.core.management.base import BaseCommand, CommandError

from messaging.channels.selectors import ChannelUnknown, channel_for, channels_active
from messaging.channels.services import channel_health_sync


class Command(BaseCommand):
    help = (
        "Read each active number's quality rating, messaging limit and status from the "
        "provider (Graph API) and record them (or one number's)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--channel", help="phone_number_id of one channel")

    def handle(self, *args, channel=None, **options):
        channels = channels_active().order_by("pk")
        if channel:
            try:
                channels = [channel_for(phone_number_id=channel)]
            except ChannelUnknown as exc:
                raise CommandError(exc.message) from exc
        failed = False
        for ch in channels:
            result = channel_health_sync(channel=ch)
            failed |= bool(result.errors)
            self.stdout.write(f"{ch.name}: {result.summary()}")
        if failed:
            raise CommandError("number health could not be read for at least one channel")
