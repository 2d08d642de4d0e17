"""What WhatsApp's error codes mean, in words staff can act on (WHATSAPP.md section 2.8).

Used wherever failures are shown: campaign pages, the error log, analytics breakdowns.
"""

from __future__ import annotations

MEANINGS: dict[int, str] = {
    0: "Authentication failed: the access token is invalid",
    3: "The app lacks a capability for this call",
    4: "App-level API rate limit reached (retried with backoff)",
    10: "Permission missing for this call",
    190: "Access token expired or invalid",
    80007: "WhatsApp Business Account rate limit reached (retried)",
    130429: "Cloud API throughput reached (retried within seconds)",
    130472: "User is in a Meta marketing experiment group (not a real failure)",
    131000: "Something went wrong at Meta (retried a few times)",
    131005: "Access denied",
    131008: "A required parameter is missing",
    131009: "A parameter value is invalid",
    131016: "WhatsApp service temporarily unavailable (retried)",
    131021: "Recipient is the sender's own number",
    131026: "Undeliverable: not on WhatsApp, old app, terms not accepted, or blocked us",
    131030: "Recipient is not in the test number's allowed list",
    131031: "Business account locked",
    131042: "Payment or eligibility problem on the business account",
    131047: "More than 24 hours since the user last wrote: send an approved template",
    131048: "Spam rate limit: too many messages were blocked or reported",
    131049: "Meta limited marketing to this user to keep engagement healthy (wait 24 h)",
    131050: "The user stopped marketing messages",
    131051: "Unsupported message type",
    131052: "Could not download the user's media",
    131053: "Meta could not fetch or process our media (retried)",
    131056: "Too many messages to this user in a short time (retried after a pause)",
    131057: "Business account in maintenance mode (retried)",
    131064: "Messaging limit reached after template classification violations",
    132000: "Template parameter count does not match the approved template",
    132001: "Template missing or not approved in this language",
    132005: "Translated template text too long",
    132007: "Template content violates WhatsApp policy",
    132008: "A template parameter value is invalid",
    132012: "Template parameter format does not match",
    132015: "Template paused for low quality",
    132016: "Template disabled for low quality",
    133016: "Registration rate limit reached",
    135000: "Generic user error",
    368: "Temporarily blocked for policy violations",
}

# Codes that say the number's quality is suffering: a campaign that meets them pauses.
QUALITY_CODES = frozenset({131048, 132015, 132016, 368})


def meaning(code: int | None) -> str:
    if code is None:
        return "No error code (refused or cancelled by Parley)"
    return MEANINGS.get(int(code), f"WhatsApp error {code}")
