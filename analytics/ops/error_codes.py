"""What WhatsApp (Meta Cloud API) error codes mean, for people reading the error log.

The provider code (messaging/providers/meta_cloud/errors.py) decides retries from the codes;
this table only explains them. Source: WHATSAPP.md section 2.8 (Meta's error-codes page).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorCode:
    code: int
    title: str
    meaning: str
    action: str


_TABLE = [
    (
        0,
        "Authentication failed",
        "The access token is missing or invalid.",
        "Not retried: rotate the token; the channel is paused.",
    ),
    (
        190,
        "Access token expired",
        "The access token expired or was revoked.",
        "Not retried: rotate the token; the channel is paused.",
    ),
    (
        3,
        "Capability missing",
        "The app lacks the capability for this call.",
        "Not retried: fix the app's permissions.",
    ),
    (
        10,
        "Permission denied",
        "The app lacks a permission for this call.",
        "Not retried: fix the app's permissions.",
    ),
    (
        4,
        "App rate limit",
        "Too many API calls from the app.",
        "Retried with exponential backoff (minutes).",
    ),
    (
        80007,
        "WABA rate limit",
        "The WhatsApp Business Account hit its rate limit.",
        "Retried with exponential backoff.",
    ),
    (
        130429,
        "Throughput reached",
        "The number sent faster than its Cloud API throughput.",
        "Retried within seconds; consider a lower channel rate.",
    ),
    (
        130472,
        "Marketing experiment",
        "The user is in one of Meta's marketing experiment groups.",
        "Not retried; not a real delivery failure.",
    ),
    (
        131000,
        "Something went wrong",
        "An unknown error at Meta (HTTP 500).",
        "Retried a few times, then failed.",
    ),
    (131005, "Access denied", "Permission to send was denied.", "Not retried: check access."),
    (
        131008,
        "Required parameter missing",
        "The request lacked a required parameter.",
        "Not retried: fix the message.",
    ),
    (
        131009,
        "Parameter value not valid",
        "A parameter had an invalid value.",
        "Not retried: fix the message.",
    ),
    (
        131016,
        "Service unavailable",
        "WhatsApp was temporarily unavailable.",
        "Retried with backoff.",
    ),
    (
        131021,
        "Recipient is the sender",
        "The message was addressed to the sending number.",
        "Not retried.",
    ),
    (
        131026,
        "Message undeliverable",
        "The number is not on WhatsApp, uses an old client, has not accepted the terms, or "
        "blocked the business.",
        "Not retried; the contact is marked undeliverable.",
    ),
    (
        131030,
        "Recipient not allowed",
        "Test numbers may only message the allowed list.",
        "Not retried: add the recipient in the app dashboard.",
    ),
    (131031, "Account locked", "The business account is locked.", "Sending stops: contact Meta."),
    (
        131042,
        "Payment or eligibility issue",
        "A billing problem on the business account.",
        "Sending stops: fix the payment method.",
    ),
    (
        131047,
        "Re-engagement needed",
        "More than 24 hours since the user last wrote.",
        "Free-form text is refused: send an approved template.",
    ),
    (
        131048,
        "Spam rate limit",
        "Too many messages were blocked or reported (quality).",
        "Campaigns pause; retrying hard worsens quality.",
    ),
    (
        131049,
        "Per-user marketing limit",
        "Meta limits how many marketing messages one user gets (healthy ecosystem).",
        "Not retried within 24 hours.",
    ),
    (
        131050,
        "User stopped marketing",
        "The user stopped marketing messages from the business.",
        "Not retried; marketing consent is recorded as opted out.",
    ),
    (131051, "Unsupported message type", "The message type is not supported.", "Not retried."),
    (
        131052,
        "Media download error",
        "Media of an inbound message could not be downloaded.",
        "Inbound only.",
    ),
    (
        131053,
        "Media upload error",
        "Meta could not fetch or process the media we linked.",
        "Retried a few times; prefer uploaded media ids.",
    ),
    (
        131056,
        "Pair rate limit",
        "Too many messages to the same user in a short time.",
        "Retried for that user after at least 6 seconds.",
    ),
    (131057, "Maintenance mode", "The business account is in maintenance mode.", "Retried later."),
    (
        131064,
        "Template classification violations",
        "The messaging limit was reduced after template classification violations.",
        "Sending stops: review templates.",
    ),
    (
        132000,
        "Template parameter count mismatch",
        "The template got a different number of parameters than it has.",
        "Not retried: resync the template and fix the mapping.",
    ),
    (
        132001,
        "Template missing",
        "The template does not exist or is not approved in that language.",
        "Not retried: resync templates.",
    ),
    (
        132005,
        "Translated text too long",
        "The filled-in template text is too long.",
        "Not retried.",
    ),
    (
        132007,
        "Template policy violation",
        "The template's content violates a policy.",
        "Not retried.",
    ),
    (132008, "Bad template parameter", "A template parameter value is not valid.", "Not retried."),
    (
        132012,
        "Parameter format mismatch",
        "A template parameter has the wrong format.",
        "Not retried.",
    ),
    (
        132015,
        "Template paused",
        "The template was paused for low quality.",
        "Not retried: campaigns using it pause.",
    ),
    (
        132016,
        "Template disabled",
        "The template was disabled for low quality.",
        "Not retried: campaigns using it pause.",
    ),
    (
        133016,
        "Registration rate limit",
        "Too many register/deregister calls.",
        "Not related to sending.",
    ),
    (
        135000,
        "Generic user error",
        "The request was refused for an unspecified reason.",
        "Not retried.",
    ),
    (
        368,
        "Temporarily blocked",
        "The account is blocked for policy violations.",
        "Sending stops: review the policy notice.",
    ),
]

ERROR_CODES: dict[int, ErrorCode] = {
    code: ErrorCode(code, title, meaning, action) for code, title, meaning, action in _TABLE
}


def error_code_info(code: int | None) -> ErrorCode | None:
    """The entry for `code`; permission codes 200-299 share one entry."""
    if code is None:
        return None
    if code in ERROR_CODES:
        return ERROR_CODES[code]
    if 200 <= code <= 299:
        return ErrorCode(
            code,
            "Permission missing",
            "The app lacks a permission for this call.",
            "Not retried: fix the app's permissions.",
        )
    return None


def error_code_meaning(code: int | None) -> str:
    info = error_code_info(code)
    return f"{info.title}: {info.meaning}" if info else ""
