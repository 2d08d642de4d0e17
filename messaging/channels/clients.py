"""The provider for a `Channel`: the one place where a channel's settings become a client."""

from __future__ import annotations

from django.conf import settings

from messaging.providers import Provider, build_provider


def provider_for_channel(channel) -> Provider:
    """A provider client configured for `channel` (secrets read from the named settings)."""
    if channel.provider == "meta_cloud":
        return build_provider(
            "meta_cloud",
            phone_number_id=channel.phone_number_id,
            waba_id=channel.waba_id,
            access_token=channel.secret(channel.token_setting),
            app_secret=channel.secret(channel.app_secret_setting),
            graph_url=channel.base_url or settings.WHATSAPP_GRAPH_URL,
            api_version=settings.WHATSAPP_API_VERSION,
            timeout=(settings.PROVIDER_CONNECT_TIMEOUT, settings.PROVIDER_READ_TIMEOUT),
        )
    if channel.provider == "myoperator":
        kwargs = {}
        if channel.base_url:
            kwargs["base_url"] = channel.base_url
        return build_provider(
            "myoperator",
            api_key=channel.secret(channel.token_setting),
            company_id=channel.secret(channel.company_id_setting or "MYOPERATOR_COMPANY_ID"),
            phone_number_id=channel.phone_number_id,
            waba_id=channel.waba_id,
            webhook_token=channel.secret("MYOPERATOR_WEBHOOK_TOKEN") or None,
            timeout=(settings.PROVIDER_CONNECT_TIMEOUT, settings.PROVIDER_READ_TIMEOUT),
            **kwargs,
        )
    raise ValueError(f"channel {channel.pk} has unknown provider {channel.provider!r}")
