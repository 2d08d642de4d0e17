"""WhatsApp error codes: what each means, what staff should do, and how Parley reacts.

The one table of codes (WHATSAPP.md section 2.8, Meta's error-codes page). The sender's
classification (`meta_cloud.errors.classify`), the re-queueing of failed statuses, the
campaign health check, the contact side effects, the inbox, the API, analytics and the
operations centre all read it through the accessors below; nothing else keeps a list of codes.

It lives beside the providers rather than inside `meta_cloud/` because the codes are the
WhatsApp platform's, not one client's: MyOperator and every other Business Solution Provider
sit on Meta's Cloud API and relay its codes in their failed statuses, and what reads
`Message.error_code` never knows which provider delivered it.

Kinds, as the sender treats a code that comes back from a send:

* `temporary`: nothing was accepted; send again later (honouring `retry_after`);
* `auth`: the credentials or permissions are wrong; the channel pauses until staff resume it;
* `permanent`: this message was refused; retrying will not help;
* `quality`: refused, and the number's quality rating is at stake: a campaign that meets it
  pauses instead of pressing on.

A code outside the table (and a permanent or quality one) still follows the HTTP status it
came with: 429 and 5xx are temporary, 401/403 without a code are auth (`classify`).
"Ambiguous" is not a property of a code: it is a send whose answer was lost.
"""

from __future__ import annotations

import dataclasses
import enum


class ErrorKind(enum.StrEnum):
    TEMPORARY = "temporary"
    AUTH = "auth"
    PERMANENT = "permanent"
    QUALITY = "quality"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ErrorCode:
    code: int | None
    title: str
    meaning: str  # in words staff can act on: the inbox, campaign pages, the API, analytics
    action: str  # what happens, and what staff should do about it
    kind: ErrorKind = ErrorKind.PERMANENT
    # Seconds to wait before the next attempt when the answer carried no Retry-After header.
    retry_after: float | None = None
    # A failed status (webhook) carrying the code puts the message back in the queue. Only
    # codes about the message itself: the API-call rate limits come back synchronously.
    retry_when_reported: bool = False
    marks_undeliverable: bool = False  # the contact is marked undeliverable
    stops_marketing: bool = False  # the contact's marketing consent becomes "opted out"
    known: bool = True  # False for the default entry of a code not in the table

    @property
    def retryable(self) -> bool:
        """A send refused with this code is tried again later."""
        return self.kind is ErrorKind.TEMPORARY

    @property
    def pauses_campaign(self) -> bool:
        return self.kind is ErrorKind.QUALITY

    @property
    def recipient_refuses(self) -> bool:
        """The recipient cannot or does not want to receive: never sent again by a bulk retry."""
        return self.marks_undeliverable or self.stops_marketing


# What a send answered with an auth code does (`dispatch`): the message goes back to the queue.
_HELD = "The channel pauses and its messages wait"

_TABLE = [
    # --- Credentials and permissions: the channel stops -----------------------------------
    ErrorCode(
        code=0,
        kind=ErrorKind.AUTH,
        title="Authentication failed",
        meaning="Authentication failed: the access token is invalid",
        action=f"{_HELD}: rotate the token, then resume the channel.",
    ),
    ErrorCode(
        code=190,
        kind=ErrorKind.AUTH,
        title="Access token expired",
        meaning="Access token expired or invalid",
        action=f"{_HELD}: rotate the token, then resume the channel.",
    ),
    ErrorCode(
        code=3,
        kind=ErrorKind.AUTH,
        title="Capability missing",
        meaning="The app lacks a capability for this call",
        action=f"{_HELD}: fix the app's permissions, then resume the channel.",
    ),
    ErrorCode(
        code=10,
        kind=ErrorKind.AUTH,
        title="Permission denied",
        meaning="Permission missing for this call",
        action=f"{_HELD}: fix the app's permissions, then resume the channel.",
    ),
    ErrorCode(
        code=131005,
        kind=ErrorKind.AUTH,
        title="Access denied",
        meaning="Access denied",
        action=f"{_HELD}: check the app's access, then resume the channel.",
    ),
    # 200-299 (permission codes) share one entry: see `_permission`.
    # --- Throttling and outages: retried ---------------------------------------------------
    # 1, 2, 17, 341 and 613 are Graph's generic "temporary"/"rate limit" codes, which the
    # WhatsApp endpoints also return on bad days.
    ErrorCode(
        code=1,
        kind=ErrorKind.TEMPORARY,
        title="Unknown API error",
        meaning="Meta reported an unknown, usually passing, error (retried)",
        action="Retried with backoff.",
    ),
    ErrorCode(
        code=2,
        kind=ErrorKind.TEMPORARY,
        title="API service unavailable",
        meaning="Meta's API was temporarily unavailable (retried)",
        action="Retried with backoff.",
    ),
    ErrorCode(
        code=4,
        kind=ErrorKind.TEMPORARY,
        retry_after=60.0,
        title="App rate limit",
        meaning="App-level API rate limit reached (retried with backoff)",
        action="Retried with exponential backoff (minutes).",
    ),
    ErrorCode(
        code=17,
        kind=ErrorKind.TEMPORARY,
        retry_after=60.0,
        title="User rate limit",
        meaning="Too many API calls for this token (retried after a minute)",
        action="Retried with exponential backoff (minutes).",
    ),
    ErrorCode(
        code=341,
        kind=ErrorKind.TEMPORARY,
        title="Application limit reached",
        meaning="The app reached a Graph API limit (retried)",
        action="Retried with backoff.",
    ),
    ErrorCode(
        code=613,
        kind=ErrorKind.TEMPORARY,
        retry_after=60.0,
        title="Call rate limit",
        meaning="Too many calls within an hour (retried after a minute)",
        action="Retried with exponential backoff (minutes).",
    ),
    ErrorCode(
        code=80007,
        kind=ErrorKind.TEMPORARY,
        retry_after=60.0,
        title="WABA rate limit",
        meaning="WhatsApp Business Account rate limit reached (retried)",
        action="Retried with exponential backoff.",
    ),
    ErrorCode(
        code=130429,
        kind=ErrorKind.TEMPORARY,
        retry_after=1.0,
        retry_when_reported=True,
        title="Throughput reached",
        meaning="Cloud API throughput reached (retried within seconds)",
        action="Retried within seconds; consider a lower channel rate.",
    ),
    ErrorCode(
        code=131000,
        kind=ErrorKind.TEMPORARY,
        retry_when_reported=True,
        title="Something went wrong",
        meaning="Something went wrong at Meta (retried a few times)",
        action="Retried a few times, then failed.",
    ),
    ErrorCode(
        code=131016,
        kind=ErrorKind.TEMPORARY,
        retry_when_reported=True,
        title="Service unavailable",
        meaning="WhatsApp service temporarily unavailable (retried)",
        action="Retried with backoff.",
    ),
    ErrorCode(
        code=131053,
        kind=ErrorKind.TEMPORARY,
        retry_when_reported=True,
        title="Media upload error",
        meaning="Meta could not fetch or process our media (retried)",
        action="Retried a few times; prefer uploaded media ids.",
    ),
    ErrorCode(
        code=131056,
        kind=ErrorKind.TEMPORARY,
        retry_after=6.0,
        retry_when_reported=True,
        title="Pair rate limit",
        meaning="Too many messages to this user in a short time (retried after a pause)",
        action="Retried for that user after at least 6 seconds.",
    ),
    ErrorCode(
        code=131057,
        kind=ErrorKind.TEMPORARY,
        retry_after=60.0,
        retry_when_reported=True,
        title="Maintenance mode",
        meaning="Business account in maintenance mode (retried)",
        action="Retried later.",
    ),
    # --- Quality: campaigns pause ----------------------------------------------------------
    ErrorCode(
        code=131048,
        kind=ErrorKind.QUALITY,
        title="Spam rate limit",
        meaning="Spam rate limit: too many messages were blocked or reported",
        action="Campaigns pause; retrying hard worsens quality.",
    ),
    ErrorCode(
        code=132015,
        kind=ErrorKind.QUALITY,
        title="Template paused",
        meaning="Template paused for low quality",
        action="Not retried: campaigns using it pause.",
    ),
    ErrorCode(
        code=132016,
        kind=ErrorKind.QUALITY,
        title="Template disabled",
        meaning="Template disabled for low quality",
        action="Not retried: campaigns using it pause.",
    ),
    ErrorCode(
        code=368,
        kind=ErrorKind.QUALITY,
        title="Temporarily blocked",
        meaning="Temporarily blocked for policy violations",
        action="Not retried; campaigns pause: review the policy notice.",
    ),
    # --- The recipient -----------------------------------------------------------------------
    ErrorCode(
        code=131026,
        marks_undeliverable=True,
        title="Message undeliverable",
        meaning="Undeliverable: not on WhatsApp, old app, terms not accepted, or blocked us",
        action="Not retried; the contact is marked undeliverable.",
    ),
    ErrorCode(
        code=131050,
        stops_marketing=True,
        title="User stopped marketing",
        meaning="The user stopped marketing messages",
        action="Not retried; marketing consent is recorded as opted out.",
    ),
    ErrorCode(
        code=131049,
        title="Per-user marketing limit",
        meaning="Meta limited marketing to this user to keep engagement healthy (wait 24 h)",
        action="Not retried within 24 hours.",
    ),
    ErrorCode(
        code=130472,
        title="Marketing experiment",
        meaning="User is in a Meta marketing experiment group (not a real failure)",
        action="Not retried; not a real delivery failure.",
    ),
    ErrorCode(
        code=131047,
        title="Re-engagement needed",
        meaning="More than 24 hours since the user last wrote: send an approved template",
        action="Free-form text is refused: send an approved template.",
    ),
    ErrorCode(
        code=131021,
        title="Recipient is the sender",
        meaning="Recipient is the sender's own number",
        action="Not retried.",
    ),
    ErrorCode(
        code=131030,
        title="Recipient not allowed",
        meaning="Recipient is not in the test number's allowed list",
        action="Not retried: add the recipient in the app dashboard.",
    ),
    # --- The business account ----------------------------------------------------------------
    ErrorCode(
        code=131031,
        title="Account locked",
        meaning="Business account locked",
        action="Not retried: contact Meta to unlock the account.",
    ),
    ErrorCode(
        code=131042,
        title="Payment or eligibility issue",
        meaning="Payment or eligibility problem on the business account",
        action="Not retried: fix the payment method.",
    ),
    ErrorCode(
        code=131064,
        title="Template classification violations",
        meaning="Messaging limit reached after template classification violations",
        action="Not retried: review the templates' categories.",
    ),
    ErrorCode(
        code=133016,
        title="Registration rate limit",
        meaning="Registration rate limit reached",
        action="Not related to sending.",
    ),
    # --- The message and its template --------------------------------------------------------
    ErrorCode(
        code=131008,
        title="Required parameter missing",
        meaning="A required parameter is missing",
        action="Not retried: fix the message.",
    ),
    ErrorCode(
        code=131009,
        title="Parameter value not valid",
        meaning="A parameter value is invalid",
        action="Not retried: fix the message.",
    ),
    ErrorCode(
        code=131051,
        title="Unsupported message type",
        meaning="Unsupported message type",
        action="Not retried.",
    ),
    ErrorCode(
        code=131052,
        title="Media download error",
        meaning="Could not download the user's media",
        action="Inbound only.",
    ),
    ErrorCode(
        code=132000,
        title="Template parameter count mismatch",
        meaning="Template parameter count does not match the approved template",
        action="Not retried: resync the template and fix the mapping.",
    ),
    ErrorCode(
        code=132001,
        title="Template missing",
        meaning="Template missing or not approved in this language",
        action="Not retried: resync templates.",
    ),
    ErrorCode(
        code=132005,
        title="Translated text too long",
        meaning="Translated template text too long",
        action="Not retried.",
    ),
    ErrorCode(
        code=132007,
        title="Template policy violation",
        meaning="Template content violates WhatsApp policy",
        action="Not retried.",
    ),
    ErrorCode(
        code=132008,
        title="Bad template parameter",
        meaning="A template parameter value is invalid",
        action="Not retried.",
    ),
    ErrorCode(
        code=132012,
        title="Parameter format mismatch",
        meaning="Template parameter format does not match",
        action="Not retried.",
    ),
    ErrorCode(
        code=135000,
        title="Generic user error",
        meaning="Generic user error",
        action="Not retried.",
    ),
]

ERROR_CODES: dict[int, ErrorCode] = {e.code: e for e in _TABLE if e.code is not None}
PERMISSION_CODES = range(200, 300)

NO_CODE = ErrorCode(
    code=None,
    title="No error code",
    meaning="No error code (refused or cancelled by Parley)",
    action="See the error title and detail.",
    known=False,
)

# Code sets for queries and set operations (derived: the table above is the only source).
QUALITY_CODES = frozenset(c for c, e in ERROR_CODES.items() if e.pauses_campaign)
RECIPIENT_REFUSES_CODES = frozenset(c for c, e in ERROR_CODES.items() if e.recipient_refuses)


def _as_int(code: int | str | None) -> int | None:
    try:
        return int(code) if code is not None else None
    except (TypeError, ValueError):
        return None


def _permission(code: int) -> ErrorCode:
    return ErrorCode(
        code=code,
        kind=ErrorKind.AUTH,
        title="Permission missing",
        meaning="The app lacks a permission for this call",
        action=f"{_HELD}: fix the app's permissions, then resume the channel.",
    )


def _unknown(code: int) -> ErrorCode:
    return ErrorCode(
        code=code,
        title=f"WhatsApp error {code}",
        meaning=f"WhatsApp error {code}",
        action="Not retried, unless it came with HTTP 429 or 5xx; see Meta's error-codes page.",
        known=False,
    )


def error_code_info(code: int | str | None) -> ErrorCode:
    """The entry for `code` (an int or its digits). A missing code, or one outside the table,
    gets a default entry with `known=False`: permanent, unless its HTTP status says otherwise."""
    number = _as_int(code)
    if number is None:
        return NO_CODE
    if number in ERROR_CODES:
        return ERROR_CODES[number]
    if number in PERMISSION_CODES:
        return _permission(number)
    return _unknown(number)


def error_code_meaning(code: int | str | None) -> str:
    """Title and meaning of a code in the table, else "" (for text shown beside the code)."""
    info = error_code_info(code)
    return f"{info.title}: {info.meaning}" if info.known else ""


def error_code_label(code: int | str | None) -> str:
    """The code as a metric label: its digits when the table knows it, "other" when it does
    not, "none" without a code. Bounded by the table, so a provider inventing codes cannot
    grow the number of series."""
    number = _as_int(code)
    if number is None:
        return "none"
    return str(number) if error_code_info(number).known else "other"
