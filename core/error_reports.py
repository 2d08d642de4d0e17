"""Error reports to Sentry, with secrets scrubbed before anything leaves the process.

`sentry_init` is called from the settings, only when SENTRY_DSN is set (README "Metrics and
error reports"). `send_default_pii=False` already keeps cookies, the Authorization header,
user details and client addresses out; `event_scrub` (the `before_send` hook) removes what
the SDK cannot know about:

* headers that carry credentials: Authorization, Cookie, the providers' signatures
  (X-Hub-Signature, X-Hub-Signature-256, X-MyOperator-Signature), our own event-webhook
  signature, and any header whose name says token, secret, key or signature;
* the request body of provider webhooks (`/webhooks/...`): message texts and phone numbers;
* every value of a secret-looking setting (`SECRET_SETTING_PATTERNS`: WHATSAPP_*,
  MYOPERATOR_*, *SECRET*, *TOKEN*, *PASSWORD*, *_KEY, *DSN*) and the passwords inside URL
  settings (DATABASE_URL, REDIS_URL...), wherever they appear in the event: an exception
  message, a local variable of a stack frame, a breadcrumb.

Reading settings happens when an event is sent, never at import: this module is imported by
the settings themselves.
"""

from __future__ import annotations

import fnmatch
import re
import warnings
from typing import Any
from urllib.parse import urlsplit

FILTERED = "[Filtered]"
SECRET_SETTING_PATTERNS = (
    "WHATSAPP_*",
    "MYOPERATOR_*",
    "*SECRET*",
    "*TOKEN*",
    "*PASSWORD*",
    "*_KEY",
    "*DSN*",
)
# Settings matching the patterns that hold no secret and would only blur reports.
NOT_SECRET_SETTINGS = frozenset({"WHATSAPP_API_VERSION", "WHATSAPP_GRAPH_URL"})
# Shorter values are not scrubbed as free text (they would match everywhere: "1", "v25").
MIN_SECRET_CHARS = 6
SECRET_HEADER = re.compile(r"authorization|cookie|signature|token|secret|api[-_]?key", re.I)
WEBHOOK_PATH = "/webhooks/"


def secret_values() -> list[str]:
    """The values to scrub: every str setting whose name matches SECRET_SETTING_PATTERNS, and
    the password of every URL setting; longest first, so a secret that contains another is
    replaced whole."""
    from django.conf import settings

    found: set[str] = set()
    for name in dir(settings):
        if not name.isupper():
            continue
        value = getattr(settings, name, None)
        if not isinstance(value, str) or not value:
            continue
        if name not in NOT_SECRET_SETTINGS and any(
            fnmatch.fnmatchcase(name, pattern) for pattern in SECRET_SETTING_PATTERNS
        ):
            found.add(value)
        elif "://" in value:
            try:
                password = urlsplit(value).password
            except ValueError:
                password = None
            if password:
                found.add(password)
    return sorted((v for v in found if len(v) >= MIN_SECRET_CHARS), key=len, reverse=True)


def _scrub_text(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, FILTERED)
    return text


def _scrub(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return _scrub_text(value, secrets)
    if isinstance(value, dict):
        return {key: _scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item, secrets) for item in value]
    return value


def _scrub_request(request: dict[str, Any], transaction: str) -> None:
    headers = request.get("headers")
    if isinstance(headers, dict):
        for name in list(headers):
            if SECRET_HEADER.search(str(name)):
                headers[name] = FILTERED
    elif isinstance(headers, list):  # [[name, value], ...]
        request["headers"] = [
            [pair[0], FILTERED] if SECRET_HEADER.search(str(pair[0])) else pair
            for pair in headers
            if isinstance(pair, list | tuple) and len(pair) == 2
        ]
    request.pop("cookies", None)
    # The URL comes from the WSGI middleware; the transaction (the route) is there even when
    # that middleware did not run.
    if WEBHOOK_PATH in str(request.get("url") or "") or transaction.startswith(WEBHOOK_PATH):
        if "data" in request:
            request["data"] = FILTERED
        request.pop("query_string", None)


def event_scrub(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """Sentry's `before_send`: the event without credentials, webhook bodies or the values of
    secret settings. Never drops the event and never raises (a scrubber failure would lose the
    report): on an unexpected shape it keeps scrubbing what it can."""
    request = event.get("request")
    if isinstance(request, dict):
        _scrub_request(request, str(event.get("transaction") or ""))
    try:
        secrets = secret_values()
    except Exception:  # settings not configured: nothing known to scrub
        secrets = []
    return _scrub(event, secrets) if secrets else event


def sentry_init(
    *,
    dsn: str,
    environment: str,
    release: str | None,
    traces_sample_rate: float,
    transport: Any = None,
) -> None:
    """Start the SDK with the Django and Celery integrations and the scrubber. `transport`
    (tests) replaces the network transport."""
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    options: dict[str, Any] = {"transport": transport} if transport is not None else {}
    with warnings.catch_warnings():
        # sentry-sdk 2.76 prefers `data_collection`; `send_default_pii=False` still applies and
        # is the setting operators and reviewers know, so it stays explicit here.
        warnings.filterwarnings("ignore", "The send_default_pii option", DeprecationWarning)
        sentry_sdk.init(
            dsn=dsn,
            environment=environment,
            release=release,
            integrations=[DjangoIntegration(), CeleryIntegration()],
            send_default_pii=False,
            traces_sample_rate=traces_sample_rate,
            before_send=event_scrub,
            before_send_transaction=event_scrub,
            max_request_body_size="small",
            **options,
        )
