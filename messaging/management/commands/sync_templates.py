from messaging.channels.templates import templates_sync
from messaging.management.channel_command import PerChannelCommand


class Command(PerChannelCommand):
    help = "Pull message templates from the provider for every active channel (or one)."

    failure = "template sync failed for at least one channel"

    def sync(self, *, channel):
        return templates_sync(channel=channel)
