"""Transactional notifications: the API, idempotency, refusals, resend, preferences, pages."""

import pytest

from messaging.models import (
    Message,
    Notification,
    NotificationPreference,
    NotificationPreferenceEvent,
    NotificationType,
    Status,
)
from messaging.notifications.services import (
    notification_preference_set,
    notification_required_variables,
    notification_resend,
    notification_send,
)
from messaging.providers.simulator.templates import DEFAULT_TEMPLATES
from messaging.sending.dispatch import send_batch_run
from tests.factories import ContactFactory, NotificationFactory

pytestmark = pytest.mark.django_db

ORDER = {"order_id": "#40321", "amount": "₹1,499.00", "delivery_date": "Friday",
         "tracking_id": "40321"}  # fmt: skip
SAMPLES = {
    "order_confirmation": ORDER,
    "delivery_reminder": {"order_id": "#1", "delivery_date": "tomorrow", "time_slot": "10-1"},
    "delivery_confirmed": {"order_id": "#1", "delivered_on": "Friday"},
    "delivery_delayed": {"order_id": "#1", "new_date": "Monday"},
    "payment_reminder": {"amount": "₹2,400", "invoice_id": "INV-1", "due_date": "20 March"},
    "payment_confirmation": {"amount": "₹10", "paid_on": "today", "payment_reference": "P-1"},
    "subscription_confirmation": {"plan": "Monthly", "renews_on": "14 April"},
    "subscription_paused": {"plan": "Monthly", "resume_on": "1 May"},
    "new_product": {"product_name": "Cold Brew Kit", "product_summary": "coffee in 12 hours"},
    "we_miss_you": {"discount": "15%", "coupon_code": "COMEBACK15"},
}


@pytest.fixture
def integrator(make_user, api_client):
    api_client.force_authenticate(make_user("Campaign manager"))
    return api_client


def post(client, **body):
    return client.post("/api/v1/notifications/", body, format="json")


def order(contact, reference="ORD-1", **extra):
    return {"event_type": "order_confirmation", "phone": contact.phone, "variables": ORDER,
            "reference_id": reference, **extra}  # fmt: skip


def test_ten_event_types_are_seeded_and_their_templates_exist():
    types = {t.code: t for t in NotificationType.objects.all()}
    assert set(types) == set(SAMPLES)
    approved = {(t["name"], t["language"]) for t in DEFAULT_TEMPLATES if t["status"] == "APPROVED"}
    for code, event_type in types.items():
        assert (event_type.template_name, event_type.template_language) in approved, code
        assert event_type.enabled and event_type.variables
        assert set(notification_required_variables(event_type)) <= set(SAMPLES[code]), code


def test_every_event_type_renders_and_the_simulator_accepts_it(channel, simulator):
    contact = ContactFactory(name="Asha Patel")
    for code, variables in SAMPLES.items():
        notification = notification_send(
            event_type=code, contact=contact, variables=variables, reference_id=f"R-{code}"
        )
        assert not notification.refusal_code, (code, notification.refusal_reason)
        assert notification.message.lane == 0
    send_batch_run(channel_id=channel.pk, max_seconds=10)
    statuses = set(Message.objects.values_list("status", flat=True))
    while Status.QUEUED in statuses:  # one message per person per second
        send_batch_run(channel_id=channel.pk, max_seconds=10)
        statuses = set(Message.objects.values_list("status", flat=True))
    assert statuses == {Status.ACCEPTED}, list(Message.objects.values("error_code", "error_title"))
    assert simulator.counts()[contact.wa_id] == 10


def test_the_api_sends_once_per_reference(integrator, channel, django_capture_on_commit_callbacks):
    contact = ContactFactory(name="Asha Patel")
    with django_capture_on_commit_callbacks() as callbacks:
        first = post(integrator, **order(contact))
    assert first.status_code == 202, first.json()
    assert len(callbacks) == 1
    body = first.json()
    assert body["status"] == "queued" and body["attempt"] == 1 and body["phone"] == contact.phone
    message = Message.objects.get()
    assert str(message.uuid) == body["message"]
    assert message.content["name"] == "order_confirmation"
    components = {c["type"]: c for c in message.content["components"]}
    assert [p["text"] for p in components["body"]["parameters"]] == [
        "Asha Patel", "#40321", "₹1,499.00", "Friday",
    ]  # fmt: skip
    assert components["button"]["parameters"][0]["text"] == "40321"
    again = post(integrator, **order(contact, variables={**ORDER, "amount": "changed"}))
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == body["id"]
    assert Message.objects.count() == 1 and Notification.objects.count() == 1
    by_id = post(integrator, **{**order(contact, "ORD-2"), "phone": None, "contact": contact.pk})
    assert by_id.status_code == 400  # phone must be a string when given
    by_id = integrator.post(
        "/api/v1/notifications/",
        {"event_type": "order_confirmation", "contact": contact.pk, "variables": ORDER,
         "reference_id": "ORD-2"},
        format="json",
    )  # fmt: skip
    assert by_id.status_code == 202


def test_refusals_are_clear_recorded_and_replayed(integrator, channel):
    contact = ContactFactory()
    missing = post(integrator, **order(contact, variables={"order_id": "#1"}))
    assert missing.status_code == 422
    error = missing.json()["error"]
    assert error["code"] == "notification_variables_missing"
    assert set(error["details"]["missing"]) == {"amount", "delivery_date", "tracking_id"}
    refused = Notification.objects.get()
    assert refused.status == "refused" and refused.message is None
    assert refused.refusal_code == "notification_variables_missing"
    replay = post(integrator, **order(contact))  # same reference, now complete: same answer
    assert replay.status_code == 422
    assert replay.json()["error"]["code"] == "notification_variables_missing"
    assert not Message.objects.exists()

    NotificationType.objects.filter(code="delivery_delayed").update(enabled=False)
    disabled = post(
        integrator, event_type="delivery_delayed", phone=contact.phone, reference_id="D-1",
        variables={"order_id": "#1", "new_date": "Monday"},
    )  # fmt: skip
    assert disabled.json()["error"]["code"] == "notification_type_disabled"

    stranger = ContactFactory(consent="unknown")
    marketing = post(
        integrator, event_type="we_miss_you", phone=stranger.phone, reference_id="W-1",
        variables=SAMPLES["we_miss_you"],
    )  # fmt: skip
    assert marketing.status_code == 422 and marketing.json()["error"]["code"] == "no_consent"

    NotificationType.objects.filter(code="new_product").update(template_name="nope")
    missing_template = post(
        integrator, event_type="new_product", phone=contact.phone, reference_id="N-1",
        variables=SAMPLES["new_product"],
    )  # fmt: skip
    assert missing_template.json()["error"]["code"] == "template_unknown"

    unknown = post(integrator, event_type="order_shipped", phone=contact.phone, reference_id="x")
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "notification_type_unknown"
    nobody = post(integrator, **order(ContactFactory.build(phone="+919811111111"), "X-1"))
    assert nobody.status_code == 400 and nobody.json()["error"]["code"] == "contact_unknown"
    assert Notification.objects.filter(refusal_code="").count() == 0


def test_opted_out_contacts_are_refused_for_that_type_only(integrator, channel):
    contact = ContactFactory()
    changed = notification_preference_set(
        contact=contact, event_type=NotificationType.objects.get(code="order_confirmation"),
        opted_out=True, source="contact", note="asked by phone",
    )  # fmt: skip
    assert changed
    response = post(integrator, **order(contact))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "notification_opted_out"
    other = post(
        integrator, event_type="delivery_delayed", phone=contact.phone, reference_id="D-9",
        variables=SAMPLES["delivery_delayed"],
    )  # fmt: skip
    assert other.status_code == 202


def test_preferences_api_reads_changes_and_audits(integrator, make_user, api_client):
    contact = ContactFactory()
    url = f"/api/v1/contacts/{contact.pk}/notification-preferences/"
    listing = integrator.get(url).json()
    assert listing["contact"] == contact.pk and len(listing["preferences"]) == 10
    assert not any(p["opted_out"] for p in listing["preferences"])
    response = integrator.put(
        url,
        {"preferences": [{"event_type": "we_miss_you", "opted_out": True},
                         {"event_type": "new_product", "opted_out": True}],
         "note": "customer request"},
        format="json",
    )  # fmt: skip
    assert response.status_code == 200
    out = {p["event_type"] for p in response.json()["preferences"] if p["opted_out"]}
    assert out == {"we_miss_you", "new_product"}
    integrator.put(
        url, {"preferences": [{"event_type": "we_miss_you", "opted_out": True}]}, format="json"
    )  # no change: no event
    integrator.put(
        url, {"preferences": [{"event_type": "new_product", "opted_out": False}]}, format="json"
    )
    events = list(NotificationPreferenceEvent.objects.order_by("id"))
    assert [(e.event_type.code, e.opted_out, e.source) for e in events] == [
        ("we_miss_you", True, "api"), ("new_product", True, "api"), ("new_product", False, "api"),
    ]  # fmt: skip
    assert events[0].note == "customer request" and events[0].actor.username == "campaign_manager"
    with pytest.raises(ValueError, match="append-only"):
        events[0].save()
    bad = integrator.put(url, {"preferences": [{"event_type": "nope", "opted_out": True}]},
                         format="json")  # fmt: skip
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "notification_type_unknown"
    assert integrator.get("/api/v1/contacts/999999/notification-preferences/").status_code == 404
    # Read-only roles read but cannot change; others and anonymous are refused.
    analyst = api_client.__class__()
    analyst.force_authenticate(make_user("Analyst"))
    assert analyst.get(url).status_code == 200
    assert analyst.put(url, {"preferences": []}, format="json").status_code == 403
    agent = api_client.__class__()
    agent.force_authenticate(make_user("Agent"))
    assert agent.get(url).status_code == 403
    assert api_client.__class__().get(url).status_code in (401, 403)


def test_api_permissions(make_user, api_client, channel):
    contact = ContactFactory()
    assert post(api_client, **order(contact)).status_code in (401, 403)
    for role in ("Agent", "Analyst", "Content reviewer"):
        client = api_client.__class__()
        client.force_authenticate(make_user(role))
        assert post(client, **order(contact)).status_code == 403, role
    analyst = api_client.__class__()
    analyst.force_authenticate(make_user("Analyst", username="analyst2"))
    assert analyst.get("/api/v1/notifications/").status_code == 200
    notification = NotificationFactory()
    resend = f"/api/v1/notifications/{notification.pk}/resend/"
    assert analyst.post(resend).status_code == 403
    assert analyst.get("/api/v1/notification-types/").status_code == 200


def test_an_api_token_can_send(channel, make_user, api_client):
    contact = ContactFactory()
    from core.services import api_token_create

    _token, key = api_token_create(user=make_user("Campaign manager"), name="shop")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert post(api_client, **order(contact)).status_code == 202


def test_resend_makes_a_new_attempt_only_when_failed(integrator, channel, simulator):
    contact = ContactFactory()
    simulator.configure(fail_numbers={contact.wa_id: 131026})
    notification_id = post(integrator, **order(contact)).json()["id"]
    url = f"/api/v1/notifications/{notification_id}/resend/"
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    assert Notification.objects.get().status == "failed"
    simulator.configure(fail_numbers={})
    contact.refresh_from_db()
    contact.undeliverable = False  # fixed by staff
    contact.save(update_fields=["undeliverable"])
    response = integrator.post(url)
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["attempt"] == 2 and body["status"] == "queued" and body["id"] != notification_id
    assert Message.objects.count() == 2
    conflict = integrator.post(url)  # the latest attempt is queued now
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "invalid_transition"
    first = Notification.objects.get(pk=notification_id)
    assert first.attempt == 1 and first.status == "failed"
    # The same reference still answers with the first result.
    assert post(integrator, **order(contact)).json()["id"] == notification_id


def test_resend_of_a_refusal_is_checked_again(channel, make_user):
    contact = ContactFactory()
    event_type = NotificationType.objects.get(code="order_confirmation")
    notification_preference_set(contact=contact, event_type=event_type, opted_out=True)
    refused = notification_send(
        event_type="order_confirmation", contact=contact, variables=ORDER, reference_id="R"
    )
    assert refused.refusal_code == "notification_opted_out"
    again = notification_resend(notification=refused, actor=make_user("Campaign manager"))
    assert again.attempt == 2 and again.refusal_code == "notification_opted_out"
    notification_preference_set(contact=contact, event_type=event_type, opted_out=False)
    third = notification_resend(notification=refused)
    assert third.attempt == 3 and third.status == "queued"
    assert NotificationPreference.objects.get().opted_out is False


def test_list_filters(integrator, channel):
    a, b = ContactFactory(), ContactFactory()
    post(integrator, **order(a, "ORD-A"))
    post(integrator, **order(b, "ORD-B", variables={}))
    listing = integrator.get("/api/v1/notifications/", {"status": "refused"}).json()
    assert [n["reference_id"] for n in listing["results"]] == ["ORD-B"]
    listing = integrator.get("/api/v1/notifications/", {"status": "queued"}).json()
    assert [n["reference_id"] for n in listing["results"]] == ["ORD-A"]
    listing = integrator.get("/api/v1/notifications/", {"phone": b.phone}).json()
    assert listing["count"] == 1
    assert integrator.get("/api/v1/notifications/", {"status": "lost"}).status_code == 400
    detail = integrator.get(f"/api/v1/notifications/{listing['results'][0]['id']}/")
    assert detail.json()["refusal_code"] == "notification_variables_missing"
    types = integrator.get("/api/v1/notification-types/").json()
    delayed = next(t for t in types if t["code"] == "delivery_delayed")
    assert delayed["required_variables"] == ["order_id", "new_date"]


# --- Staff pages -------------------------------------------------------------------------------


def test_log_page_permissions_search_and_resend(client, make_user, channel, simulator):
    contact = ContactFactory(phone="+919812345678", wa_id="919812345678")
    failed = notification_send(
        event_type="order_confirmation", contact=contact, variables=ORDER, reference_id="ORD-77"
    )
    Message.objects.filter(pk=failed.message_id).update(status=Status.FAILED, error_code=131026)
    # Phones fixed: a search for "ORD-77" also matches phones containing 77, and factory
    # sequence numbers depend on how many contacts earlier tests created.
    for i in range(5):
        NotificationFactory(contact=ContactFactory(phone=f"+91990000{i:04d}"))
    assert client.get("/staff/notifications/").status_code == 302
    client.force_login(make_user("Agent"))
    assert client.get("/staff/notifications/").status_code == 403
    client.force_login(make_user("Analyst"))
    page = client.get("/staff/notifications/")
    assert page.status_code == 200 and page.context["page"].paginator.count == 6
    assert b"Resend" not in page.content
    assert client.post(f"/staff/notifications/{failed.pk}/resend/").status_code == 403
    client.force_login(make_user("Campaign manager"))
    assert client.get("/staff/notifications/", {"q": "98123"}).context["page"].paginator.count == 1
    assert client.get("/staff/notifications/", {"q": "ORD-77"}).context["page"].paginator.count == 1
    by_status = client.get("/staff/notifications/", {"status": "failed"})
    assert [n.reference_id for n in by_status.context["page"]] == ["ORD-77"]
    assert b"Resend" in by_status.content
    response = client.post(f"/staff/notifications/{failed.pk}/resend/", follow=True)
    assert b"Resent as attempt 2" in response.content
    assert Notification.objects.filter(reference_id="ORD-77").count() == 2


def test_log_page_query_count_does_not_grow(client, make_user, django_assert_max_num_queries):
    NotificationFactory.create_batch(30)
    client.force_login(make_user("Campaign manager"))
    with django_assert_max_num_queries(12):
        assert client.get("/staff/notifications/").status_code == 200


def test_preferences_page(client, make_user):
    contact = ContactFactory()
    url = f"/staff/contacts/{contact.pk}/notification-preferences/"
    assert client.get(url).status_code == 302
    client.force_login(make_user("Agent"))
    assert client.get(url).status_code == 403
    client.force_login(make_user("Analyst"))
    assert client.get(url).status_code == 200
    assert client.post(url, {"receives": []}).status_code == 403
    client.force_login(make_user("Campaign manager"))
    page = client.get(url)
    assert len(page.context["preferences"]) == 10
    keep = [str(t.pk) for t in NotificationType.objects.exclude(code="we_miss_you")]
    client.post(url, {"receives": keep, "note": "asked in store"})
    event = NotificationPreferenceEvent.objects.get()
    assert (event.event_type.code, event.opted_out, event.source) == ("we_miss_you", True, "staff")
    assert b"asked in store" in client.get(url).content


def test_admin_lists_and_toggles_types(client, make_user):
    client.force_login(make_user("Admin"))
    page = client.get("/admin/messaging/notificationtype/")
    assert page.status_code == 200 and b"order_confirmation" in page.content
    ids = list(NotificationType.objects.filter(code="we_miss_you").values_list("pk", flat=True))
    client.post(
        "/admin/messaging/notificationtype/", {"action": "disable", "_selected_action": ids}
    )
    assert not NotificationType.objects.get(code="we_miss_you").enabled
    assert client.get("/admin/messaging/notification/").status_code == 200
    assert client.get("/admin/messaging/trackedlink/").status_code == 200
    assert client.get("/admin/messaging/notificationpreferenceevent/").status_code == 200


def test_contacts_are_named_by_phone_or_id_with_one_error(integrator, channel):
    contact = ContactFactory()

    def by_id(pk, reference):
        body = {k: v for k, v in order(contact, reference).items() if k != "phone"}
        return post(integrator, **body, contact=pk)

    found = by_id(contact.pk, "ID-1")
    assert found.status_code == 202, found.json()
    assert found.json()["contact"] == contact.pk
    nobody = by_id(987654, "ID-2")
    assert nobody.status_code == 400
    assert nobody.json()["error"]["code"] == "contact_unknown"


def test_without_a_channel_to_choose_the_refusal_is_recorded(integrator, channel):
    from tests.factories import ChannelFactory

    ChannelFactory(name="Second", phone_number_id="200000000000002")
    response = post(integrator, **order(ContactFactory(), "CH-1"))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "channel_unknown"
    assert error["message"] == "Several channels exist: name one by phone_number_id."
    assert Notification.objects.get(reference_id="CH-1").refusal_code == "channel_unknown"


@pytest.mark.parametrize(
    "link", ["http://169.254.169.254/latest/meta-data/", "http://localhost/insight.png"]
)
def test_a_header_media_link_from_the_caller_passes_the_ssrf_guard(
    integrator, channel, settings, link
):
    """A caller's variable that fills the header media link is refused like a direct send's
    media link, recorded on the notification, and nothing is queued."""
    settings.MEDIA_URL_ALLOW_PRIVATE = False
    NotificationType.objects.create(
        code="market_insight", name="Market insight", template_name="daily_market_insight",
        parameter_mapping={
            "header_media_link": {"source": "variable", "value": "chart"},
            "body": [{"source": "field", "value": "name"},
                     {"source": "variable", "value": "insight"}],
        },
    )  # fmt: skip
    contact = ContactFactory(consent="opted_in")
    body = {"event_type": "market_insight", "phone": contact.phone, "reference_id": "M-1",
            "variables": {"chart": link, "insight": "Mid-caps rallied"}}  # fmt: skip
    response = post(integrator, **body)
    assert response.status_code == 422, response.json()
    assert response.json()["error"]["code"] == "media_url_refused"
    assert Notification.objects.get().refusal_code == "media_url_refused"
    assert not Message.objects.exists()
    public = {**body, "reference_id": "M-2",
              "variables": {"chart": "https://93.184.215.14/c.png", "insight": "x"}}  # fmt: skip
    assert post(integrator, **public).status_code == 202
