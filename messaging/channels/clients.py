"""The provider for a `Channel`: the one place where a channel's settings become a client."""

from __future__ import annotations

from messaging.channels.secrets import channel_config_problems
from messaging.providers import Provider, provider_type
from messaging.providers.base import AuthError


class ChannelMisconfigured(AuthError):
    """The channel names a secret setting that is not allowed, or its base URL fails the SSRF
    guard: no request leaves with it. An AuthError, so dispatch pauses the channel with this
    message as the reason and its messages wait until an Admin fixes it."""


def provider_for_channel(channel) -> Provider:
    """A provider client configured for `channel` (secrets read from the named settings);
    how depends on the channel's provider type (`messaging.providers.registry`).

    Raises ChannelMisconfigured rather than hand a bad name's value or a private URL to a
    client: the check runs at every use, so a row written around validation (or before the
    rule) cannot leak a setting or reach an internal host."""
    problems = channel_config_problems(channel)
    if problems:
        raise ChannelMisconfigured(
            f"Channel {channel.name} is misconfigured and will not be used: "
            + "; ".join(p.rstrip(".") for p in problems)
            + ". Fix it in the admin, then resume the channel."
        )
    return provider_type(channel.provider).client_for(channel)
