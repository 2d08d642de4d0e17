"""Error reports to Sentry carry no secret (RELIABILITY.md): the SDK runs for real with a
transport that keeps envelopes in memory (no network), a view raises with secrets in its
message, its local variables and the request's headers, and the captured event is searched
for every one of them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import requests
import sentry_sdk
from django.conf import settings as django_settings
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from sentry_sdk.transport import Transport

from core.error_reports import FILTERED, event_scrub, secret_values, sentry_init

pytestmark = pytest.mark.django_db(transaction=True)

SECRETS = {
    "WHATSAPP_API_TOKEN": "wa-token-7f3a9c1e5b",
    "WHATSAPP_APP_SECRET": "wa-app-secret-2d8e4f",
    "MYOPERATOR_API_KEY": "myop-key-91b7c3",
    "METRICS_TOKEN": "metrics-token-5e1f0a",
    "AI_RESPONDER_API_KEY": "ai-key-0c6d2e9f",
    "SECRET_KEY": "django-secret-key-4b9e1d7a3c",
}
DB_PASSWORD = "pg-password-8a2c4e"
PHONE = "+919812345678"


def _boom(request):
    token = django_settings.WHATSAPP_API_TOKEN  # a local variable holding a secret
    note = f"calling with {django_settings.WHATSAPP_APP_SECRET}"
    raise RuntimeError(f"provider refused {token} ({note}, key {django_settings.SECRET_KEY})")


@csrf_exempt  # as the real webhook views are
def _webhook_boom(request):
    request.body  # noqa: B018 - Sentry reads the body Django already loaded
    raise RuntimeError("webhook processing failed")


def _ok(request):
    return HttpResponse("ok")


urlpatterns = [
    path("boom/", _boom),
    path("webhooks/boom/", _webhook_boom),
    path("ok/", _ok),
]


class MemoryTransport(Transport):
    """Keeps every envelope the SDK would send."""

    def __init__(self, options=None):
        super().__init__(options)
        self.envelopes = []

    def capture_envelope(self, envelope):
        self.envelopes.append(envelope)

    def events(self) -> list[dict]:
        return [
            item.payload.json
            for envelope in self.envelopes
            for item in envelope.items
            if item.type == "event"
        ]


@pytest.fixture
def sentry(settings):
    for name, value in SECRETS.items():
        setattr(settings, name, value)
    settings.DATABASE_URL = f"postgres://parley:{DB_PASSWORD}@db.internal:5432/parley"
    transport = MemoryTransport()
    sentry_init(
        dsn="https://public@sentry.invalid/1",
        environment="test",
        release="parley@test",
        traces_sample_rate=0.0,
        transport=transport,
    )
    yield transport
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # no DSN: reports off again for the other tests


def _assert_no_secret(event: dict) -> None:
    text = json.dumps(event)
    for name, value in SECRETS.items():
        assert value not in text, f"{name} leaked"
    assert DB_PASSWORD not in text
    assert "sha256=" not in text  # the webhook signature


@pytest.fixture
def server(sentry, live_server, settings):
    """A real WSGI server (Sentry's request data comes from its WSGI middleware, which the
    test client bypasses) serving this module's views."""
    settings.ROOT_URLCONF = __name__
    session = requests.Session()
    session.trust_env = False
    return live_server.url, session


def test_an_error_in_a_view_is_reported_without_any_secret(sentry, server):
    url, session = server
    response = session.get(
        f"{url}/boom/?page=2",
        headers={
            "Authorization": f"Bearer {SECRETS['METRICS_TOKEN']}",
            "X-Hub-Signature-256": "sha256=" + "ab" * 32,
            "X-Api-Key": SECRETS["MYOPERATOR_API_KEY"],
            "Cookie": "sessionid=s3ss10n-id-value; csrftoken=csrf-value-123",
        },
        timeout=10,
    )
    assert response.status_code == 500
    sentry_sdk.flush()
    (event,) = sentry.events()
    _assert_no_secret(event)
    assert "s3ss10n-id-value" not in json.dumps(event)
    # The report is still useful: what failed, where, in which environment and release.
    assert event["exception"]["values"][0]["type"] == "RuntimeError"
    assert "provider refused [Filtered]" in event["exception"]["values"][0]["value"]
    assert event["environment"] == "test" and event["release"] == "parley@test"
    assert event["request"]["url"].endswith("/boom/")
    headers = {k.lower(): v for k, v in event["request"]["headers"].items()}
    assert headers.get("authorization") in (None, FILTERED)
    assert headers["x-hub-signature-256"] == FILTERED
    assert headers["x-api-key"] == FILTERED
    assert headers.get("cookie") in (None, FILTERED)
    assert "cookies" not in event["request"]


def test_a_webhook_body_is_never_reported(sentry, server):
    url, session = server
    body = json.dumps({"entry": [{"changes": [{"value": {"contacts": [{"wa_id": PHONE}]}}]}]})
    response = session.post(
        f"{url}/webhooks/boom/",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 500
    sentry_sdk.flush()
    (event,) = sentry.events()
    assert PHONE not in json.dumps(event)
    assert event["request"].get("data") in (None, FILTERED)


def test_the_scrubber_on_its_own():
    event = {
        "request": {
            "url": "https://parley.example/webhooks/whatsapp/",
            "headers": {"Cookie": "sessionid=abc", "X-Hub-Signature": "sha1=00", "Accept": "*/*"},
            "cookies": {"sessionid": "abc"},
            "data": '{"from": "919812345678"}',
            "query_string": "hub.verify_token=x",
        },
        "breadcrumbs": {"values": [{"message": f"token {django_settings.WHATSAPP_API_TOKEN}"}]},
    }
    scrubbed = event_scrub(event, {})
    request = scrubbed["request"]
    assert request["headers"] == {
        "Cookie": FILTERED,
        "X-Hub-Signature": FILTERED,
        "Accept": "*/*",
    }
    assert "cookies" not in request and "query_string" not in request
    assert request["data"] == FILTERED
    assert scrubbed["breadcrumbs"]["values"][0]["message"] == f"token {FILTERED}"


def test_secret_settings_are_found_by_name_and_url_passwords(settings):
    settings.WHATSAPP_API_TOKEN = "abcdefgh-token"
    settings.SOME_SERVICE_PASSWORD = "hunter2-long"
    settings.REDIS_URL = "redis://:redis-pass-123@cache:6379/0"
    settings.WHATSAPP_API_VERSION = "v25.0"  # matches WHATSAPP_* but is no secret
    found = secret_values()
    assert {"abcdefgh-token", "hunter2-long", "redis-pass-123"} <= set(found)
    assert "v25.0" not in found
    assert found == sorted(found, key=len, reverse=True)


def _sentry_active(extra_env: dict[str, str]) -> str:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", **extra_env}
    env.pop("SENTRY_DSN", None) if "SENTRY_DSN" not in extra_env else None
    code = (
        "import django; django.setup(); import sentry_sdk; "
        "c = sentry_sdk.get_client(); "
        "print(c.is_active(), c.options.get('send_default_pii'), c.options.get('environment'), "
        "sorted(i for i in c.integrations if i in ('django', 'celery')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


def test_the_settings_start_sentry_only_when_a_dsn_is_set():
    assert _sentry_active({}).startswith("False")
    out = _sentry_active({"SENTRY_DSN": "https://public@sentry.invalid/1"})
    assert out == "True False test ['celery', 'django']"
