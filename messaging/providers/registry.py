"""Provider types: everything that depends on a channel's provider code, registered by code.

A `Channel` row names its backend by code (`meta_cloud`, `myoperator`). Building its client,
its default API host, authenticating and parsing its webhooks and probing its API for the
health page are all asked of that code's `ProviderType`, so the rest of Parley never branches
on a provider code and a new backend is one registered class. (RapidPro's channel types,
Saleor's payment gateways.)

Types see a channel duck-typed (`ChannelConfig`: its attributes and `channel.secret(name)`),
since this package imports no model, and read settings only when asked, never at import.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Protocol, TypeVar

from django.conf import settings

from . import meta_cloud, myoperator
from .base import Provider, WebhookEvent
from .probe import reachability_probe

DEFAULT_CONNECT_TIMEOUT = 3.05
DEFAULT_READ_TIMEOUT = 10.0


class ChannelConfig(Protocol):
    """What a provider type reads from a channel (the `Channel` model has these)."""

    provider: str
    phone_number_id: str
    waba_id: str
    base_url: str
    token_setting: str
    app_secret_setting: str
    company_id_setting: str

    def secret(self, setting_name: str) -> str: ...


@dataclasses.dataclass(frozen=True)
class WebhookAddressee:
    """Whom one change of a webhook body is for: a number (`phone_number_id`) or, for an
    account-wide change that names none, a WhatsApp Business Account (`waba_id`)."""

    kind: str  # "phone_number_id" | "waba_id"
    value: str


@dataclasses.dataclass(frozen=True)
class WebhookCredentials:
    """What may authenticate a webhook POST: HMAC keys over the raw body, bearer tokens.
    Empty means nothing is configured, so every POST is refused."""

    signing_keys: tuple[str, ...] = ()
    tokens: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.signing_keys or self.tokens)


class UnknownProvider(ValueError):
    """No provider type is registered under this code."""

    def __init__(self, code: object) -> None:
        super().__init__(f"unknown provider {code!r}; expected one of {provider_codes()}")
        self.code = code


def _setting(name: str) -> str:
    return str(getattr(settings, name, "") or "")


def _timeout() -> tuple[float, float]:
    return (
        getattr(settings, "PROVIDER_CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT),
        getattr(settings, "PROVIDER_READ_TIMEOUT", DEFAULT_READ_TIMEOUT),
    )


class ProviderType(abc.ABC):
    """One kind of WhatsApp backend. Subclasses set the class attributes and implement the
    abstract methods; `register` makes one instance available under `code`."""

    code: ClassVar[str]
    label: ClassVar[str]
    client_class: ClassVar[type[Provider]]
    # A webhook POST carrying none of these headers has no credentials at all (401, not 403).
    webhook_auth_headers: ClassVar[tuple[str, ...]] = ()
    # Whether a JSON array is a valid webhook body (Meta always posts one object).
    webhook_accepts_list: ClassVar[bool] = False
    # The URL name of the endpoint its webhooks are posted to (what staff give the provider),
    # and where and how staff give it, in words.
    webhook_url_name: ClassVar[str] = ""
    webhook_setup: ClassVar[str] = ""

    # --- clients ----------------------------------------------------------------------------

    def build(self, **kwargs: Any) -> Provider:
        """A client from explicit keyword configuration (a test, a script)."""
        return self.client_class(**kwargs)

    @abc.abstractmethod
    def settings_config(self) -> dict[str, Any]:
        """Client keyword arguments from the install-wide settings (`provider_from_settings`)."""

    def from_settings(self, **overrides: Any) -> Provider:
        return self.build(**{**self.settings_config(), **overrides})

    @abc.abstractmethod
    def client_for(self, channel: ChannelConfig) -> Provider:
        """A client configured for `channel`, its secrets read from the settings it names."""

    @abc.abstractmethod
    def default_base_url(self) -> str:
        """The API host used when a channel leaves `base_url` empty."""

    def base_url_for(self, channel: ChannelConfig) -> str:
        return channel.base_url or self.default_base_url()

    def secret_settings(self, channel: ChannelConfig) -> list[tuple[str, str]]:
        """(what it is, the setting that holds it) for each secret `channel` needs, for staff
        to see which are set (never their values)."""
        return [("Access token", channel.token_setting)]

    # --- webhooks ---------------------------------------------------------------------------

    def webhook_addressees(self, payload: Any) -> list[WebhookAddressee] | None:
        """The channels a (decoded, not yet authenticated) webhook body names, one per change,
        when this provider signs each channel's webhooks with that channel's secret; None
        when its webhooks are authenticated account-wide (the intake then passes no
        channels to `webhook_credentials`). Never raises on a malformed body."""
        return None

    @abc.abstractmethod
    def webhook_credentials(self, channels: Iterable[ChannelConfig]) -> WebhookCredentials:
        """The secrets a webhook POST may be signed or authenticated with, given the channels
        its body names (`webhook_addressees`), or none for account-wide webhooks."""

    @abc.abstractmethod
    def verify_webhook(
        self, headers: Mapping[str, str], raw_body: bytes, credentials: WebhookCredentials
    ) -> bool:
        """True when a POST is authentic. `raw_body` is the exact bytes received."""

    def verify_subscription(self, params: Mapping[str, str]) -> str | None:
        """The answer to a subscription handshake (a GET), or None to refuse it. Only Meta has
        one; other providers refuse every GET."""
        return None

    @abc.abstractmethod
    def parse_webhook(self, payload: Any) -> list[WebhookEvent]:
        """Neutral events; never raises on unknown fields or types."""

    # --- health -----------------------------------------------------------------------------

    def probe(self, base_url: str, *, timeout: float) -> dict[str, Any]:
        """A cheap check that the API answers: `{url, ok, error?, latency_ms, ...}`, never
        raising. By default a reachability check without credentials (see `probe`)."""
        return reachability_probe(base_url, timeout=timeout)


_TYPES: dict[str, ProviderType] = {}
T = TypeVar("T", bound=type[ProviderType])


def register(cls: T) -> T:
    """Class decorator: make the provider type available under its code."""
    if cls.code in _TYPES:
        raise ValueError(f"provider {cls.code!r} is already registered")
    _TYPES[cls.code] = cls()
    return cls


def provider_type(code: str) -> ProviderType:
    try:
        return _TYPES[code]
    except (KeyError, TypeError):
        raise UnknownProvider(code) from None


def provider_types() -> list[ProviderType]:
    return list(_TYPES.values())


def provider_codes() -> tuple[str, ...]:
    return tuple(_TYPES)


def provider_class(code: str) -> type[Provider]:
    return provider_type(code).client_class


def build_provider(code: str, **kwargs: Any) -> Provider:
    """A provider from explicit configuration (a test, a script)."""
    return provider_type(code).build(**kwargs)


def provider_from_settings(code: str = "meta_cloud", **overrides: Any) -> Provider:
    """A provider configured from the `WHATSAPP_*` / `MYOPERATOR_*` settings; keyword
    arguments override individual values (a channel's own phone number id, say)."""
    return provider_type(code).from_settings(**overrides)


# --- The built-in types ------------------------------------------------------------------------


@register
class MetaCloudType(ProviderType):
    """Meta's Cloud API, and the simulator (the same client pointed at another base URL)."""

    code = "meta_cloud"
    label = "Meta WhatsApp Cloud API"
    client_class = meta_cloud.MetaCloudProvider
    webhook_auth_headers = (meta_cloud.SIGNATURE_HEADER,)
    webhook_url_name = "webhooks:whatsapp"
    webhook_setup = (
        "In Meta's App Dashboard (WhatsApp → Configuration): this callback URL with the webhook "
        "verify token, subscribed to messages, message_template_status_update, "
        "phone_number_quality_update, account_update and business_capability_update."
    )

    def secret_settings(self, channel: ChannelConfig) -> list[tuple[str, str]]:
        return [
            ("Access token", channel.token_setting),
            ("App secret (webhook signatures)", channel.app_secret_setting),
            ("Webhook verify token", "WHATSAPP_WEBHOOK_VERIFY_TOKEN"),
        ]

    def default_base_url(self) -> str:
        return _setting("WHATSAPP_GRAPH_URL") or meta_cloud.DEFAULT_GRAPH_URL

    def _api_version(self) -> str:
        return _setting("WHATSAPP_API_VERSION") or meta_cloud.DEFAULT_API_VERSION

    def settings_config(self) -> dict[str, Any]:
        return {
            "graph_url": self.default_base_url(),
            "api_version": self._api_version(),
            "access_token": _setting("WHATSAPP_API_TOKEN"),
            "app_secret": _setting("WHATSAPP_APP_SECRET"),
            "phone_number_id": _setting("WHATSAPP_PHONE_NUMBER_ID"),
            "waba_id": _setting("WHATSAPP_BUSINESS_ACCOUNT_ID"),
            "app_id": _setting("WHATSAPP_APP_ID"),
        }

    def client_for(self, channel: ChannelConfig) -> Provider:
        return self.build(
            phone_number_id=channel.phone_number_id,
            waba_id=channel.waba_id,
            access_token=channel.secret(channel.token_setting),
            app_secret=channel.secret(channel.app_secret_setting),
            graph_url=self.base_url_for(channel),
            api_version=self._api_version(),
            timeout=_timeout(),
            number_fields=_setting("WHATSAPP_PHONE_NUMBER_FIELDS"),
            app_id=_setting("WHATSAPP_APP_ID"),
        )

    def webhook_addressees(self, payload: Any) -> list[WebhookAddressee] | None:
        """Each change's `value.metadata.phone_number_id`, or its entry's `id` (the WABA) for a
        change that names no number (template, account and quality updates)."""
        found: list[WebhookAddressee] = []
        entries = payload.get("entry") if isinstance(payload, dict) else None
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            changes = entry.get("changes")
            for change in changes if isinstance(changes, list) else []:
                value = change.get("value") if isinstance(change, dict) else None
                metadata = value.get("metadata") if isinstance(value, dict) else None
                number = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
                if isinstance(number, str | int) and not isinstance(number, bool) and number:
                    found.append(WebhookAddressee("phone_number_id", str(number)))
                elif isinstance(entry.get("id"), str | int) and entry.get("id"):
                    found.append(WebhookAddressee("waba_id", str(entry["id"])))
                else:
                    found.append(WebhookAddressee("phone_number_id", ""))  # names no channel
        return found

    def webhook_credentials(self, channels: Iterable[ChannelConfig]) -> WebhookCredentials:
        """The app secret of each channel the body names, "" where a channel has none: a
        webhook is verified only with the secret of the channels it is for, never with
        another channel's or a global one (one Meta app, one secret, for all its numbers)."""
        keys = {c.secret(c.app_secret_setting) for c in channels}
        return WebhookCredentials(signing_keys=tuple(sorted(keys)))

    def verify_webhook(
        self, headers: Mapping[str, str], raw_body: bytes, credentials: WebhookCredentials
    ) -> bool:
        """Authentic when the signature matches the secret of every channel the body names:
        a body naming numbers of two apps (two secrets), or a channel without a secret, is
        refused. Every key is checked (no early exit) so timing says nothing."""
        keys = credentials.signing_keys
        valid = [meta_cloud.verify_signature(k, headers, raw_body) for k in keys]
        return bool(keys) and all(valid)

    def verify_subscription(self, params: Mapping[str, str]) -> str | None:
        return meta_cloud.subscription_challenge(params, _setting("WHATSAPP_WEBHOOK_VERIFY_TOKEN"))

    def parse_webhook(self, payload: Any) -> list[WebhookEvent]:
        return meta_cloud.parse_webhook(payload)


@register
class MyOperatorType(ProviderType):
    """MyOperator, an Indian Business Solution Provider (WHATSAPP.md section 3)."""

    code = "myoperator"
    label = "MyOperator"
    client_class = myoperator.MyOperatorProvider
    webhook_auth_headers = ("Authorization", myoperator.TOKEN_HEADER, myoperator.SIGNATURE_HEADER)
    webhook_accepts_list = True
    webhook_url_name = "webhooks:myoperator"
    webhook_setup = "In MyOperator's panel: this callback URL with the webhook token."

    def secret_settings(self, channel: ChannelConfig) -> list[tuple[str, str]]:
        # The callback is authenticated account-wide: its token, and signatures keyed with
        # the API key (`webhook_credentials`); the channel's app secret is not used.
        return [
            ("API key", channel.token_setting),
            ("Company id", channel.company_id_setting or "MYOPERATOR_COMPANY_ID"),
            ("Webhook token", "MYOPERATOR_WEBHOOK_TOKEN"),
        ]

    def default_base_url(self) -> str:
        return myoperator.DEFAULT_BASE_URL

    def settings_config(self) -> dict[str, Any]:
        return {
            "api_key": _setting("MYOPERATOR_API_KEY"),
            "company_id": _setting("MYOPERATOR_COMPANY_ID"),
            "phone_number_id": _setting("WHATSAPP_PHONE_NUMBER_ID"),
            "waba_id": _setting("WHATSAPP_BUSINESS_ACCOUNT_ID"),
        }

    def client_for(self, channel: ChannelConfig) -> Provider:
        return self.build(
            api_key=channel.secret(channel.token_setting),
            company_id=channel.secret(channel.company_id_setting or "MYOPERATOR_COMPANY_ID"),
            phone_number_id=channel.phone_number_id,
            waba_id=channel.waba_id,
            webhook_token=channel.secret("MYOPERATOR_WEBHOOK_TOKEN") or None,
            base_url=self.base_url_for(channel),
            timeout=_timeout(),
        )

    def webhook_credentials(self, channels: Iterable[ChannelConfig]) -> WebhookCredentials:
        """The account's webhook token and API key (the signing key) from the settings: the
        callback URL and its headers are configured once per account in MyOperator's panel."""
        token, key = _setting("MYOPERATOR_WEBHOOK_TOKEN"), _setting("MYOPERATOR_API_KEY")
        return WebhookCredentials(
            signing_keys=(key,) if key else (), tokens=(token,) if token else ()
        )

    def verify_webhook(
        self, headers: Mapping[str, str], raw_body: bytes, credentials: WebhookCredentials
    ) -> bool:
        tokens = [myoperator.token_matches(t, headers) for t in credentials.tokens]
        signatures = [
            myoperator.signature_matches(k, headers, raw_body) for k in credentials.signing_keys
        ]
        return any(tokens) or any(signatures)

    def parse_webhook(self, payload: Any) -> list[WebhookEvent]:
        return myoperator.parse_webhook(payload)
