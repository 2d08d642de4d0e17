"""POST/GET /webhooks/whatsapp/ and /webhooks/myoperator/: authenticate, store, answer."""

import hashlib
import hmac
import json
from unittest import mock

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from messaging.models import WebhookEvent, WebhookState
from messaging.webhooks.tasks import webhook_drain
from tests.factories import ChannelFactory
from tests.messaging.webhooks.support import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    VERIFY_TOKEN,
    WABA_ID,
    envelope,
    fixture,
    fixture_bytes,
    post_signed,
    sign,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("webhook_settings")]


@pytest.fixture
def webhook_settings(settings):
    from messaging.webhooks import intake

    settings.WHATSAPP_APP_SECRET = APP_SECRET
    settings.WHATSAPP_WEBHOOK_VERIFY_TOKEN = VERIFY_TOKEN
    intake._forget_secrets()
    ChannelFactory(phone_number_id=PHONE_NUMBER_ID, waba_id=WABA_ID)  # the fixtures' number
    yield settings
    intake._forget_secrets()


URL = "/webhooks/whatsapp/"


@pytest.fixture
def enqueued():
    with mock.patch.object(webhook_drain, "apply_async") as apply_async:
        yield apply_async


# --- Verification handshake (GET) -------------------------------------------------------------


def verify(client, **params):
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    query.update(params)
    return client.get(URL, query)


def test_handshake_echoes_the_challenge_as_plain_text(client):
    response = verify(client)
    assert response.status_code == 200
    assert response.content == b"1158201444"
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    "params",
    [
        {"hub.verify_token": "wrong"},
        {"hub.verify_token": ""},
        {"hub.mode": "unsubscribe"},
        {"hub.mode": ""},
    ],
)
def test_handshake_refuses_a_wrong_token_or_mode(client, params):
    assert verify(client, **params).status_code == 403


def test_handshake_refuses_everything_without_a_configured_token(client, settings):
    settings.WHATSAPP_WEBHOOK_VERIFY_TOKEN = ""
    assert verify(client, **{"hub.verify_token": ""}).status_code == 403


def test_handshake_needs_no_signature(client):
    # A GET carries no X-Hub-Signature-256 and must not be refused for it.
    assert verify(client).status_code == 200
    assert not WebhookEvent.objects.exists()


# --- Notifications (POST) ---------------------------------------------------------------------


def test_a_signed_body_is_stored_verbatim_and_enqueued_after_commit(
    client, enqueued, django_capture_on_commit_callbacks
):
    raw = fixture_bytes("text_message.json")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post_signed(client, raw)
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.body.encode() == raw
    assert event.body_sha256 == hashlib.sha256(raw).hexdigest()
    assert event.provider == "meta_cloud"
    assert event.state == WebhookState.PENDING
    assert len(callbacks) == 1
    enqueued.assert_called_once_with(retry=False)


def test_the_intake_is_one_insert(client, enqueued, django_assert_num_queries):
    post_signed(client, fixture("text_message.json"))  # warms the per-process secret cache
    payload = fixture("statuses_lifecycle.json")
    with django_assert_num_queries(1):
        assert post_signed(client, payload).status_code == 200


def test_missing_signature_is_401_and_nothing_is_stored(client):
    response = client.post(
        URL, data=fixture_bytes("text_message.json"), content_type="application/json"
    )
    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()


def test_wrong_secret_is_403_and_nothing_is_stored(client):
    response = post_signed(client, fixture_bytes("text_message.json"), secret="not-the-secret")
    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()


def test_the_signature_covers_the_exact_bytes(client):
    raw = fixture_bytes("text_message.json")
    respaced = json.dumps(json.loads(raw), separators=(",", ":")).encode()
    assert json.loads(respaced) == json.loads(raw) and respaced != raw
    response = client.post(
        URL, data=respaced, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=sign(raw)
    )
    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()


def test_an_unsigned_body_is_refused_even_when_no_secret_is_configured(client, settings):
    settings.WHATSAPP_APP_SECRET = ""
    raw = fixture_bytes("text_message.json")
    response = client.post(
        URL, data=raw, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=sign(raw, "")
    )
    assert response.status_code == 403


def test_a_channel_may_name_its_own_app_secret(client, settings, enqueued):
    settings.WHATSAPP_SECOND_APP_SECRET = "second-app-secret"
    ChannelFactory(
        phone_number_id="200000000000009",
        waba_id="100000000000009",
        app_secret_setting="WHATSAPP_SECOND_APP_SECRET",
    )
    body = envelope(
        "messages", {"messages": []}, waba_id="100000000000009", phone_number_id="200000000000009"
    )
    assert post_signed(client, body, secret="second-app-secret").status_code == 200
    assert WebhookEvent.objects.count() == 1


def test_a_webhook_is_verified_only_with_the_secret_of_the_channel_it_names(client, settings):
    """Regression: any channel's secret (or the install's) verified any body."""
    settings.WHATSAPP_SECOND_APP_SECRET = "second-app-secret"
    ChannelFactory(
        phone_number_id="200000000000009",
        waba_id="100000000000009",
        app_secret_setting="WHATSAPP_SECOND_APP_SECRET",
    )
    # A body for the first number, signed with the second number's secret.
    raw = fixture_bytes("text_message.json")
    assert post_signed(client, raw, secret="second-app-secret").status_code == 403
    # A body for the second number, signed with the install-wide secret.
    body = envelope("messages", {"messages": []}, phone_number_id="200000000000009")
    assert post_signed(client, body, secret=APP_SECRET).status_code == 403
    # A body naming numbers of both apps cannot carry one valid signature.
    both = envelope("messages", {"messages": []})
    both["entry"].append(envelope("messages", {}, phone_number_id="200000000000009")["entry"][0])
    assert post_signed(client, both).status_code == 403
    assert post_signed(client, both, secret="second-app-secret").status_code == 403
    assert not WebhookEvent.objects.exists()


def test_a_body_for_an_unknown_channel_is_refused_and_stored_nowhere(client):
    body = envelope("messages", {"messages": []}, phone_number_id="999999999999999")
    response = post_signed(client, body)
    assert response.status_code == 403
    assert response.content == b"unknown channel"
    no_change = {"object": "whatsapp_business_account", "entry": []}
    assert post_signed(client, no_change).status_code == 403
    unknown_waba = envelope("account_update", {"event": "X"}, waba_id="1", phone_number_id=None)
    assert post_signed(client, unknown_waba).status_code == 403
    assert not WebhookEvent.objects.exists()


def test_an_account_change_is_verified_with_the_secret_of_its_wabas_numbers(client, enqueued):
    body = envelope(
        "message_template_status_update",
        {"event": "APPROVED", "message_template_name": "order_update"},
        waba_id=WABA_ID,
        phone_number_id=None,
    )
    assert post_signed(client, body).status_code == 200


def test_a_stored_disallowed_secret_setting_cannot_sign_a_forged_stop(client, settings):
    """Regression: a channel whose app secret "setting" was LANGUAGE_CODE let an anonymous
    webhook signed with "en-us" store a forged STOP."""
    from messaging.models import Channel

    # Written around validation, as a row stored before the rule would be.
    Channel.objects.filter(phone_number_id=PHONE_NUMBER_ID).update(
        app_secret_setting="LANGUAGE_CODE"
    )
    assert settings.LANGUAGE_CODE == "en-us"
    stop = fixture("text_message.json")
    response = post_signed(client, stop, secret="en-us")
    assert response.status_code == 403
    assert post_signed(client, stop, secret=APP_SECRET).status_code == 403  # nor the global one
    assert not WebhookEvent.objects.exists()


def test_a_body_over_3_mb_is_413_and_nothing_is_stored(client):
    padding = "x" * (3 * 1024 * 1024)
    response = post_signed(client, {"object": "whatsapp_business_account", "pad": padding})
    assert response.status_code == 413
    assert not WebhookEvent.objects.exists()


def test_a_declared_length_over_the_limit_is_413_before_reading(client):
    raw = fixture_bytes("text_message.json")
    response = post_signed(client, raw, CONTENT_LENGTH=str(3 * 1024 * 1024 + 1))
    assert response.status_code == 413


def test_a_body_larger_than_djangos_upload_limit_is_accepted(client, settings, enqueued):
    # DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB by default) must not turn a valid 2.9 MB body into a 400.
    assert int(2.9 * 1024 * 1024) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    payload = fixture("text_message.json")
    payload["padding"] = "y" * int(2.9 * 1024 * 1024)
    assert post_signed(client, payload).status_code == 200
    assert WebhookEvent.objects.count() == 1


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"", b"[1, 2, 3]", b'"text"', b"\xff\xfe{}", b'{"truncated": '],
)
def test_a_signed_body_that_is_not_a_json_object_is_400(client, raw):
    assert post_signed(client, raw).status_code == 400
    assert not WebhookEvent.objects.exists()


def test_duplicate_bodies_are_stored_once_and_enqueued_once(
    client, enqueued, django_capture_on_commit_callbacks
):
    raw = fixture_bytes("statuses_lifecycle.json")
    with django_capture_on_commit_callbacks(execute=True):
        responses = [post_signed(client, raw) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert WebhookEvent.objects.count() == 1
    assert enqueued.call_count == 1


def test_a_database_failure_is_503_so_meta_retries(client):
    # A statement the database refuses stands in for a full disk or a lost connection.
    with mock.patch(
        "messaging.webhooks.services._insert_sql", return_value="INSERT INTO no_such_table"
    ):
        response = post_signed(client, fixture_bytes("text_message.json"))
    assert response.status_code == 503
    assert not WebhookEvent.objects.exists()


def test_a_broker_failure_still_answers_200(client, django_capture_on_commit_callbacks):
    with (
        mock.patch.object(webhook_drain, "apply_async", side_effect=ConnectionError("down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = post_signed(client, fixture_bytes("text_message.json"))
    assert response.status_code == 200
    assert WebhookEvent.objects.get().state == WebhookState.PENDING  # the sweeper's job now


def test_the_trailing_slash_is_optional(client, enqueued):
    response = post_signed(client, fixture_bytes("text_message.json"), path="/webhooks/whatsapp")
    assert response.status_code == 200


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_other_methods_are_405(client, method):
    assert getattr(client, method)(URL).status_code == 405


def test_the_webhook_works_with_csrf_checks_enforced(enqueued):
    client = Client(enforce_csrf_checks=True)
    assert post_signed(client, fixture_bytes("text_message.json")).status_code == 200


def _callbacks(resolver, prefix=""):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _callbacks(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


def test_the_webhooks_and_metrics_are_the_only_csrf_exempt_views():
    """The webhooks authenticate by signature; /metrics answers GET only (405 otherwise)."""
    from rest_framework.views import APIView

    exempt = set()
    for _route, callback in _callbacks(get_resolver()):
        if not getattr(callback, "csrf_exempt", False):
            continue
        view_class = getattr(callback, "cls", None)
        if view_class is not None and issubclass(view_class, APIView):
            continue  # DRF exempts its views and enforces CSRF itself for session auth
        exempt.add(f"{callback.__module__}.{callback.__name__}")
    assert exempt == {
        "messaging.webhooks.views.whatsapp_webhook",
        "messaging.webhooks.views.myoperator_webhook",
        "core.views.metrics",
    }


# --- MyOperator -------------------------------------------------------------------------------

MYOP_URL = "/webhooks/myoperator/"
MYOP_BODY = json.dumps(
    {
        "event": "message.delivered",
        "data": {
            "message_id": "6613a2a0c6f1",
            "phone_number_id": "200000000000001",
            "customer_country_code": "91",
            "customer_number": "9812345678",
            "status": "delivered",
            "timestamp": 1767225705,
        },
    }
).encode()


@pytest.fixture
def myoperator_settings(settings):
    settings.MYOPERATOR_API_KEY = "myop-api-key"
    settings.MYOPERATOR_COMPANY_ID = "company-1"
    settings.MYOPERATOR_WEBHOOK_TOKEN = "myop-webhook-token"
    return settings


def test_myoperator_accepts_its_bearer_token(client, myoperator_settings, enqueued):
    response = client.post(
        MYOP_URL,
        data=MYOP_BODY,
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer myop-webhook-token",
    )
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.provider == "myoperator"
    assert event.body.encode() == MYOP_BODY


def test_myoperator_accepts_an_hmac_signature_of_the_body(client, myoperator_settings, enqueued):
    digest = hmac.new(b"myop-api-key", MYOP_BODY, hashlib.sha256).hexdigest()
    response = client.post(
        MYOP_URL,
        data=MYOP_BODY,
        content_type="application/json",
        HTTP_X_MYOPERATOR_SIGNATURE=f"sha256={digest}",
    )
    assert response.status_code == 200


def test_myoperator_refuses_missing_or_wrong_credentials(client, myoperator_settings):
    assert client.post(MYOP_URL, MYOP_BODY, content_type="application/json").status_code == 401
    response = client.post(
        MYOP_URL, MYOP_BODY, content_type="application/json", HTTP_AUTHORIZATION="Bearer nope"
    )
    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()


def test_myoperator_refuses_non_json(client, myoperator_settings):
    response = client.post(
        MYOP_URL, b"<xml/>", content_type="text/xml", HTTP_AUTHORIZATION="Bearer myop-webhook-token"
    )
    assert response.status_code == 400
