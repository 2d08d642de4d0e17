"""A template made in Parley, end to end: created and submitted through the API of a live
server, reviewed by the simulator after a short delay, approved (or rejected) by Meta's
signed webhook that a real Celery worker processes (PostgreSQL, Redis), then sent through the
normal send path and accepted by the simulator."""

from __future__ import annotations

import pytest
import requests

from core.services import api_token_create
from messaging.models import Message, MessageTemplate, Status, WebhookEvent, WebhookState
from tests.factories import ChannelFactory, ContactFactory, UserFactory
from tests.integration.conftest import APP_SECRET, TOKEN, wait_for

REVIEW_DELAY = 1.0
# The worker processes read the channel's secrets from their own environment.
WORKER_SECRETS = {"WHATSAPP_API_TOKEN": TOKEN, "WHATSAPP_APP_SECRET": APP_SECRET}

DEFINITION = {
    "name": "parley_made_update",
    "language": "en",
    "category": "UTILITY",
    "components": [
        {
            "type": "BODY",
            "text": "Hello {{1}}, your parcel {{2}} leaves our warehouse today.",
            "example": {"body_text": [["Asha", "#40321"]]},
        },
        {"type": "FOOTER", "text": "Parley integration test"},
        {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Thanks"}]},
    ],
}


@pytest.fixture
def sim_config():
    return {"template_review_delay": REVIEW_DELAY}


@pytest.fixture
def api(transactional_db, live_server, sim):
    channel = ChannelFactory(base_url=sim.url, waba_id=sim.config.waba_id)
    user = UserFactory(username="templates", roles=["Campaign manager"])
    _token, key = api_token_create(user=user, name="templates")
    session = requests.Session()
    session.headers["Authorization"] = f"Token {key}"
    session.trust_env = False

    def call(method, path, **kwargs):
        return session.request(method, live_server.url + path, timeout=15, **kwargs)

    call.channel = channel
    yield call
    session.close()


def _create_and_submit(api, definition):
    created = api("POST", "/api/v1/templates/", json=definition)
    assert created.status_code == 201, created.text
    pk = created.json()["id"]
    submitted = api("POST", f"/api/v1/templates/{pk}/submit/")
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "PENDING"
    return pk


def test_a_template_made_in_parley_is_approved_by_webhook_and_then_sent(api, sim, celery_worker):
    celery_worker("templates", concurrency=2, **WORKER_SECRETS)
    pk = _create_and_submit(api, DEFINITION)
    remote = sim.state.find_template("parley_made_update", "en")
    assert remote is not None and remote["components"] == DEFINITION["components"]

    def approved():
        template = MessageTemplate.objects.get(pk=pk)
        return template if template.status == "APPROVED" else None

    template = wait_for(approved, timeout=30)
    assert template.external_id == str(remote["id"])
    history = list(template.events.order_by("created_at", "pk").values_list("kind", "source"))
    assert history[0] == ("created", "api")
    assert ("status", "webhook") in history
    assert WebhookEvent.objects.filter(state=WebhookState.PROCESSED).exists()

    contact = ContactFactory(phone="+919812345678")
    response = api(
        "POST",
        "/api/v1/messages/",
        json={
            "contact": contact.pk,
            "type": "template",
            "template": {
                "name": "parley_made_update",
                "language": {"code": "en"},
                "components": [
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "text": "Ravi"},
                            {"type": "text", "text": "#555"},
                        ],
                    }
                ],
            },
        },
    )
    assert response.status_code == 202, response.text
    message_id = response.json()["id"]

    def delivered():
        message = Message.objects.get(uuid=message_id)
        return message if message.status >= Status.DELIVERED else None

    message = wait_for(delivered, timeout=30)
    assert message.template_id == pk and message.wamid
    [accepted] = sim.messages("919812345678")
    assert accepted["template"] == "parley_made_update"


def test_a_template_the_reviewer_rejects_gets_metas_reason_and_cannot_be_sent(
    api, sim, celery_worker
):
    celery_worker("templates-reject", concurrency=1, **WORKER_SECRETS)
    sim.configure(template_reject_reason="PROMOTIONAL")
    body = dict(DEFINITION["components"][0])
    body["text"] = "Hello {{1}}, [reject] your parcel {{2}} leaves our warehouse today."
    definition = {**DEFINITION, "name": "parley_made_rejected",
                  "components": [body, *DEFINITION["components"][1:]]}  # fmt: skip
    pk = _create_and_submit(api, definition)

    def rejected():
        template = MessageTemplate.objects.get(pk=pk)
        return template if template.status == "REJECTED" else None

    template = wait_for(rejected, timeout=30)
    assert template.rejected_reason == "PROMOTIONAL"
    event = template.events.get(kind="status", status_to="REJECTED")
    assert event.source == "webhook" and "rejection_info" in event.detail
    contact = ContactFactory(phone="+919812345679")
    refused = api(
        "POST",
        "/api/v1/messages/",
        json={"contact": contact.pk, "type": "template",
              "template": {"name": "parley_made_rejected", "language": {"code": "en"}}},
    )  # fmt: skip
    assert refused.status_code == 422
    assert "REJECTED (PROMOTIONAL)" in refused.text
