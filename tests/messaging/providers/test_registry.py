"""The provider-type registry: each code's client, default host, webhook rules and probe."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from messaging.providers import (
    PROVIDER_CODES,
    StatusUpdate,
    UnknownProvider,
    build_provider,
    provider_class,
    provider_codes,
    provider_type,
    provider_types,
    registry,
)
from messaging.providers.base import OutboundMessage
from messaging.providers.meta_cloud import (
    DEFAULT_GRAPH_URL,
    MetaCloudProvider,
    signature_for,
)
from messaging.providers.myoperator import DEFAULT_BASE_URL, MyOperatorProvider
from messaging.providers.registry import WebhookCredentials

from .support import APP_SECRET, PHONE_NUMBER_ID, TOKEN, WABA_ID, json_answer, load_fixture

REPO = Path(__file__).resolve().parents[3]
BODY = b'{"object":"whatsapp_business_account","entry":[]}'


@dataclass
class FakeChannel:
    """What a provider type may read from a channel: attributes and `secret(name)`."""

    provider: str
    phone_number_id: str = PHONE_NUMBER_ID
    waba_id: str = WABA_ID
    base_url: str = ""
    token_setting: str = "TOKEN_SETTING"
    app_secret_setting: str = "APP_SECRET_SETTING"
    company_id_setting: str = ""
    secrets: dict[str, str] = field(default_factory=dict)

    def secret(self, setting_name: str) -> str:
        return self.secrets.get(setting_name, "")


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- Registration ------------------------------------------------------------------------------


def test_each_provider_type_is_registered_under_its_code():
    assert provider_codes() == PROVIDER_CODES == ("meta_cloud", "myoperator")
    assert [t.code for t in provider_types()] == ["meta_cloud", "myoperator"]
    assert provider_type("meta_cloud").client_class is MetaCloudProvider
    assert provider_type("myoperator").client_class is MyOperatorProvider
    assert provider_class("myoperator") is MyOperatorProvider
    for ptype in provider_types():
        assert ptype.client_class.code == ptype.code
        assert ptype.label


def test_the_channel_choices_are_the_registered_codes():
    from messaging.models import Provider

    assert set(Provider.values) == set(provider_codes())
    assert provider_type(Provider.MYOPERATOR).code == "myoperator"


@pytest.mark.parametrize("code", ["carrier_pigeon", "", None, "META_CLOUD"])
def test_an_unknown_code_raises_a_clear_error(code):
    with pytest.raises(UnknownProvider) as raised:
        provider_type(code)
    assert isinstance(raised.value, ValueError)
    assert f"unknown provider {code!r}" in str(raised.value)
    assert "'meta_cloud', 'myoperator'" in str(raised.value)
    with pytest.raises(ValueError, match="unknown provider"):
        build_provider(code or "x", phone_number_id="1")


def test_a_new_type_is_one_registered_class(monkeypatch):
    monkeypatch.setattr(registry, "_TYPES", dict(registry._TYPES))

    @registry.register
    class Pigeon(registry.MyOperatorType):
        code = "pigeon"
        label = "Carrier pigeon"

        def default_base_url(self) -> str:
            return "https://pigeon.example"

    assert provider_type("pigeon").base_url_for(FakeChannel("pigeon")) == "https://pigeon.example"
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Pigeon)


# --- Clients from a channel --------------------------------------------------------------------


def test_meta_client_from_a_channel_sends_through_the_simulator(simulator):
    channel = FakeChannel(
        "meta_cloud",
        base_url=simulator.url,
        secrets={"TOKEN_SETTING": TOKEN, "APP_SECRET_SETTING": APP_SECRET},
    )
    client = provider_type("meta_cloud").client_for(channel)
    assert isinstance(client, MetaCloudProvider)
    assert (client.phone_number_id, client.waba_id) == (PHONE_NUMBER_ID, WABA_ID)
    assert client.graph_url == simulator.url
    result = client.send(OutboundMessage(type="text", content={"body": "hi"}, to="+919876543210"))
    assert result.provider_message_id.startswith("wamid.")
    # The app secret named by the channel is the one its client checks webhooks with.
    assert client.verify_webhook({"X-Hub-Signature-256": signature_for(APP_SECRET, BODY)}, BODY)


def test_meta_client_uses_the_default_graph_url_and_configured_timeouts(settings):
    settings.WHATSAPP_GRAPH_URL = "http://127.0.0.1:8001/"
    settings.PROVIDER_CONNECT_TIMEOUT, settings.PROVIDER_READ_TIMEOUT = 1.5, 7.0
    client = provider_type("meta_cloud").client_for(FakeChannel("meta_cloud"))
    assert client.graph_url == "http://127.0.0.1:8001"
    assert client.timeout == (1.5, 7.0)


def test_myoperator_client_from_a_channel(loopback, settings):
    settings.PROVIDER_CONNECT_TIMEOUT, settings.PROVIDER_READ_TIMEOUT = 1.0, 1.0
    accepted = {"status": "success", "data": {"message_id": "myop-1"}}
    server = loopback(lambda request: json_answer(accepted))
    channel = FakeChannel(
        "myoperator",
        base_url=server.url,
        company_id_setting="MY_COMPANY",
        secrets={"TOKEN_SETTING": "api-key", "MY_COMPANY": "co-7", "MYOPERATOR_WEBHOOK_TOKEN": "t"},
    )
    client = provider_type("myoperator").client_for(channel)
    assert isinstance(client, MyOperatorProvider)
    assert (client.company_id, client.phone_number_id) == ("co-7", PHONE_NUMBER_ID)
    client.send(OutboundMessage(type="text", content={"body": "hi"}, to="+919876543210"))
    request = server.wait_for(1)[0]
    assert request["path"] == "/chat/messages"
    assert request["headers"]["Authorization"] == "Bearer api-key"
    assert request["headers"]["X-MYOP-COMPANY-ID"] == "co-7"
    assert client.verify_webhook({"Authorization": "Bearer t"}, BODY)


def test_myoperator_company_id_defaults_to_the_install_setting():
    channel = FakeChannel("myoperator", secrets={"MYOPERATOR_COMPANY_ID": "co-default"})
    client = provider_type("myoperator").client_for(channel)
    assert client.company_id == "co-default"
    assert client.base_url == DEFAULT_BASE_URL
    assert not client.verify_webhook({"Authorization": "Bearer "}, BODY)  # no webhook token


# --- Default base URLs -------------------------------------------------------------------------


def test_default_base_urls(settings):
    meta, myop = provider_type("meta_cloud"), provider_type("myoperator")
    settings.WHATSAPP_GRAPH_URL = "http://127.0.0.1:8001"
    assert meta.default_base_url() == "http://127.0.0.1:8001"
    settings.WHATSAPP_GRAPH_URL = ""
    assert meta.default_base_url() == DEFAULT_GRAPH_URL == "https://graph.facebook.com"
    assert myop.default_base_url() == DEFAULT_BASE_URL == "https://publicapi.myoperator.co"
    own = FakeChannel("myoperator", base_url="https://myop.example")
    assert myop.base_url_for(own) == "https://myop.example"
    assert myop.base_url_for(FakeChannel("myoperator")) == DEFAULT_BASE_URL


# --- Webhook verification ----------------------------------------------------------------------


def test_meta_credentials_are_the_secrets_of_the_channels_named_only(settings):
    """Regression: the install secret and every channel's secret used to be accepted for any
    body, so a channel naming LANGUAGE_CODE ("en-us") let anyone sign a forged webhook."""
    settings.WHATSAPP_APP_SECRET = "main-secret"
    one = FakeChannel("meta_cloud", app_secret_setting="A", secrets={"A": "one-secret"})
    other = FakeChannel("meta_cloud", app_secret_setting="B", secrets={"B": "other-secret"})
    unset = FakeChannel("meta_cloud", app_secret_setting="C")
    meta = provider_type("meta_cloud")
    assert meta.webhook_credentials([one]).signing_keys == ("one-secret",)
    assert meta.webhook_credentials([one, one]).signing_keys == ("one-secret",)
    assert meta.webhook_credentials([one, other]).signing_keys == ("one-secret", "other-secret")
    assert meta.webhook_credentials([unset]).signing_keys == ("",)
    assert not meta.webhook_credentials([])  # no channel named: not the install secret either


def test_meta_verification_needs_the_secret_of_every_channel_named():
    meta = provider_type("meta_cloud")
    one = WebhookCredentials(signing_keys=("one",))
    headers = {"X-Hub-Signature-256": signature_for("one", BODY)}
    assert meta.verify_webhook(headers, BODY, one)
    assert not meta.verify_webhook(headers, BODY + b" ", one)  # other bytes
    assert not meta.verify_webhook({"X-Hub-Signature-256": signature_for("two", BODY)}, BODY, one)
    assert not meta.verify_webhook({}, BODY, one)
    # Two apps' numbers in one body: no single signature is valid for both.
    assert not meta.verify_webhook(headers, BODY, WebhookCredentials(signing_keys=("one", "two")))
    # A named channel without a secret refuses, even signed with an empty key.
    empty = {"X-Hub-Signature-256": signature_for("", BODY)}
    assert not meta.verify_webhook(empty, BODY, WebhookCredentials(signing_keys=("",)))
    assert not meta.verify_webhook(headers, BODY, WebhookCredentials())  # nothing configured
    assert meta.webhook_auth_headers == ("X-Hub-Signature-256",)


def test_meta_webhook_addressees_are_each_changes_number_or_account():
    from messaging.providers.registry import WebhookAddressee

    meta = provider_type("meta_cloud")
    body = {
        "entry": [
            {"id": "waba-1", "changes": [
                {"value": {"metadata": {"phone_number_id": "pn-1"}}},
                {"field": "message_template_status_update", "value": {"event": "APPROVED"}},
            ]},
            {"changes": [{"value": {}}]},
            "junk",
        ]
    }  # fmt: skip
    assert meta.webhook_addressees(body) == [
        WebhookAddressee("phone_number_id", "pn-1"),
        WebhookAddressee("waba_id", "waba-1"),
        WebhookAddressee("phone_number_id", ""),
    ]
    for junk in (None, [], {"entry": "x"}, {"entry": [{"changes": [1, None]}]}):
        assert isinstance(meta.webhook_addressees(junk), list)
    assert provider_type("myoperator").webhook_addressees({"entry": []}) is None


def test_meta_subscription_handshake(settings):
    meta = provider_type("meta_cloud")
    settings.WHATSAPP_WEBHOOK_VERIFY_TOKEN = "verify-me"
    query = {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "42"}
    assert meta.verify_subscription(query) == "42"
    assert meta.verify_subscription({**query, "hub.verify_token": "nope"}) is None
    assert meta.verify_subscription({**query, "hub.mode": "unsubscribe"}) is None
    settings.WHATSAPP_WEBHOOK_VERIFY_TOKEN = ""
    assert meta.verify_subscription({**query, "hub.verify_token": ""}) is None
    assert provider_type("myoperator").verify_subscription(query) is None


def test_myoperator_verification_by_token_or_signature(settings):
    myop = provider_type("myoperator")
    settings.MYOPERATOR_WEBHOOK_TOKEN, settings.MYOPERATOR_API_KEY = "hook-token", "api-key"
    credentials = myop.webhook_credentials([FakeChannel("myoperator")])
    assert credentials == WebhookCredentials(signing_keys=("api-key",), tokens=("hook-token",))
    digest = hmac.new(b"api-key", BODY, hashlib.sha256).hexdigest()
    assert myop.verify_webhook({"Authorization": "Bearer hook-token"}, BODY, credentials)
    assert myop.verify_webhook({"X-MyOperator-Token": "hook-token"}, BODY, credentials)
    assert myop.verify_webhook({"X-MyOperator-Signature": f"sha256={digest}"}, BODY, credentials)
    assert not myop.verify_webhook({"Authorization": "Bearer other"}, BODY, credentials)
    assert not myop.verify_webhook({"X-MyOperator-Signature": digest}, BODY + b" ", credentials)
    assert not myop.verify_webhook({}, BODY, credentials)
    assert not myop.verify_webhook(
        {"Authorization": "Bearer hook-token"}, BODY, WebhookCredentials()
    )
    settings.MYOPERATOR_WEBHOOK_TOKEN = settings.MYOPERATOR_API_KEY = ""
    assert not myop.webhook_credentials([])
    assert myop.webhook_accepts_list and not provider_type("meta_cloud").webhook_accepts_list


# --- Parsing -----------------------------------------------------------------------------------


def test_each_type_parses_its_own_payloads():
    meta_events = provider_type("meta_cloud").parse_webhook(load_fixture("statuses.json"))
    assert isinstance(meta_events[0], StatusUpdate) and meta_events[0].wamid == "wamid.OUT1"
    myop_events = provider_type("myoperator").parse_webhook(
        [{"event": "message.delivered", "message_id": "m-1", "timestamp": 1767225600}]
    )
    assert [(e.wamid, e.status) for e in myop_events] == [("m-1", "delivered")]


# --- Health probe ------------------------------------------------------------------------------


def test_probe_against_the_simulator_and_a_closed_port(simulator):
    for ptype in provider_types():
        reachable = ptype.probe(simulator.url, timeout=1.0)
        assert reachable["ok"] is True and "http_status" in reachable
        closed = ptype.probe(f"http://127.0.0.1:{free_port()}", timeout=0.5)
        assert closed["ok"] is False and closed["error"]
        assert ptype.probe("ftp://example.invalid/", timeout=0.5)["error"] == "not an http(s) URL"
        assert ptype.probe("http://127.0.0.1:99999/", timeout=0.5)["ok"] is False


# --- No branching on provider codes elsewhere --------------------------------------------------

CODE_BRANCH = re.compile(
    r"(==|!=|\bin\b)\s*\(?\s*(Provider\.(META_CLOUD|MYOPERATOR)|[\"'](meta_cloud|myoperator)[\"'])"
)


def test_no_code_outside_the_providers_branches_on_a_provider_code():
    offenders = []
    for app in ("core", "crm", "messaging", "analytics", "config"):
        for path in (REPO / app).rglob("*.py"):
            relative = path.relative_to(REPO).as_posix()
            if relative.startswith("messaging/providers/") or "/migrations/" in relative:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if CODE_BRANCH.search(line):
                    offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == [], json.dumps(offenders, indent=1)
