"""A signed webhook nested hundreds or thousands of levels deep is stored, and the pages that
show raw bodies (the admin and the operations centre) render it without crashing: shallow
bodies are indented, deep ones are shown as received, both bounded in size."""

import json
import re
import sys
from contextlib import contextmanager

import pytest
from django.test import Client

from core.json_display import PRETTY_MAX_CHARS, json_depth, json_pretty
from messaging.models import WebhookEvent
from messaging.webhooks.services import webhook_event_store
from tests.factories import ChannelFactory, UserFactory
from tests.messaging.webhooks.support import APP_SECRET, post_signed

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    from messaging.webhooks import intake

    settings.WHATSAPP_APP_SECRET = APP_SECRET
    intake._forget_secrets()
    ChannelFactory(waba_id="1")  # the account the deep bodies name
    yield
    intake._forget_secrets()


def deep_body(depth: int) -> bytes:
    """A Meta envelope whose first change carries `depth` levels of nesting."""
    inner = "1"
    text = '{"a": ' * depth + inner + "}" * depth
    return (
        '{"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": '
        '[{"field": "messages", "value": ' + text + "}]}]}"
    ).encode()


@contextmanager
def shallow_server_stack():
    """The decoder's depth check counts every frame below it. A web worker calls the intake
    about a hundred frames deep; pytest under xdist, several hundred deeper, which alone would
    push a 900-deep body past Python's default limit of 1,000. Give the intake the headroom a
    server has; the pages are then rendered under the default limit."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(limit + 1000)
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


def pages_render(event: WebhookEvent) -> list[bytes]:
    superuser = UserFactory(username="root", is_superuser=True)
    admin = UserFactory(username="ops-admin", roles=["Admin"])
    bodies = []
    for user, url in (
        (superuser, f"/admin/messaging/webhookevent/{event.pk}/change/"),
        (admin, f"/staff/operations/errors/webhooks/{event.pk}/"),
    ):
        client = Client()
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        bodies.append(response.content)
    return bodies


def test_a_900_deep_signed_webhook_is_stored_and_its_pages_render(client):
    raw = deep_body(900)
    with shallow_server_stack():
        assert post_signed(client, raw).status_code == 200
    event = WebhookEvent.objects.get()
    assert event.body == raw.decode()
    for content in pages_render(event):
        assert b"levels deep" in content  # shown as received, with the reason
        assert b"&quot;a&quot;: {&quot;a&quot;" in content  # the text as it came


def test_a_5000_deep_webhook_is_refused_at_intake_and_renders_if_stored_anyway(client):
    raw = deep_body(5000)
    # Past the decoder's own limit: a clear 400, nothing stored, never a 500.
    assert post_signed(client, raw).status_code == 400
    assert not WebhookEvent.objects.exists()
    # Stored by the intake's own service (an older intake, a restore), the pages still render.
    webhook_event_store(provider="meta_cloud", raw_body=raw, text=raw.decode())
    event = WebhookEvent.objects.get()
    for content in pages_render(event):
        assert re.search(rb"5,?005 levels deep", content)


def test_a_shallow_body_is_indented_and_every_body_is_bounded():
    shallow = json.dumps({"entry": [{"id": "1", "changes": []}]})
    shown = json_pretty(shallow)
    assert not shown.as_received and shown.depth == 4
    assert shown.text == json.dumps(json.loads(shallow), indent=2)
    huge = json.dumps({"s": "x" * (PRETTY_MAX_CHARS * 2)})
    shown = json_pretty(huge)
    assert shown.truncated and len(shown.text) == PRETTY_MAX_CHARS
    not_json = "not json {"
    assert json_pretty(not_json).text == not_json and json_pretty(not_json).as_received


def test_brackets_inside_strings_do_not_count_as_depth():
    assert json_depth(json.dumps({"s": "[[[[{{{{", "t": 'a\\"[['})) == 1
