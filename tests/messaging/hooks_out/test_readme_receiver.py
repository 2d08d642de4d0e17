"""The README's ten-line receiver, run as written against Parley's delivery: it accepts a
real callback, deduplicates a replay, and refuses a forged one."""

from __future__ import annotations

import re
import threading
import urllib.error
import urllib.request
from http.server import HTTPServer
from pathlib import Path

import pytest

from messaging.hooks_out.models import DeliveryState, HookEvent, WebhookDelivery
from messaging.hooks_out.services import deliveries_drain, deliveries_replay, event_emit
from tests.factories import WebhookSubscriptionFactory

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[3] / "README.md"


def _readme_receiver(secret: str):
    text = README.read_text()
    section = text[text.index("### Verifying a callback") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert 'b"whsec_..."' in code and "serve_forever()" in code
    code = code.replace('b"whsec_..."', repr(secret.encode()))
    code = code.replace('HTTPServer(("", 8080), Receiver).serve_forever()', "")
    namespace: dict = {}
    exec(compile(code, "README receiver", "exec"), namespace)
    namespace["Receiver"].log_message = lambda *args: None
    return namespace


def test_the_readme_receiver_verifies_and_deduplicates(settings):
    settings.WEBHOOK_OUT_ALLOW_PRIVATE = True
    subscription = WebhookSubscriptionFactory(url="http://placeholder/", events=["message.status"])
    namespace = _readme_receiver(subscription.secret)
    server = HTTPServer(("127.0.0.1", 0), namespace["Receiver"])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        subscription.url = f"http://127.0.0.1:{server.server_address[1]}/parley/events"
        subscription.save(update_fields=["url"])
        event_emit(event_type=HookEvent.MESSAGE_STATUS, data={"message": {"status": "read"}})
        deliveries_drain(budget_seconds=5)
        delivery = WebhookDelivery.objects.get()
        assert delivery.state == DeliveryState.DELIVERED and delivery.status_code == 204
        assert namespace["seen"] == {str(delivery.event_id)}

        deliveries_replay(subscription=subscription, delivery=delivery)
        deliveries_drain(budget_seconds=5)
        assert WebhookDelivery.objects.filter(state=DeliveryState.DELIVERED).count() == 2
        assert namespace["seen"] == {str(delivery.event_id)}  # handled once

        forged = urllib.request.Request(
            subscription.url, data=b'{"id":"x"}', method="POST",
            headers={"X-Parley-Signature": "t=1,v1=00", "Content-Length": "10"},
        )  # fmt: skip
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(forged, timeout=5)
        assert refused.value.code == 400
        assert namespace["seen"] == {str(delivery.event_id)}
    finally:
        server.shutdown()
        server.server_close()
