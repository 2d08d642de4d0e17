"""Graph-style errors the simulator answers with (WHATSAPP.md 2.2 envelope, 2.8 codes)."""

from __future__ import annotations

import base64
import os
from typing import Any

ERROR_HREF = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"

# code -> (title, HTTP status of a synchronous answer)
ERRORS: dict[int, tuple[str, int]] = {
    0: ("AuthException", 401),
    1: ("An unknown error occurred", 500),
    2: ("Service temporarily unavailable", 503),
    3: ("API method not enabled for this app", 403),
    4: ("Application request limit reached", 429),
    10: ("Permission denied", 403),
    100: ("Invalid parameter", 400),
    190: ("Invalid OAuth access token - Cannot parse access token", 401),
    200: ("Permission error", 403),
    368: ("Temporarily blocked for policies violations", 400),
    80007: ("Rate limit issues", 429),
    130429: ("Rate limit hit", 429),
    130472: ("User's number is part of an experiment", 400),
    131000: ("Something went wrong", 500),
    131005: ("Access denied", 403),
    131008: ("Required parameter is missing", 400),
    131009: ("Parameter value is not valid", 400),
    131016: ("Service unavailable", 503),
    131021: ("Recipient cannot be sender", 400),
    131026: ("Message undeliverable", 400),
    131030: ("Recipient phone number not in allowed list", 400),
    131031: ("Business Account locked", 400),
    131042: ("Business eligibility payment issue", 400),
    131047: ("Re-engagement message", 400),
    131048: ("Spam rate limit hit", 400),
    131049: (
        "This message was not delivered to maintain healthy ecosystem engagement.",
        400,
    ),
    131050: ("User has stopped marketing messages", 400),
    131051: ("Unsupported message type", 400),
    131053: ("Media upload error", 400),
    131056: ("(Business Account, Consumer Account) pair rate limit hit", 429),
    131057: ("Account in maintenance mode", 503),
    132000: ("Number of parameters does not match the expected number of params", 400),
    132001: ("Template name does not exist in the translation", 404),
    132005: ("Translated text too long", 400),
    132007: ("Template Format Character Policy Violated", 400),
    132008: ("Template parameter format mismatch", 400),
    132012: ("Parameter format does not match format in the created template", 400),
    132015: ("Template is Paused", 400),
    132016: ("Template is Disabled", 400),
    135000: ("Generic user error", 400),
}
HTTP_ONLY_STATUSES = frozenset({500, 502, 503, 504})  # error_storm codes answered as bare HTTP


def fbtrace_id() -> str:
    return base64.b64encode(os.urandom(9)).decode().replace("/", "_").replace("+", "-")


def title_for(code: int) -> str:
    return ERRORS.get(code, ("Error", 400))[0]


def http_status_for(code: int) -> int:
    return ERRORS.get(code, ("Error", 400))[1]


def graph_error_body(code: int, details: str | None = None, message: str | None = None) -> dict:
    title = title_for(code)
    error: dict[str, Any] = {
        "message": message or (title if code in (0, 190) else f"(#{code}) {title}"),
        "type": "OAuthException",
        "code": code,
    }
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    if code in (1, 2, 4, 130429, 131000, 131016):
        error["is_transient"] = True
    error["fbtrace_id"] = fbtrace_id()
    return {"error": error}


def status_error(code: int, details: str | None = None) -> dict:
    """An error object as carried by a failed status webhook (`statuses[].errors[]`)."""
    title = title_for(code)
    return {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": details or title},
        "href": ERROR_HREF,
    }


class SimulatorError(Exception):
    """Answer the current request with a Graph error."""

    def __init__(
        self,
        code: int,
        details: str | None = None,
        *,
        http_status: int | None = None,
        message: str | None = None,
        error_type: str = "OAuthException",
        user_title: str | None = None,
        user_msg: str | None = None,
    ) -> None:
        super().__init__(details or user_msg or title_for(code))
        self.code = code
        self.details = details
        self.http_status = http_status or http_status_for(code)
        self.message = message
        self.error_type = error_type
        self.user_title = user_title
        self.user_msg = user_msg

    def body(self) -> dict:
        body = graph_error_body(self.code, self.details, self.message)
        body["error"]["type"] = self.error_type
        # Template management errors explain themselves to the user, as Graph's do.
        if self.user_title:
            body["error"]["error_user_title"] = self.user_title
        if self.user_msg:
            body["error"]["error_user_msg"] = self.user_msg
        return body
