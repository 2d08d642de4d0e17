"""WhatsApp providers: the interface (`base`), Meta's Cloud API, MyOperator and the simulator.

Provider classes take plain keyword arguments so they work (and are tested) without Django.
The provider types of `registry` are the one place that reads `django.conf.settings`.
"""

from __future__ import annotations

from .base import (
    AmbiguousError,
    AuthError,
    InboundMessage,
    InvalidMessage,
    MediaContent,
    MessageDeletion,
    MessageEdit,
    NumberHealth,
    NumberHealthUpdate,
    OutboundMessage,
    PermanentError,
    Provider,
    ProviderError,
    SendResult,
    StatusUpdate,
    TemplateCategoryUpdate,
    TemplateInfo,
    TemplateQualityUpdate,
    TemplateStatusUpdate,
    TemplateSubmission,
    TemporaryError,
    UnhandledChange,
    UnsupportedOperation,
    UserPreference,
    WebhookError,
    WebhookEvent,
    parse_template_parameters,
    validate_outbound,
)
from .registry import (
    ProviderType,
    UnknownProvider,
    build_provider,
    provider_class,
    provider_codes,
    provider_from_settings,
    provider_type,
    provider_types,
)

PROVIDER_CODES = provider_codes()


__all__ = [
    "PROVIDER_CODES",
    "AmbiguousError",
    "AuthError",
    "InboundMessage",
    "InvalidMessage",
    "MediaContent",
    "MessageDeletion",
    "MessageEdit",
    "NumberHealth",
    "NumberHealthUpdate",
    "OutboundMessage",
    "PermanentError",
    "Provider",
    "ProviderError",
    "ProviderType",
    "SendResult",
    "StatusUpdate",
    "TemplateCategoryUpdate",
    "TemplateInfo",
    "TemplateQualityUpdate",
    "TemplateStatusUpdate",
    "TemplateSubmission",
    "TemporaryError",
    "UnhandledChange",
    "UnknownProvider",
    "UnsupportedOperation",
    "UserPreference",
    "WebhookError",
    "WebhookEvent",
    "build_provider",
    "parse_template_parameters",
    "provider_class",
    "provider_codes",
    "provider_from_settings",
    "provider_type",
    "provider_types",
    "validate_outbound",
]
