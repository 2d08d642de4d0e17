"""Which settings a channel may name as its secrets, and what is wrong with a channel's
configuration (README "Security notes").

A channel holds no secret: it names the settings (environment variables) that do. Any name
used to be accepted, so an Admin could make Parley send `Bearer <SECRET_KEY>` to a URL of
their choosing, or name `LANGUAGE_CODE` ("en-us") as a channel's app secret and sign forged
webhooks with it. A name must now match CHANNEL_SECRET_SETTING_PATTERNS (`WHATSAPP_*`,
`MYOPERATOR_*`); the rule is enforced where a name is written (model validation, so the
admin and every form or serializer of the model) and again where a secret is read
(`Channel.secret`), so a name stored before the rule, or written around it, reads as no
secret. A channel's own API base URL must pass the SSRF guard (`core.ssrf`), which lets a
loopback simulator through only when PROVIDER_URL_ALLOW_PRIVATE is on (the local demo, the
tests; it follows MEDIA_URL_ALLOW_PRIVATE unless set).
"""

from __future__ import annotations

import fnmatch
import re

from django.conf import settings
from django.core.exceptions import ValidationError

from core.ssrf import UnsafeUrl, url_check_public
from messaging.providers import UnknownProvider, provider_type

SETTING_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def secret_setting_patterns() -> tuple[str, ...]:
    return tuple(settings.CHANNEL_SECRET_SETTING_PATTERNS)


def secret_setting_problem(name: str) -> str | None:
    """Why `name` may not be named as a channel's secret setting; None when it may."""
    if not isinstance(name, str) or not SETTING_NAME.match(name):
        return "must be a setting name in capitals (letters, digits, underscores)"
    patterns = secret_setting_patterns()
    if not any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns):
        return f"{name} is not a channel secret setting; allowed: {', '.join(patterns)}"
    return None


def secret_setting_allowed(name: str) -> bool:
    return secret_setting_problem(name) is None


def validate_secret_setting(value: str) -> None:
    """Model field validator (blank is left to the field's own `blank`)."""
    if value and (problem := secret_setting_problem(value)):
        raise ValidationError(problem[0].upper() + problem[1:] + ".", code="secret_setting")


SECRET_FIELDS = ("token_setting", "app_secret_setting", "company_id_setting")


def channel_secret_problems(channel) -> dict[str, str]:
    """{field: problem} for each secret setting name of `channel` that is not allowed."""
    problems = {}
    for field in SECRET_FIELDS:
        name = getattr(channel, field, "")
        if name and (problem := secret_setting_problem(name)):
            problems[field] = problem
    return problems


def base_url_problem(url: str) -> str | None:
    """Why a channel's base URL may not be called; None when it may (or is empty)."""
    if not url:
        return None
    try:
        url_check_public(url, allow_private=settings.PROVIDER_URL_ALLOW_PRIVATE)
    except UnsafeUrl as exc:
        return exc.message
    return None


def channel_config_problems(channel, *, check_url: bool = True) -> list[str]:
    """What stops `channel` from being used safely, in words for a person; empty when
    nothing does. `check_url` resolves the base URL's host (the SSRF guard)."""
    problems = [f"{field}: {text}" for field, text in channel_secret_problems(channel).items()]
    if check_url and (problem := base_url_problem(channel.base_url)):
        problems.append(f"base_url: {problem}")
    return problems


# --- Which secrets are set (shown to staff; the values never are) ------------------------------

SET, MISSING, NOT_ALLOWED = "set", "missing", "not allowed"


def secret_state(name: str) -> str:
    """Whether the setting `name` holds a value: "set", "missing", or "not allowed" (a name
    no channel may use, read as empty). Never the value itself."""
    if not secret_setting_allowed(name):
        return NOT_ALLOWED
    return SET if str(getattr(settings, name, "") or "") else MISSING


def channel_secret_states(channel) -> list[dict[str, str]]:
    """Each secret `channel` needs (as its provider type says), with the setting that holds
    it and its state: `[{"label": "Access token", "setting": "WHATSAPP_API_TOKEN", "state":
    "set"}, ...]`. A channel of an unknown provider lists the secrets it names."""
    try:
        wanted = provider_type(channel.provider).secret_settings(channel)
    except UnknownProvider:
        wanted = [
            ("Access token", channel.token_setting),
            ("App secret", channel.app_secret_setting),
        ]
    return [
        {"label": label, "setting": name, "state": secret_state(name)}
        for label, name in wanted
        if name
    ]
