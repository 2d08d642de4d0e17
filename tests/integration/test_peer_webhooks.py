"""Third-party webhook bodies end to end: every file of the peer corpus (Meta's examples,
public projects' fixtures; `PEER_WEBHOOKS_DIR`, which `.ci/run` points at the shared folder
beside the clone) is signed and posted to the live intake, and real worker processes on
PostgreSQL and Redis process them all."""

from __future__ import annotations

import pytest
import requests

from messaging.models import WebhookEvent, WebhookState
from messaging.providers.meta_cloud import signature_for
from messaging.webhooks.services import body_sha256
from tests.integration.conftest import wait_for
from tests.messaging.webhooks.support import (
    peer_channel_create,
    peer_outbound_create,
    peer_outbound_problems,
    peer_webhook_files,
    peer_webhooks_dir,
)

APP_SECRET = "integration-app-secret"


@pytest.fixture
def webhook_url(live_server, settings):
    from messaging.webhooks import intake

    settings.WHATSAPP_APP_SECRET = APP_SECRET
    intake._forget_secrets()
    yield live_server.url + "/webhooks/whatsapp/"
    intake._forget_secrets()


def test_every_peer_body_is_processed_by_the_workers(transactional_db, webhook_url, celery_worker):
    files = peer_webhook_files()
    if not files:
        pytest.skip(f"peer webhook corpus not found at {peer_webhooks_dir()}")
    channel = peer_channel_create()
    expected = peer_outbound_create(channel)
    celery_worker("hooks-peer", queues="webhooks", concurrency=2)

    with requests.Session() as session:
        for path in files:
            raw = path.read_bytes()
            response = session.post(
                webhook_url,
                data=raw,
                headers={
                    "Content-Type": "application/json",
                    "X-Hub-Signature-256": signature_for(APP_SECRET, raw),
                },
                timeout=10,
            )
            assert response.status_code == 200, (path.name, response.status_code)

    shas = {body_sha256(path.read_bytes()): path.name for path in files}
    assert WebhookEvent.objects.filter(body_sha256__in=shas).count() == len(files)
    wait_for(
        lambda: not WebhookEvent.objects.filter(state=WebhookState.PENDING).exists(), timeout=60
    )
    not_processed = {
        shas[sha]: (state, error)
        for sha, state, error in WebhookEvent.objects.exclude(
            state=WebhookState.PROCESSED
        ).values_list("body_sha256", "state", "error")
    }
    assert not not_processed
    assert set(WebhookEvent.objects.values_list("attempts", flat=True)) == {1}
    assert not peer_outbound_problems(expected)
