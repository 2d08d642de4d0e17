"""MyOperator's WhatsApp API (publicapi.myoperator.co), an Indian Business Solution Provider."""

from .client import (
    DEFAULT_BASE_URL,
    SIGNATURE_HEADER,
    TOKEN_HEADER,
    MyOperatorProvider,
    signature_matches,
    split_number,
    template_context,
    token_matches,
)
from .webhooks import parse_webhook

__all__ = [
    "DEFAULT_BASE_URL",
    "SIGNATURE_HEADER",
    "TOKEN_HEADER",
    "MyOperatorProvider",
    "parse_webhook",
    "signature_matches",
    "split_number",
    "template_context",
    "token_matches",
]
