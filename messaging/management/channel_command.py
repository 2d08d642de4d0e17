"""A management command that runs one sync for every active channel, or the one named."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from messaging.channels.models import Channel
from messaging.channels.selectors import ChannelUnknown, channel_for, channels_active


class PerChannelCommand(BaseCommand):
    """Subclasses say what to run for one channel (`sync`, returning a result with `errors`
    and `summary()`) and what to say when any channel failed (`failure`)."""

    failure = "failed for at least one channel"

    def sync(self, *, channel: Channel) -> Any:
        raise NotImplementedError

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
        for each in channels:
            result = self.sync(channel=each)
            failed |= bool(result.errors)
            self.stdout.write(f"{each.name}: {result.summary()}")
        if failed:
            raise CommandError(self.failure)
