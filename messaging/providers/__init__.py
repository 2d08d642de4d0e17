"""WhatsApp providers: the interface (`base`), Meta's Cloud API, MyOperator and the simulator.

Provider classes take plain keyword arguments so they work (and are tested) without Django.
The factories below are the one place that reads `django.conf.settings`.
"""

from __future__ import annotations

from typing import Any

from .base import (
    AmbiguousError,
    AuthError,
    InboundMessage,
    InvalidMessage,
    MediaContent,
    OutboundMessage,
    PermanentError,
    Provider,
    ProviderError,
    SendResult,
    StatusUpdate,
    TemplateInfo,
    TemplateStatusUpdate,
    TemporaryError,
    UnhandledChange,
    UserPreference,
    WebhookError,
    WebhookEvent,
    parse_template_parameters,
    validate_outbound,
)

PROVIDER_CODES = ("meta_cloud", "myoperator")


def provider_class(code: str) -> type[Provider]:
    if code == "meta_cloud":
        from .meta_cloud import MetaCloudProvider

        return MetaCloudProvider
    if code == "myoperator":
        from .myoperator import MyOperatorProvider

        return MyOperatorProvider
    raise ValueError(f"unknown provider {code!r}; expected one of {PROVIDER_CODES}")


def build_provider(code: str, **kwargs: Any) -> Provider:
    """A provider from explicit configuration (a `Channel` row, a test)."""
    return provider_class(code)(**kwargs)


def provider_from_settings(code: str = "meta_cloud", **overrides: Any) -> Provider:
    """A provider configured from the `WHATSAPP_*` / `MYOPERATOR_*` settings; keyword
    arguments override individual values (a channel's own phone number id, say)."""
    from django.conf import settings

    if code == "meta_cloud":
        kwargs: dict[str, Any] = {
            "graph_url": getattr(settings, "WHATSAPP_GRAPH_URL", "https://graph.facebook.com"),
            "api_version": getattr(settings, "WHATSAPP_API_VERSION", "v25.0"),
            "access_token": getattr(settings, "WHATSAPP_API_TOKEN", ""),
            "app_secret": getattr(settings, "WHATSAPP_APP_SECRET", ""),
            "phone_number_id": getattr(settings, "WHATSAPP_PHONE_NUMBER_ID", ""),
            "waba_id": getattr(settings, "WHATSAPP_BUSINESS_ACCOUNT_ID", ""),
        }
    elif code == "myoperator":
        kwargs = {
            "api_key": getattr(settings, "MYOPERATOR_API_KEY", ""),
            "company_id": getattr(settings, "MYOPERATOR_COMPANY_ID", ""),
            "phone_number_id": getattr(settings, "WHATSAPP_PHONE_NUMBER_ID", ""),
            "waba_id": getattr(settings, "WHATSAPP_BUSINESS_ACCOUNT_ID", ""),
        }
    else:
        raise ValueError(f"unknown provider {code!r}; expected one of {PROVIDER_CODES}")
    kwargs.update(overrides)
    return build_provider(code, **kwargs)


__all__ = [
    "PROVIDER_CODES",
    "AmbiguousError",
    "AuthError",
    "InboundMessage",
    "InvalidMessage",
    "MediaContent",
    "OutboundMessage",
    "PermanentError",
    "Provider",
    "ProviderError",
    "SendResult",
    "StatusUpdate",
    "TemplateInfo",
    "TemplateStatusUpdate",
    "TemporaryError",
    "UnhandledChange",
    "UserPreference",
    "WebhookError",
    "WebhookEvent",
    "build_provider",
    "parse_template_parameters",
    "provider_class",
    "provider_from_settings",
    "validate_outbound",
]
