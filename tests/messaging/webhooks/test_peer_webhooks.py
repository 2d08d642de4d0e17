"""Webhook bodies written by third parties: Meta's own examples and public projects' fixtures.

Each is signed over its exact bytes, posted to the intake, processed, and must end processed:
a body we fail is a body Meta would have delivered for real. The corpus lives outside the
repository (`PEER_WEBHOOKS_DIR`, default `../shared/peer-webhooks` beside it; SOURCES.md
there names every source) and these tests skip, saying so, when it is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crm.models import Contact
from messaging.models import Direction, Message, WebhookEvent, WebhookState
from messaging.webhooks.services import body_sha256, webhook_event_process
from tests.messaging.webhooks.support import (
    APP_SECRET,
    peer_channel_create,
    peer_outbound_create,
    peer_outbound_problems,
    peer_params,
    peer_webhook_files,
    peer_webhooks_dir,
    post_signed,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("webhook_settings")]


@pytest.fixture
def webhook_settings(settings):
    from messaging.webhooks import intake

    settings.WHATSAPP_APP_SECRET = APP_SECRET
    intake._forget_secrets()
    yield settings
    intake._forget_secrets()


@pytest.fixture
def peer_channel(db):
    return peer_channel_create()


def post_and_process(client, path: Path) -> WebhookEvent:
    """Sign and post the file's exact bytes as Meta would, then process it as a worker would."""
    raw = path.read_bytes()
    response = post_signed(client, raw)
    assert response.status_code == 200, (path.name, response.status_code)
    event = WebhookEvent.objects.get(body_sha256=body_sha256(raw))
    assert event.body.encode() == raw  # stored verbatim
    webhook_event_process(event_id=event.pk)
    event.refresh_from_db()
    return event


@pytest.mark.parametrize("path", peer_params())
def test_every_peer_body_is_stored_and_processed(client, peer_channel, path):
    event = post_and_process(client, path)
    assert event.state == WebhookState.PROCESSED, f"{path.name}: {event.error}"
    assert event.attempts == 1
    assert not event.error


def test_the_whole_corpus_in_order_ends_as_whatsapp_documents_it(client, peer_channel):
    files = peer_webhook_files()
    if not files:
        pytest.skip(f"peer webhook corpus not found at {peer_webhooks_dir()}")
    expected = peer_outbound_create(peer_channel)

    events = {path.name: post_and_process(client, path) for path in files}

    failed = {name: e.error for name, e in events.items() if e.state != WebhookState.PROCESSED}
    assert not failed
    assert not peer_outbound_problems(expected)
    # Edits and deletions are changes to their original, never messages of their own.
    inbound = Message.objects.filter(direction=Direction.INBOUND)
    assert not inbound.filter(content__original_type__in=["edit", "revoke"]).exists()
    # pywa's edit (from 16505551234, its only contacts[] entry another user with a BSUID)
    # belongs to its sender; the other user keeps its BSUID.
    edited = inbound.get(edited_at__isnull=False)
    assert edited.wa_id == "16505551234" and edited.contact.bsuid is None
    assert Contact.objects.get(bsuid="US.13491208655302741918").profile_name == "User A"
    # Meta's and pywa's number changes moved their contacts.
    assert Contact.objects.filter(wa_id__in=["12195555358", "972912345678"]).count() == 2


def test_without_the_corpus_the_tests_skip_and_say_where_they_looked(monkeypatch, tmp_path):
    monkeypatch.setenv("PEER_WEBHOOKS_DIR", str(tmp_path / "absent"))
    (param,) = peer_params()
    (mark,) = param.marks
    assert mark.name == "skip"
    assert str(tmp_path / "absent") in mark.kwargs["reason"]
    assert "PEER_WEBHOOKS_DIR" in mark.kwargs["reason"]
