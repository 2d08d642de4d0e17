"""MyOperator's WhatsApp API (publicapi.myoperator.co), an Indian Business Solution Provider."""

from .client import (
    DEFAULT_BASE_URL,
    SIGNATURE_HEADER,
    TOKEN_HEADER,
    MyOperatorProvider,
    split_number,
    template_context,
)
from .webhooks import parse_webhook

__all__ = [
    "DEFAULT_BASE_URL",
    "SIGNATURE_HEADER",
    "TOKEN_HEADER",
    "MyOperatorProvider",
    "parse_webhook",
    "split_number",
    "template_context",
]
