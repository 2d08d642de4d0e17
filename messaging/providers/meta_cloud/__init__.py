"""Meta's WhatsApp Cloud API (graph.facebook.com), and the simulator that imitates it."""

from .client import DEFAULT_API_VERSION, DEFAULT_GRAPH_URL, MetaCloudProvider
from .errors import classify, error_from_response
from .payloads import mark_read_body, message_body
from .webhooks import (
    SIGNATURE_HEADER,
    parse_webhook,
    signature_for,
    subscription_challenge,
    verify_signature,
)

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_GRAPH_URL",
    "SIGNATURE_HEADER",
    "MetaCloudProvider",
    "classify",
    "error_from_response",
    "mark_read_body",
    "message_body",
    "parse_webhook",
    "signature_for",
    "subscription_challenge",
    "verify_signature",
]
