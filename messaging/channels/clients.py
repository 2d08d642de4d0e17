"""The provider for a `Channel`: the one place where a channel's settings become a client."""

from __future__ import annotations

from messaging.providers import Provider, provider_type


def provider_for_channel(channel) -> Provider:
    """A provider client configured for `channel` (secrets read from the named settings);
    how depends on the channel's provider type (`messaging.providers.registry`)."""
    return provider_type(channel.provider).client_for(channel)
