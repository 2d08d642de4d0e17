"""Secrets never leave the process (RELIABILITY.md, access): not in logs at DEBUG, not in
error reports (the stored application errors), not in admin pages, not in API answers.

Every secret gets a recognisable value; then the code paths that handle them run for real
(the Meta provider against the simulator, succeeding and refused, template sync, webhooks
signed right and wrong, MyOperator, the AI responder, API tokens) with every logger at
DEBUG, and every GET of the API and the channel and token admin pages are rendered. None of
the values may appear anywhere in what was captured.
"""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client
from django.utils import timezone

from analytics.models import AppError
from core.services import api_token_create
from messaging.automation.responders.ai import AiResponder
from messaging.channels.templates import templates_sync
from messaging.models import Channel
from messaging.providers import OutboundMessage, build_provider
from messaging.providers.meta_cloud import signature_for
from messaging.providers.simulator import SimulatorServer
from messaging.sending.dispatch import send_batch_run
from messaging.sending.send import message_send
from tests.core.test_access_matrix import World, api_methods, routes
from tests.factories import ChannelFactory, ContactFactory, window_open
from tests.messaging.automation.test_responders import FakeAi
from tests.messaging.providers.support import Loopback, json_answer

pytestmark = pytest.mark.django_db

SECRETS = {
    "WHATSAPP_API_TOKEN": "EAAGsecretAccessToken0000xyz",
    "WHATSAPP_APP_SECRET": "appsecret1111meta",
    "WHATSAPP_WEBHOOK_VERIFY_TOKEN": "verifytoken5555hub",
    "MYOPERATOR_API_KEY": "myopsecretkey2222",
    "MYOPERATOR_WEBHOOK_TOKEN": "myophooktoken4444",
    "AI_RESPONDER_API_KEY": "sk-aisecret3333",
}


@pytest.fixture
def secret_settings(settings, tmp_path):
    for name, value in SECRETS.items():
        setattr(settings, name, value)
    settings.MYOPERATOR_COMPANY_ID = "company-1"
    settings.MEDIA_ROOT = tmp_path
    from messaging.webhooks import intake

    intake._forget_secrets()
    yield settings
    intake._forget_secrets()


@pytest.fixture
def debug_logs(caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "django.db.backends", "axes"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def body_of(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def leaks(text: str, extra: tuple[str, ...] = ()) -> list[str]:
    values = [*SECRETS.values(), *extra]
    return [value for value in values if value in text]


def test_secrets_stay_out_of_logs_error_reports_admin_and_api(
    secret_settings, debug_logs, capfd, settings, tmp_path, django_capture_on_commit_callbacks
):
    seen: list[str] = []  # every response body we render
    # Two sends to one contact in a second: the second must not wait out the recipient's gap.
    settings.SEND_RECIPIENT_MIN_GAP_SECONDS = 0
    sim = SimulatorServer(
        port=0,
        config={
            "access_token": SECRETS["WHATSAPP_API_TOKEN"],
            "webhooks": False,
            "app_secret": SECRETS["WHATSAPP_APP_SECRET"],
        },
    ).start()
    try:
        # The Meta provider: templates (paged), a send accepted, a send with a refused token.
        channel = ChannelFactory(base_url=sim.url, throughput_mps=100)
        assert not templates_sync(channel=channel).errors
        contact = ContactFactory(last_inbound_at=timezone.now())
        window_open(contact, channel)
        message_send(channel=channel, contact=contact, type="text", content={"body": "hi"})
        assert send_batch_run(channel_id=channel.pk, max_seconds=5)["accepted"] == 1
        sim.configure(access_token="a-different-token")
        message_send(channel=channel, contact=contact, type="text", content={"body": "again"})
        # On SQLite an error record is written when the caller's transaction commits.
        with django_capture_on_commit_callbacks(execute=True):
            send_batch_run(channel_id=channel.pk, max_seconds=5)
        channel.refresh_from_db()
        assert channel.paused_reason  # the refusal was logged at ERROR and stored
    finally:
        sim.stop()

    # Webhooks: signed right, signed wrong, a verification with a wrong token.
    client = Client()
    body = json.dumps({"object": "whatsapp_business_account", "entry": []}).encode()
    for secret in (SECRETS["WHATSAPP_APP_SECRET"], "wrong"):
        client.post(
            "/webhooks/whatsapp/",
            body,
            content_type="application/json",
            HTTP_X_HUB_SIGNATURE_256=signature_for(secret, body),
        )
    client.get(
        "/webhooks/whatsapp/",
        {"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"},
    )
    client.post(
        "/webhooks/myoperator/",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer wrong",
    )

    # MyOperator: refused, then accepted.
    answers = iter(
        [
            json_answer({"status": "error", "message": "Unauthorized"}, 401),
            json_answer({"status": "success", "data": {"message_id": "m-1"}}),
        ]
    )
    server = Loopback(lambda request: next(answers))
    try:
        provider = build_provider(
            "myoperator",
            base_url=server.url,
            api_key=SECRETS["MYOPERATOR_API_KEY"],
            company_id="company-1",
            phone_number_id="pn-1",
            waba_id="waba-1",
            timeout=(1, 1),
        )
        outbound = OutboundMessage(type="text", to="+919812345678", content={"body": "x"})
        for _ in range(2):
            try:
                provider.send(outbound)
            except Exception as exc:
                logging.getLogger("parley.test").exception("MyOperator refused: %s", exc)
    finally:
        server.close()

    # The AI responder: an error, then an answer.
    fake = FakeAi()
    try:
        settings.AI_RESPONDER_ENABLED = True
        settings.AI_RESPONDER_URL = fake.url
        fake.mode = "500"
        AiResponder().answer("when does my parcel come?", None)
        fake.mode = "ok"
        AiResponder().answer("when does my parcel come?", None)
        assert (
            fake.requests[-1]["headers"]["Authorization"]
            == f"Bearer {SECRETS['AI_RESPONDER_API_KEY']}"
        )
    finally:
        fake.stop()

    # The API with a token, every GET; and the admin pages about channels and tokens.
    world = World(settings, tmp_path)
    admin = world.users["Admin"]
    _, key = api_token_create(user=admin, name="secrets")
    api = Client()
    for route, view in sorted(routes().items()):
        if route.startswith("/api/") and "GET" in (api_methods(view) or set()):
            response = api.get(world.url(route), HTTP_AUTHORIZATION=f"Token {key}")
            assert response.status_code < 500, route
            seen.append(body_of(response))
    staff = Client()
    staff.force_login(admin)
    token = admin.api_tokens.first()
    for url in [
        "/admin/messaging/channel/",
        f"/admin/messaging/channel/{channel.pk}/change/",
        "/admin/messaging/channel/add/",
        "/admin/core/apitoken/",
        f"/admin/core/apitoken/{token.pk}/change/",
        "/staff/operations/health/",
        "/healthz",
    ]:
        response = staff.get(url)
        assert response.status_code in (200, 503), url
        seen.append(body_of(response))
    assert Channel.objects.get(pk=channel.pk).token_setting == "WHATSAPP_API_TOKEN"

    out, err = capfd.readouterr()
    reports = [f"{e.message}\n{e.traceback}" for e in AppError.objects.all()]
    assert reports, "the refused token should have left an error report"
    where = {
        "logs": debug_logs.text,
        "console": out + err,
        "error reports": "\n".join(reports),
        "pages and API answers": "\n".join(seen),
    }
    # The capture really ran at DEBUG, through the provider and transport code.
    assert "send type=text" in debug_logs.text and "-> 200 in" in debug_logs.text
    found = {name: leaks(text, (key,)) for name, text in where.items()}
    assert not any(found.values()), found
    assert "Authorization" not in debug_logs.text or "***" in debug_logs.text
