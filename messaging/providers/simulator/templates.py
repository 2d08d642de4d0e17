"""The simulator's built-in template library, in Graph's `message_templates` item shape.

A believable account: utility notifications (positional and named parameters), marketing
with image headers and quick-reply buttons (sent with payloads such as `UNLOCK_CONTENT`),
an authentication code, and templates that are PENDING, REJECTED, PAUSED and DISABLED so the
sync and the send guards meet every state. Each carries Meta's `quality_score` as Graph lists
it: approved templates are mostly GREEN, one is YELLOW (a win-back offer people block more
often), the paused one RED (Meta pauses a template whose quality fell), and templates Meta
has not rated (pending, rejected, disabled) UNKNOWN.
"""

from __future__ import annotations

import copy
from typing import Any

_SAMPLE_IMAGE = "https://scontent.whatsapp.net/v/t61.29466-34/sample-header.png"

DEFAULT_TEMPLATES: list[dict[str, Any]] = [
    {
        "id": "1100000000000001",
        "name": "hello_world",
        "language": "en_US",
        "status": "APPROVED",
        "category": "UTILITY",
        "parameter_format": "POSITIONAL",
        "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Hello World"},
            {
                "type": "BODY",
                "text": "Welcome and congratulations!! This message demonstrates your ability "
                "to send a WhatsApp message notification from the Cloud API, hosted by Meta. "
                "Thank you for taking the time to test with us.",
            },
            {"type": "FOOTER", "text": "WhatsApp Business Platform sample message"},
        ],
    },
    {
        "id": "1100000000000002",
        "name": "order_confirmation",
        "language": "en",
        "status": "APPROVED",
        "category": "UTILITY",
        "parameter_format": "POSITIONAL",
        "components": [
            {
                "type": "HEADER",
                "format": "TEXT",
                "text": "Order {{1}} confirmed",
                "example": {"header_text": ["#40321"]},
            },
            {
                "type": "BODY",
                "text": "Hi {{1}}, thank you for your order {{2}} of {{3}}. "
                "It will reach you by {{4}}.",
                "example": {"body_text": [["Asha", "#40321", "₹1,499.00", "Friday 14 March"]]},
            },
            {"type": "FOOTER", "text": "Reply HELP for support"},
            {
                "type": "BUTTONS",
                "buttons": [
                    {
                        "type": "URL",
                        "text": "Track order",
                        "url": "https://shop.example.com/track/{{1}}",
                        "example": ["https://shop.example.com/track/40321"],
                    }
                ],
            },
        ],
    },
    {
        "id": "1100000000000003",
        "name": "order_confirmation",
        "language": "hi",
        "status": "APPROVED",
        "category": "UTILITY",
        "parameter_format": "POSITIONAL",
        "components": [
            {
                "type": "HEADER",
                "format": "TEXT",
                "text": "ऑर्डर {{1}} की पुष्टि हुई",
                "example": {"header_text": ["#40321"]},
            },
            {
                "type": "BODY",
                "text": "नमस्ते {{1}}, आपके ऑर्डर {{2}} ({{3}}) के लिए धन्यवाद। यह {{4}} तक पहुँच जाएगा।",
                "example": {"body_text": [["आशा", "#40321", "₹1,499.00", "शुक्रवार 14 मार्च"]]},
            },
        ],
    },
    {
        "id": "1100000000000004",
        "name": "payment_received",
        "language": "en",
        "status": "APPROVED",
        "category": "UTILITY",
        "parameter_format": "NAMED",
        "components": [
            {
                "type": "BODY",
                "text": "Hi {{customer_name}}, we received your payment of {{amount}} on "
                "{{paid_on}}. Reference: {{reference}}.",
                "example": {
                    "body_text_named_params": [
                        {"param_name": "customer_name", "example": "Asha"},
                        {"param_name": "amount", "example": "₹1,499.00"},
                        {"param_name": "paid_on", "example": "12 March 2026"},
                        {"param_name": "reference", "example": "PAY-77812"},
                    ]
                },
            }
        ],
    },
    {
        "id": "1100000000000005",
        "name": "delivery_delayed",
        "language": "en",
        "status": "APPROVED",
        "category": "UTILITY",
        "parameter_format": "POSITIONAL",
        "components": [
            {
                "type": "BODY",
                "text": "Sorry {{1}}, your order {{2}} is running late. "
                "The new delivery date is {{3}}.",
                "example": {"body_text": [["Asha", "#40321", "Monday 17 March"]]},
            },
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "QUICK_REPLY", "text": "That works"},
                    {"type": "QUICK_REPLY", "text": "Call me"},
                ],
            },
        ],
    },
    {
        "id": "1100000000000006",
        "name": "daily_market_insight",
        "language": "en",
        "status": "APPROVED",
        "category": "MARKETING",
        "parameter_format": "POSITIONAL",
        "components": [
            {
                "type": "HEADER",
                "format": "IMAGE",
                "example": {"header_handle": [_SAMPLE_IMAGE]},
            },
            {
                "type": "BODY",
                "text": "Good morning {{1}}! Today's insight: {{2}}. "
                "Tap below to unlock the full report.",
                "example": {"body_text": [["Ravi", "Mid-caps rallied 2.1% on strong earnings"]]},
            },
            {"type": "FOOTER", "text": "Tap Stop promotions to opt out"},
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "QUICK_REPLY", "text": "Unlock full report"},
                    {"type": "QUICK_REPLY", "text": "Stop promotions"},
                ],
            },
        ],
    },
    {
        "id": "1100000000000007",
        "name": "festive_offer",
        "language": "en",
        "status": "APPROVED",
        "category": "MARKETING",
        "parameter_format": "NAMED",
        "components": [
            {
                "type": "HEADER",
                "format": "TEXT",
                "text": "{{offer_name}} is here",
                "example": {
                    "header_text_named_params": [
                        {"param_name": "offer_name", "example": "Diwali Sale"}
                    ]
                },
            },
            {
                "type": "BODY",
                "text": "Hi {{first_name}}, enjoy {{discount}} off everything until "
                "{{valid_until}}.",
                "example": {
                    "body_text_named_params": [
                        {"param_name": "first_name", "example": "Meera"},
                        {"param_name": "discount", "example": "20%"},
                        {"param_name": "valid_until", "example": "2 November"},
                    ]
                },
            },
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "QUICK_REPLY", "text": "Shop now"},
                    {"type": "QUICK_REPLY", "text": "Stop promotions"},
                ],
            },
        ],
    },
    {
        "id": "1100000000000008",
        "name": "login_code",
        "language": "en",
        "status": "APPROVED",
        "category": "AUTHENTICATION",
        "parameter_format": "POSITIONAL",
        "components": [
            {
                "type": "BODY",
                "text": "*{{1}}* is your verification code. For your security, do not share "
                "this code.",
                "add_security_recommendation": True,
                "example": {"body_text": [["482913"]]},
            },
            {
                "type": "FOOTER",
                "text": "This code expires in 10 minutes.",
                "code_expiration_minutes": 10,
            },
            {
                "type": "BUTTONS",
                "buttons": [
                    {
                        "type": "URL",
                        "text": "Copy code",
                        "url": "https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code={{1}}",
                        "example": [
                            "https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code=482913"
                        ],
                    }
                ],
            },
        ],
    },
    {
        "id": "1100000000000009",
        "name": "weekly_portfolio_digest",
        "language": "hi",
        "status": "PENDING",
        "category": "MARKETING",
        "parameter_format": "POSITIONAL",
        "components": [
            {
                "type": "BODY",
                "text": "नमस्ते {{1}}, इस हफ़्ते आपके पोर्टफोलियो में {{2}} का बदलाव हुआ।",
                "example": {"body_text": [["रवि", "+3.4%"]]},
            }
        ],
    },
    {
        "id": "1100000000000010",
        "name": "flash_sale_blast",
        "language": "en",
        "status": "REJECTED",
        "category": "MARKETING",
        "parameter_format": "POSITIONAL",
        "rejected_reason": "PROMOTIONAL",
        "components": [
            {
                "type": "BODY",
                "text": "LAST CHANCE!!! {{1}} everything must go, buy now buy now!",
                "example": {"body_text": [["90% off"]]},
            }
        ],
    },
    {
        "id": "1100000000000011",
        "name": "advisor_content_drop",
        "language": "en",
        "status": "PAUSED",
        "category": "MARKETING",
        "parameter_format": "POSITIONAL",
        "components": [
            {
                "type": "BODY",
                "text": "Hi {{1}}, new content for your clients is ready: {{2}}.",
                "example": {"body_text": [["Ravi", "Tax-saving funds explained"]]},
            },
            {
                "type": "BUTTONS",
                "buttons": [{"type": "QUICK_REPLY", "text": "Unlock content"}],
            },
        ],
    },
    {
        "id": "1100000000000012",
        "name": "account_statement_ready",
        "language": "en",
        "status": "DISABLED",
        "category": "UTILITY",
        "parameter_format": "POSITIONAL",
        "components": [
            {
                "type": "HEADER",
                "format": "DOCUMENT",
                "example": {"header_handle": ["https://example.com/statement.pdf"]},
            },
            {
                "type": "BODY",
                "text": "Hi {{1}}, your statement for {{2}} is attached.",
                "example": {"body_text": [["Asha", "February"]]},
            },
        ],
    },
    # --- Transactional notifications (one per event type) and advisor content ---------------
    {
        "id": "1100000000000013",
        "name": "delivery_reminder",
        "language": "en",
        "status": "APPROVED",
        "category": "UTILITY",
        "parameter_format": "POSITIONAL",
        "components": [
            {
                "type": "BODY",
                "text": "Hi {{1}}, your order {{2}} arrives {{3}} between {{4}}. "
                "Please keep someone available to receive it.",
                "example": {"body_text": [["Asha", "#40321", "tomorrow", "10am and 1pm"]]},
            },
            {"type": "FOOTER", "text": "Reply HELP for support"},
        ],
    },
    {
        "id": "1100000000000014",
        "name": "delivery_confirmed",
        "language": "en",
        "status": "APPROVED",
        "category": "UTILITY",
        "parameter_format": "POSITIONAL",
        "components": [
            {
                "type": "BODY",
                "text": "Hi {{1}}, your order {{2}} was delivered on {{3}}. We hope you enjoy it!",
                "example": {"body_text": [["Asha", "#40321", "Friday 14 March"]]},
            },
        ],
    },
    {
        "id": "1100000000000015",
        "name": "payment_reminder",
        "language": "en",
        "status": "APPROVED",
        "category": "UTILITY",
        "parameter_format": "POSITIONAL",
        "components": [
            {
                "type": "BODY",
                "text": "Hi {{1}}, a payment of {{2}} for invoice {{3}} is due on {{4}}. "
                "Please pay by then to avoid any interruption.",
                "example": {"body_text": [["Asha", "₹2,400.00", "INV-2291", "20 March"]]},
            },
            {"type": "FOOTER", "text": "Ignore this if you have already paid"},
        ],
    },
    {
        "id": "1100000000000016",
        "name": "subscription_confirmation",
        "language": "en",
        "status": "APPROVED",
        "category": "UTILITY",
        "parameter_format": "POSITIONAL",
        "components": [
            {
                "type": "BODY",
                "text": "Hi {{1}}, your {{2}} subscription is active. It renews on {{3}}.",
                "example": {"body_text": [["Asha", "Monthly Essentials", "14 April"]]},
            },
        ],
    },
    {
        "id": "1100000000000017",
        "name": "subscription_paused",
        "language": "en",
        "status": "APPROVED",
        "category": "UTILITY",
        "parameter_format": "POSITIONAL",
        "components": [
            {
                "type": "BODY",
                "text": "Hi {{1}}, your {{2}} subscription is paused until {{3}}. "
                "Reply RESUME to restart it sooner.",
                "example": {"body_text": [["Asha", "Monthly Essentials", "1 May"]]},
            },
        ],
    },
    {
        "id": "1100000000000018",
        "name": "new_product",
        "language": "en",
        "status": "APPROVED",
        "category": "MARKETING",
        "parameter_format": "POSITIONAL",
        "components": [
            {
                "type": "BODY",
                "text": "Hi {{1}}, meet {{2}}: {{3}}. It is available now.",
                "example": {"body_text": [["Asha", "Cold Brew Kit", "smooth coffee in 12 hours"]]},
            },
            {"type": "FOOTER", "text": "Reply STOP to opt out"},
        ],
    },
    {
        "id": "1100000000000019",
        "name": "we_miss_you",
        "language": "en",
        "status": "APPROVED",
        "category": "MARKETING",
        "parameter_format": "POSITIONAL",
        "components": [
            {
                "type": "BODY",
                "text": "Hi {{1}}, we miss you! Here is {{2}} off your next order with the "
                "code {{3}}.",
                "example": {"body_text": [["Asha", "15%", "COMEBACK15"]]},
            },
            {"type": "FOOTER", "text": "Reply STOP to opt out"},
        ],
    },
    {
        "id": "1100000000000020",
        "name": "advisor_content_ready",
        "language": "en",
        "status": "APPROVED",
        "category": "UTILITY",
        "parameter_format": "POSITIONAL",
        "components": [
            {
                "type": "BODY",
                "text": "Hi {{1}}, today's content for your clients is ready: {{2}}. "
                "Tap a button to get it.",
                "example": {"body_text": [["Ravi", "Tax-saving funds explained"]]},
            },
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "QUICK_REPLY", "text": "Unlock content"},
                    {"type": "QUICK_REPLY", "text": "Get images"},
                    {"type": "QUICK_REPLY", "text": "Share with clients"},
                ],
            },
        ],
    },
]


# Meta's quality ratings that differ from the status's usual one (APPROVED -> GREEN).
_QUALITY_BY_NAME = {"we_miss_you": "YELLOW"}
_QUALITY_BY_STATUS = {"APPROVED": "GREEN", "PAUSED": "RED"}
_QUALITY_RATED_AT = 1767225600  # 2026-01-01T00:00:00Z: Graph gives the rating's date in seconds


def _with_quality(template: dict[str, Any]) -> dict[str, Any]:
    score = _QUALITY_BY_NAME.get(template["name"]) or _QUALITY_BY_STATUS.get(
        template["status"], "UNKNOWN"
    )
    return {**template, "quality_score": {"score": score, "date": _QUALITY_RATED_AT}}


DEFAULT_TEMPLATES[:] = [_with_quality(t) for t in DEFAULT_TEMPLATES]


def default_templates() -> list[dict[str, Any]]:
    return copy.deepcopy(DEFAULT_TEMPLATES)
