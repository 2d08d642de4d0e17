from messaging.channels.services import channel_health_sync
from messaging.management.channel_command import PerChannelCommand


class Command(PerChannelCommand):
    help = (
        "Read each active number's quality rating, messaging limit and status from the "
        "provider (Graph API) and record them (or one number's)."
    )

    failure = "number health could not be read for at least one channel"

    def sync(self, *, channel):
        return channel_health_sync(channel=channel)
