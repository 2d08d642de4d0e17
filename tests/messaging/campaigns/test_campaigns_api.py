"""The campaign and bulk-send API: drafts, transitions, progress, refusals, permissions."""

import pytest
from django.utils import timezone

from crm.models import Tag
from messaging.models import Campaign, Message, MessageTemplate
from tests.factories import ChannelFactory, ContactFactory, TemplateFactory, window_open

pytestmark = pytest.mark.django_db

MAPPING = {
    "header": [{"source": "constant", "value": "#1"}],
    "body": [
        {"source": "field", "value": "name"},
        {"source": "constant", "value": "#1"},
        {"source": "constant", "value": "₹1"},
        {"source": "constant", "value": "today"},
    ],
    "buttons": {"0": {"source": "constant", "value": "1"}},
}


@pytest.fixture
def manager(make_user, api_client):
    api_client.force_authenticate(make_user("Campaign manager"))
    return api_client


def draft(manager, channel, **extra):
    Tag.objects.get_or_create(name="vip")
    template = MessageTemplate.objects.get(
        channel=channel, name="order_confirmation", language="en"
    )
    body = {
        "name": "VIP offer",
        "channel": channel.phone_number_id,
        "template": template.pk,
        "parameter_mapping": MAPPING,
        "tags": ["vip"],
        **extra,
    }
    response = manager.post("/api/v1/campaigns/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_the_retired_flat_cost_fields_are_ignored_and_never_answered(manager, channel):
    """Cost comes from the price card, per message: a client that still sends the removed
    `cost_per_message` and `currency` is not refused, and the answer no longer has them."""
    campaign = draft(manager, channel, cost_per_message="0.78", currency="USD")
    assert "cost_per_message" not in campaign and "currency" not in campaign
    url = f"/api/v1/campaigns/{campaign['id']}/"
    response = manager.patch(url, {"name": "Renamed", "cost_per_message": "9"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["name"] == "Renamed"
    assert "cost_per_message" not in manager.get(url).json()
    assert not any(f.name in ("cost_per_message", "currency") for f in Campaign._meta.fields)


def test_create_preflight_launch_pause_resume_cancel(manager, channel):
    vip = Tag.objects.get_or_create(name="vip")[0]
    for contact in ContactFactory.create_batch(3):
        contact.tags.add(vip)
    campaign = draft(manager, channel)
    assert campaign["state"] == "draft"
    url = f"/api/v1/campaigns/{campaign['id']}/"

    preflight = manager.get(url + "preflight/").json()
    assert preflight["ok"] and preflight["sendable"] == 3

    assert manager.post(url + "launch/").json()["state"] == "running"
    assert Message.objects.filter(campaign_id=campaign["id"]).count() == 3
    assert manager.post(url + "pause/", {"reason": "typo"}).json()["pause_reason"] == "typo"
    assert manager.post(url + "resume/").json()["state"] == "running"
    progress = manager.get(url + "progress/").json()
    assert progress["total"] == 3 and progress["counts"] == {"queued": 3}
    assert manager.post(url + "cancel/").json()["state"] == "cancelled"

    again = manager.post(url + "launch/")
    assert again.status_code == 422
    assert again.json()["error"]["code"] == "campaign_not_ready"


def test_invalid_transition_is_a_409(manager, channel):
    campaign = draft(manager, channel)
    response = manager.post(f"/api/v1/campaigns/{campaign['id']}/pause/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_transition"


def test_launch_refused_with_the_preflight_problems(manager, channel):
    campaign = draft(manager, channel, parameter_mapping={})
    response = manager.post(f"/api/v1/campaigns/{campaign['id']}/launch/")
    assert response.status_code == 422
    assert "Map every" in response.json()["error"]["message"]
    assert response.json()["error"]["details"]["problems"]


def test_schedule_needs_a_future_time(manager, channel):
    vip = Tag.objects.get_or_create(name="vip")[0]
    ContactFactory().tags.add(vip)
    campaign = draft(manager, channel)
    url = f"/api/v1/campaigns/{campaign['id']}/schedule/"
    future = (timezone.now() + timezone.timedelta(hours=2)).isoformat()
    assert manager.post(url, {"scheduled_at": future}).json()["state"] == "scheduled"


def test_running_campaigns_cannot_be_edited(manager, channel):
    vip = Tag.objects.get_or_create(name="vip")[0]
    ContactFactory().tags.add(vip)
    campaign = draft(manager, channel)
    url = f"/api/v1/campaigns/{campaign['id']}/"
    assert manager.patch(url, {"name": "Renamed"}, format="json").status_code == 200
    manager.post(url + "launch/")
    assert manager.patch(url, {"name": "Again"}, format="json").status_code == 400


def bulk_body(recipients):
    return {
        "type": "template",
        "template": {"name": "payment_received", "language": {"code": "en"}},
        "recipients": recipients,
    }


def named(name):
    return {"body": {"customer_name": name, "amount": "₹10", "paid_on": "today", "reference": "R1"}}


def test_bulk_send_creates_an_adhoc_campaign(manager, channel, django_capture_on_commit_callbacks):
    good = ContactFactory.create_batch(3)
    blocked = ContactFactory(blocked=True)
    recipients = [{"to": c.phone, "parameters": named(c.name)} for c in good]
    recipients += [
        {"to": blocked.phone, "parameters": named("x")},
        {"to": "not a phone", "parameters": named("x")},
        {"to": "+14155550123", "parameters": named("x")},
        {"to": good[0].phone, "parameters": named("dup")},
        {"to": ContactFactory().phone, "parameters": {"body": {"customer_name": "only"}}},
    ]
    with django_capture_on_commit_callbacks(execute=False):
        response = manager.post("/api/v1/messages/bulk/", bulk_body(recipients), format="json")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["accepted"] == 3
    assert {r["index"]: r["code"] for r in body["refused"]} == {
        3: "contact_blocked",
        4: "invalid_phone",
        5: "contact_unknown",
        6: "duplicate",
        7: "template_parameters_missing",
    }
    campaign = Campaign.objects.get(pk=body["campaign"])
    assert campaign.is_adhoc and campaign.state == "running"
    messages = Message.objects.filter(campaign=campaign)
    assert messages.count() == 3
    first = messages.get(contact=good[0])
    params = first.content["components"][0]["parameters"]
    assert params[0]["text"] == good[0].name


def test_bulk_send_asks_the_send_policy(manager, channel):
    """Free-form text needs each recipient's window with this number; a number that may not
    send refuses the whole request."""
    second = ChannelFactory(name="Second", phone_number_id="200000000000002")
    wrote_here, wrote_elsewhere = ContactFactory.create_batch(2)
    window_open(wrote_here, channel)
    window_open(wrote_elsewhere, second)
    others = ContactFactory.create_batch(10)
    for contact in others:
        window_open(contact, channel)
    body = {
        "type": "text",
        "text": {"body": "Your parcel is on its way"},
        "channel": channel.phone_number_id,
        "recipients": [{"to": c.phone} for c in [wrote_here, wrote_elsewhere, *others]],
    }
    response = manager.post("/api/v1/messages/bulk/", body, format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["accepted"] == 11
    assert response.json()["refused"] == [
        {
            "index": 1,
            "to": wrote_elsewhere.phone,
            "code": "window_closed",
            "reason": response.json()["refused"][0]["reason"],
        }
    ]
    channel.paused_reason = "token expired"
    channel.save()
    response = manager.post("/api/v1/messages/bulk/", body, format="json")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "channel_inactive"
    assert Message.objects.count() == 11


def test_bulk_send_limits(manager, channel):
    response = manager.post("/api/v1/messages/bulk/", bulk_body([]), format="json")
    assert response.status_code == 400
    too_many = [{"to": "+919800000000"}] * 10_001
    response = manager.post("/api/v1/messages/bulk/", bulk_body(too_many), format="json")
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("role", "path", "method", "allowed"),
    [
        ("Analyst", "/api/v1/campaigns/", "get", True),
        ("Analyst", "/api/v1/campaigns/", "post", False),
        ("Agent", "/api/v1/campaigns/", "get", False),
        ("Content reviewer", "/api/v1/campaigns/", "get", False),
        ("Content reviewer", "/api/v1/messages/bulk/", "post", False),
        ("Agent", "/api/v1/messages/bulk/", "post", False),
        (None, "/api/v1/campaigns/", "get", False),
    ],
)
def test_permissions(make_user, api_client, channel, role, path, method, allowed):
    api_client.force_authenticate(make_user(role))
    response = getattr(api_client, method)(path, {}, format="json")
    assert (response.status_code != 403) is allowed


def test_actions_need_the_launch_permission(make_user, api_client, manager, channel):
    campaign = draft(manager, channel)
    api_client.force_authenticate(make_user("Analyst"))
    response = api_client.post(f"/api/v1/campaigns/{campaign['id']}/launch/")
    assert response.status_code == 403


def test_a_template_of_another_channel_is_refused(manager, channel):
    other = ChannelFactory(phone_number_id="200000000000002", name="Other number")
    foreign = TemplateFactory(channel=other)
    body = {"name": "Wrong", "channel": channel.phone_number_id, "template": foreign.pk}
    response = manager.post("/api/v1/campaigns/", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "template" in response.json()["error"]["details"]
    assert not Campaign.objects.filter(name="Wrong").exists()

    campaign = draft(manager, channel)
    url = f"/api/v1/campaigns/{campaign['id']}/"
    response = manager.patch(url, {"template": foreign.pk}, format="json")
    assert response.status_code == 400
    assert Campaign.objects.get(pk=campaign["id"]).template_id == campaign["template"]["id"]


def test_patch_writes_only_the_given_fields(manager, channel):
    Tag.objects.get_or_create(name="new")
    campaign = draft(manager, channel, description="keep")
    url = f"/api/v1/campaigns/{campaign['id']}/"
    body = manager.patch(url, {"name": "Renamed", "tags": ["new"]}, format="json").json()
    assert (body["name"], body["description"], body["tags"]) == ("Renamed", "keep", ["new"])
    assert body["parameter_mapping"] == MAPPING
    assert body["state"] == "draft"


def test_a_launched_campaign_refuses_edits_with_the_reason(manager, channel):
    vip = Tag.objects.get_or_create(name="vip")[0]
    ContactFactory().tags.add(vip)
    campaign = draft(manager, channel)
    url = f"/api/v1/campaigns/{campaign['id']}/"
    manager.post(url + "launch/")
    response = manager.patch(url, {"parameter_mapping": {}}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_transition"
    assert error["message"] == "A running campaign cannot be edited."
    assert Campaign.objects.get(pk=campaign["id"]).parameter_mapping == MAPPING


def test_bulk_send_refuses_like_a_single_send(manager, channel):
    from tests.factories import ChannelFactory

    recipients = [{"to": "+14155550123", "parameters": named("x")}]
    response = manager.post("/api/v1/messages/bulk/", bulk_body(recipients), format="json")
    assert response.json()["refused"] == [
        {
            "index": 0,
            "to": "+14155550123",
            "code": "contact_unknown",
            "reason": "No contact with phone +14155550123: create the contact first.",
        }
    ]
    ChannelFactory(name="Second", phone_number_id="200000000000002")
    response = manager.post("/api/v1/messages/bulk/", bulk_body(recipients), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["channel"] == [
        "Several channels exist: name one by phone_number_id."
    ]


def test_bulk_send_guards_each_recipients_header_media_link(manager, channel, settings):
    """Per-recipient components replace the base ones, and their media links pass the SSRF
    guard recipient by recipient: private ones are refused, the others go ahead."""
    settings.MEDIA_URL_ALLOW_PRIVATE = False
    good, bad, metadata = (ContactFactory(consent="opted_in") for _ in range(3))

    def header(link):
        return [
            {"type": "header", "parameters": [{"type": "image", "image": {"link": link}}]},
            {"type": "body", "parameters": [{"type": "text", "text": "Ravi"},
                                            {"type": "text", "text": "Mid-caps"}]},
        ]  # fmt: skip

    body = {
        "type": "template",
        "template": {"name": "daily_market_insight", "language": {"code": "en"}},
        "recipients": [
            {"to": good.phone, "components": header("https://93.184.215.14/a.png")},
            {"to": bad.phone, "components": header("http://192.168.1.20/a.png")},
            {"to": metadata.phone, "components": header("http://169.254.169.254/latest/")},
        ],
    }
    response = manager.post("/api/v1/messages/bulk/", body, format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["accepted"] == 1
    assert [(r["index"], r["code"]) for r in response.json()["refused"]] == [
        (1, "media_url_refused"),
        (2, "media_url_refused"),
    ]
    assert list(Message.objects.values_list("contact_id", flat=True)) == [good.pk]
