"""POST/GET /api/v1/messages/: the Cloud API body, refusals as clear 4xx, idempotency."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.services import api_token_create
from messaging.models import Message
from tests.factories import ContactFactory, MessageFactory, window_open

pytestmark = pytest.mark.django_db


@pytest.fixture
def sender(make_user, api_client):
    user = make_user("Campaign manager")
    _, key = api_token_create(user=user, name="shop")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api_client


def open_contact(channel, **kwargs):
    """A contact who wrote to `channel` five minutes ago (its window is open)."""
    contact = ContactFactory(**kwargs)
    window_open(contact, channel, at=timezone.now() - timedelta(minutes=5))
    return contact


def test_send_text_mirrors_the_cloud_api(sender, channel):
    contact = open_contact(channel)
    response = sender.post(
        "/api/v1/messages/",
        {
            "messaging_product": "whatsapp",
            "to": contact.phone,
            "type": "text",
            "text": {"body": "Your order shipped", "preview_url": False},
        },
        format="json",
    )
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "queued"
    assert body["contact"] == contact.pk
    assert Message.objects.get(uuid=body["id"]).content["body"] == "Your order shipped"


def test_send_template_by_contact_id(sender, channel):
    contact = ContactFactory()
    response = sender.post(
        "/api/v1/messages/",
        {
            "contact": contact.pk,
            "type": "template",
            "template": {
                "name": "payment_received",
                "language": {"code": "en"},
                "components": [
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "parameter_name": n, "text": "v"}
                            for n in ("customer_name", "amount", "paid_on", "reference")
                        ],
                    }
                ],
            },
        },
        format="json",
    )
    assert response.status_code == 202, response.json()


def test_refusals_are_clear_422s_and_write_nothing(sender, channel):
    contact = ContactFactory(last_inbound_at=None)
    response = sender.post(
        "/api/v1/messages/",
        {"to": contact.phone, "type": "text", "text": {"body": "hi"}},
        format="json",
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "window_closed"
    assert "template" in error["message"]
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "text", "text": {"body": "x"}}, "to"),
        ({"to": "+919800000001", "type": "text"}, "text"),
        ({"to": "+919800000001", "type": "fax", "fax": {}}, "type"),
    ],
)
def test_malformed_bodies_are_400_with_details(sender, channel, body, field):
    response = sender.post("/api/v1/messages/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]


def test_unknown_and_invalid_phones(sender, channel):
    response = sender.post(
        "/api/v1/messages/", {"to": "12", "type": "text", "text": {"body": "x"}}, format="json"
    )
    assert response.json()["error"]["code"] == "invalid_phone"
    response = sender.post(
        "/api/v1/messages/",
        {"to": "+14155550100", "type": "text", "text": {"body": "x"}},
        format="json",
    )
    assert response.json()["error"]["code"] == "contact_unknown"


def test_idempotency_key_returns_the_first_result(sender, channel):
    contact = open_contact(channel)
    body = {"to": contact.phone, "type": "text", "text": {"body": "once"}}
    first = sender.post("/api/v1/messages/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = sender.post("/api/v1/messages/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Message.objects.count() == 1
    other = {**body, "text": {"body": "different"}}
    conflict = sender.post("/api/v1/messages/", other, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "idempotency_key_reused"


def test_a_refused_request_does_not_burn_its_key(sender, channel):
    contact = ContactFactory(last_inbound_at=None)
    body = {"to": contact.phone, "type": "text", "text": {"body": "x"}}
    assert (
        sender.post("/api/v1/messages/", body, format="json", HTTP_IDEMPOTENCY_KEY="k2").status_code
        == 422
    )
    window_open(contact, channel)
    response = sender.post("/api/v1/messages/", body, format="json", HTTP_IDEMPOTENCY_KEY="k2")
    assert response.status_code == 202


def test_list_and_filter(sender, channel):
    a = MessageFactory(channel=channel, status=30)
    MessageFactory(channel=channel, status=70)
    response = sender.get("/api/v1/messages/?status=accepted")
    assert response.status_code == 200
    assert [m["id"] for m in response.json()["results"]] == [str(a.uuid)]
    assert sender.get("/api/v1/messages/?status=bogus").status_code == 400
    response = sender.get(f"/api/v1/messages/?contact={a.contact_id}")
    assert response.json()["count"] == 1


def test_detail_has_the_status_history(sender, channel):
    from messaging.models import MessageStatusEvent

    message = MessageFactory(channel=channel, status=50, wamid="wamid.X")
    MessageStatusEvent.objects.create(
        message=message, wamid="wamid.X", status="sent", timestamp=timezone.now(), applied=True
    )
    response = sender.get(f"/api/v1/messages/{message.uuid}/")
    assert response.status_code == 200
    assert response.json()["status"] == "delivered"
    assert [e["status"] for e in response.json()["status_history"]] == ["sent"]


def test_list_query_count_is_bounded(sender, channel, django_assert_max_num_queries):
    MessageFactory.create_batch(20, channel=channel)
    with django_assert_max_num_queries(6):
        assert sender.get("/api/v1/messages/?limit=50").status_code == 200


@pytest.mark.parametrize(
    ("role", "method", "allowed"),
    [
        ("Analyst", "get", True),
        ("Analyst", "post", False),
        ("Content reviewer", "post", False),
        ("Agent", "post", True),
        (None, "get", False),
    ],
)
def test_permissions(make_user, api_client, channel, role, method, allowed):
    api_client.force_authenticate(make_user(role))
    contact = open_contact(channel)
    body = {"to": contact.phone, "type": "text", "text": {"body": "x"}}
    response = getattr(api_client, method)("/api/v1/messages/", body, format="json")
    assert (response.status_code in (200, 202)) is allowed
    if not allowed:
        assert response.status_code == 403


def test_anonymous_is_401(api_client):
    assert api_client.get("/api/v1/messages/").status_code == 401


PAYMENT = {
    "name": "payment_received",
    "language": {"code": "en"},
    "components": [
        {
            "type": "body",
            "parameters": [
                {"type": "text", "parameter_name": n, "text": "v"}
                for n in ("customer_name", "amount", "paid_on", "reference")
            ],
        }
    ],
}


def test_a_bsuid_alone_creates_the_contact(sender, channel):
    from crm.models import Contact

    body = {"recipient": "IN.13491208655302741918", "type": "template", "template": PAYMENT}
    response = sender.post("/api/v1/messages/", body, format="json")
    assert response.status_code == 202, response.json()
    contact = Contact.objects.get(bsuid="IN.13491208655302741918")
    assert response.json()["contact"] == contact.pk
    assert sender.post("/api/v1/messages/", body, format="json").json()["contact"] == contact.pk


def test_an_unknown_contact_id_answers_like_an_unknown_phone(sender, channel):
    response = sender.post(
        "/api/v1/messages/",
        {"contact": 987654, "type": "text", "text": {"body": "x"}},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "contact_unknown"
    assert not Message.objects.exists()


def test_a_body_naming_two_contacts_is_refused(sender, channel):
    one, other = open_contact(channel), open_contact(channel)
    body = {"contact": one.pk, "to": other.phone, "type": "text", "text": {"body": "x"}}
    response = sender.post("/api/v1/messages/", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "contact_ambiguous"
    assert not Message.objects.exists()


def test_several_channels_need_a_name(sender, channel):
    from tests.factories import ChannelFactory

    ChannelFactory(name="Second", phone_number_id="200000000000002")
    body = {"to": open_contact(channel).phone, "type": "text", "text": {"body": "x"}}
    response = sender.post("/api/v1/messages/", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["channel"] == [
        "Several channels exist: name one by phone_number_id."
    ]
    named = {**body, "channel": channel.phone_number_id}
    assert sender.post("/api/v1/messages/", named, format="json").status_code == 202


# --- Media links, however deep, and malformed bodies -----------------------------------------

CAROUSEL = {
    "type": "carousel",
    "body": {"text": "Pick one"},
    "action": {
        "cards": [
            {"card_index": 0, "header": {"type": "image", "image": {"link": "https://93.184.215.14/a.png"}}},
            {"card_index": 1, "header": {"type": "image", "image": {"link": "http://169.254.169.254/x"}}},
        ]
    },
}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "code"),
    [
        # A card's header link inside a carousel is as guarded as a message's own.
        ({"type": "interactive", "interactive": CAROUSEL}, "media_url_refused"),
        ({"type": "image", "image": {"link": "http://localhost/cat.png"}}, "media_url_refused"),
        ({"type": "image", "image": {"link": 42}}, "media_url_refused"),
        ({"type": "document", "document": {"link": {"url": "https://x"}}}, "media_url_refused"),
        # Malformed template components: refused with a reason, not a server error.
        (
            {"type": "template", "template": {"name": "order_confirmation",
             "language": {"code": "en"}, "components": ["header"]}},
            "template_parameters_missing",
        ),
        (
            {"type": "template", "template": {"name": "order_confirmation",
             "language": {"code": "en"}, "components": "body"}},
            "template_parameters_missing",
        ),
    ],
)  # fmt: skip
def test_unsafe_or_malformed_media_is_refused_with_a_reason(sender, channel, settings, body, code):
    settings.MEDIA_URL_ALLOW_PRIVATE = False
    contact = open_contact(channel)
    response = sender.post("/api/v1/messages/", {"to": contact.phone, **body}, format="json")
    assert response.status_code == 422, response.json()
    assert response.json()["error"]["code"] == code
    assert not Message.objects.exists()
