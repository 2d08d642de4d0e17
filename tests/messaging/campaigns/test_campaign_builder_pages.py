"""The builder's preview endpoint, test sends to one's own number, the profile that holds the
number, and the results' recipients by outcome: what they do and who may use them."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from analytics.models import ButtonClick, ConversionEvent
from analytics.services.engagement import engagement_reconcile_span
from analytics.services.figures import campaign_figures
from crm.models import Consent, ConsentEvent, Contact, StaffProfile, Tag
from crm.services import consent_set, staff_phone_set
from messaging.campaigns.selectors import campaign_progress
from messaging.campaigns.services import CampaignTestRefused, campaign_test_send
from messaging.models import (
    Campaign,
    CampaignState,
    CampaignTestSend,
    Direction,
    Message,
    MessageTemplate,
    Status,
)
from messaging.sending.policy import SendRefused
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

MY_NUMBER = "+919876512345"
MAPPING = {
    "header": [{"name": "offer_name", "source": "constant", "value": "Diwali Sale"}],
    "body": [
        {"name": "first_name", "source": "field", "value": "first_name", "fallback": "there"},
        {"name": "discount", "source": "attribute", "value": "discount", "fallback": "10%"},
        {"name": "valid_until", "source": "constant", "value": "2 November"},
    ],
}


@pytest.fixture
def audience(db):
    vip = Tag.objects.create(name="vip")
    people = [
        ContactFactory(name="Asha Patel", attributes={"discount": "25%"}),
        ContactFactory(name="Ravi Kumar"),
        ContactFactory(name="Meera Iyer"),
        ContactFactory(name="Kabir Shah"),
    ]
    vip.contacts.add(*people)
    return vip, people


@pytest.fixture
def campaign(channel, audience):
    campaign = Campaign.objects.create(
        name="Diwali",
        channel=channel,
        template=MessageTemplate.objects.get(channel=channel, name="festive_offer"),
        parameter_mapping=MAPPING,
    )
    campaign.tags.add(audience[0])
    return campaign


@pytest.fixture
def manager(make_user):
    return make_user("Campaign manager")


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


FORM = {
    "header_0_source": "constant", "header_0_text": "Diwali Sale",
    "body_0_source": "field", "body_0_field": "first_name", "body_0_fallback": "there",
    "body_1_source": "attribute", "body_1_attribute": "discount", "body_1_fallback": "10%",
    "body_2_source": "constant", "body_2_text": "2 November",
}  # fmt: skip


# --- The preview ---------------------------------------------------------------------------------


def test_the_preview_renders_three_real_contacts_of_the_audience(
    manager_client, campaign, audience, django_assert_max_num_queries
):
    url = f"/staff/campaigns/{campaign.pk}/mapping/preview/"
    with django_assert_max_num_queries(12):
        response = manager_client.post(url, {**FORM, "body_2_text": "Sunday"})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('data-testid="preview-bubble"') == 3
    assert "Hi Asha, enjoy 25% off everything until Sunday." in html
    assert "Hi Ravi, enjoy 10% off everything until Sunday." in html
    assert "Kabir" not in html  # three, not the whole audience
    assert "fallback" in html
    # Nothing is saved: the preview follows the unsaved form.
    campaign.refresh_from_db()
    assert campaign.parameter_mapping == MAPPING


def test_the_preview_of_an_incomplete_form_keeps_the_placeholders(manager_client, campaign):
    url = f"/staff/campaigns/{campaign.pk}/mapping/preview/"
    response = manager_client.post(url, {**FORM, "body_1_source": "attribute",
                                         "body_1_attribute": ""})  # fmt: skip
    assert response.status_code == 200
    assert "enjoy {{discount}} off" in response.content.decode()


def test_the_preview_says_when_nobody_is_in_the_audience(manager_client, campaign, audience):
    audience[0].contacts.clear()
    response = manager_client.post(f"/staff/campaigns/{campaign.pk}/mapping/preview/", FORM)
    assert 'data-testid="preview-nobody"' in response.content.decode()


def test_the_preview_is_kept_from_those_who_cannot_edit(client, make_user, campaign):
    url = f"/staff/campaigns/{campaign.pk}/mapping/preview/"
    response = client.post(url, FORM)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    for role in ("Agent", "Analyst", "Content reviewer"):
        client.force_login(make_user(role))
        assert client.post(url, FORM).status_code == 403, role


def test_the_preview_needs_a_post_with_the_csrf_token(manager, campaign):
    url = f"/staff/campaigns/{campaign.pk}/mapping/preview/"
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(manager)
    assert strict.get(url).status_code == 405
    assert strict.post(url, FORM).status_code == 403


def test_no_preview_once_the_message_can_no_longer_change(manager_client, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(state=CampaignState.RUNNING)
    response = manager_client.post(f"/staff/campaigns/{campaign.pk}/mapping/preview/", FORM)
    assert response.status_code == 409


def test_the_builder_page_shows_the_preview_and_the_test_button(manager_client, campaign, manager):
    page = manager_client.get(f"/staff/campaigns/{campaign.pk}/mapping/")
    html = page.content.decode()
    assert html.count('data-testid="preview-bubble"') == 3
    assert 'data-testid="test-number-missing"' in html
    staff_phone_set(user=manager, phone=MY_NUMBER, consent=True)
    html = manager_client.get(f"/staff/campaigns/{campaign.pk}/mapping/").content.decode()
    assert "Save and send me a test" in html


# --- Test sends ----------------------------------------------------------------------------------


def test_a_test_goes_to_my_number_through_the_send_path_and_counts_nowhere(
    campaign, manager, audience, django_capture_on_commit_callbacks
):
    staff_phone_set(user=manager, phone=MY_NUMBER, consent=True)
    ravi = audience[1][1]
    with django_capture_on_commit_callbacks() as callbacks:
        test = campaign_test_send(campaign=campaign, sent_by=manager, sample_contact_id=ravi.pk)
    assert len(callbacks) == 1  # the dispatcher is nudged, as for any send
    message = test.message
    assert (message.status, message.type, message.sent_by) == (Status.QUEUED, "template", manager)
    assert message.contact.phone == MY_NUMBER and message.campaign_id is None
    assert message.is_marketing  # festive_offer is a marketing template: consent was checked
    body = next(c for c in message.content["components"] if c["type"] == "body")
    assert [p["text"] for p in body["parameters"]] == ["Ravi", "10%", "2 November"]
    assert (test.campaign, test.sent_by, test.sample_contact) == (campaign, manager, ravi)
    # Not the campaign's: no progress, no figures, no launch needed.
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.DRAFT
    assert campaign_progress(campaign)["total"] == 0
    Message.objects.filter(pk=message.pk).update(
        status=Status.READ, sent_at=timezone.now(), read_at=timezone.now()
    )
    assert campaign.pk not in campaign_figures(campaign_ids=[campaign.pk])


def test_a_test_uses_the_first_preview_contact_by_default(campaign, manager, audience):
    staff_phone_set(user=manager, phone=MY_NUMBER, consent=True)
    test = campaign_test_send(campaign=campaign, sent_by=manager)
    assert test.sample_contact == audience[1][0]


def test_no_test_without_my_number(campaign, manager):
    with pytest.raises(CampaignTestRefused) as exc:
        campaign_test_send(campaign=campaign, sent_by=manager)
    assert exc.value.code == "test_number_missing"
    assert not Message.objects.exists()


def test_no_test_with_the_values_of_someone_outside_the_audience(campaign, manager):
    staff_phone_set(user=manager, phone=MY_NUMBER, consent=True)
    stranger = ContactFactory()
    with pytest.raises(CampaignTestRefused, match="not in the campaign's audience"):
        campaign_test_send(campaign=campaign, sent_by=manager, sample_contact_id=stranger.pk)
    assert not CampaignTestSend.objects.exists()


def test_the_send_policy_decides_a_test_too(campaign, manager):
    """My number sent STOP: a marketing test is refused with the policy's reason."""
    staff_phone_set(user=manager, phone=MY_NUMBER, consent=True)
    me = Contact.objects.get(phone=MY_NUMBER)
    consent_set(contact=me, consent=Consent.OPTED_OUT, source="keyword", note="STOP")
    with pytest.raises(SendRefused) as exc:
        campaign_test_send(campaign=campaign, sent_by=manager)
    assert exc.value.code == "opted_out"
    assert MY_NUMBER in exc.value.message
    assert not Message.objects.exists() and not CampaignTestSend.objects.exists()


def test_no_test_of_an_incomplete_message(campaign, manager):
    staff_phone_set(user=manager, phone=MY_NUMBER, consent=True)
    Campaign.objects.filter(pk=campaign.pk).update(parameter_mapping={})
    campaign.refresh_from_db()
    with pytest.raises(Exception, match="The message is not ready"):
        campaign_test_send(campaign=campaign, sent_by=manager)
    assert not Message.objects.exists()


def test_the_test_button_sends_and_says_so(manager_client, campaign, manager):
    staff_phone_set(user=manager, phone=MY_NUMBER, consent=True)
    response = manager_client.post(f"/staff/campaigns/{campaign.pk}/test/", follow=True)
    assert response.redirect_chain[-1][0] == f"/staff/campaigns/{campaign.pk}/"
    assert any("Test sent to +919876512345" in str(m) for m in response.context["messages"])
    assert 'data-testid="test-send"' in response.content.decode()
    assert CampaignTestSend.objects.filter(campaign=campaign).count() == 1


def test_save_and_test_from_the_builder(manager_client, campaign, manager, audience):
    staff_phone_set(user=manager, phone=MY_NUMBER, consent=True)
    meera = audience[1][2]
    url = f"/staff/campaigns/{campaign.pk}/mapping/"
    data = {**FORM, "body_2_text": "Sunday", "then": "test", "sample": str(meera.pk)}
    response = manager_client.post(url, data)
    assert response["Location"] == url
    campaign.refresh_from_db()
    assert campaign.parameter_mapping["body"][2]["value"] == "Sunday"
    [test] = CampaignTestSend.objects.all()
    assert test.sample_contact == meera
    assert "Hi Meera" not in str(test.message.content)  # parameters, not text
    body = next(c for c in test.message.content["components"] if c["type"] == "body")
    assert [p["text"] for p in body["parameters"]] == ["Meera", "10%", "Sunday"]


def test_the_test_button_shows_the_refusal(manager_client, campaign):
    response = manager_client.post(f"/staff/campaigns/{campaign.pk}/test/", follow=True)
    assert any("Add your WhatsApp number" in str(m) for m in response.context["messages"])
    assert not Message.objects.exists()


def test_test_sends_are_kept_from_those_who_may_not_send(client, make_user, campaign):
    url = f"/staff/campaigns/{campaign.pk}/test/"
    assert client.post(url).status_code == 302
    for role in ("Agent", "Analyst", "Content reviewer"):
        user = make_user(role)
        staff_phone_set(user=user, phone=MY_NUMBER, consent=True)
        client.force_login(user)
        assert client.post(url).status_code == 403, role
    assert not Message.objects.exists()
    client.force_login(make_user("Campaign manager"))
    assert client.get(url).status_code == 405


# --- The profile that holds the number --------------------------------------------------------


def test_my_number_is_saved_with_my_agreement(client, manager):
    client.force_login(manager)
    assert client.get("/staff/profile/").status_code == 200
    refused = client.post("/staff/profile/", {"phone": "98765 12345"})
    assert refused.status_code == 422
    assert "Tick that you agree" in refused.content.decode()
    assert not Contact.objects.filter(phone=MY_NUMBER).exists()
    response = client.post("/staff/profile/", {"phone": "98765 12345", "consent": "on"})
    assert response.status_code == 302
    assert StaffProfile.objects.get(user=manager).phone == MY_NUMBER
    me = Contact.objects.get(phone=MY_NUMBER)
    assert me.consent == Consent.OPTED_IN
    event = ConsentEvent.objects.get(contact=me)
    assert (event.source, event.actor) == ("staff", manager)
    bad = client.post("/staff/profile/", {"phone": "12", "consent": "on"})
    assert bad.status_code == 422 and "phone" in bad.context["form"].errors
    assert StaffProfile.objects.get(user=manager).phone == MY_NUMBER  # nothing lost
    client.post("/staff/profile/", {"phone": ""})
    assert StaffProfile.objects.get(user=manager).phone == ""


def test_a_number_that_said_stop_stays_opted_out(manager):
    me = ContactFactory(phone=MY_NUMBER, consent=Consent.OPTED_OUT)
    staff_phone_set(user=manager, phone=MY_NUMBER, consent=True)
    me.refresh_from_db()
    assert me.consent == Consent.OPTED_OUT


def test_every_staff_role_has_a_profile_and_nobody_else(client, role_user):
    assert client.get("/staff/profile/").status_code == 302
    client.force_login(role_user)
    assert client.get("/staff/profile/").status_code == 200


def test_the_profile_is_staff_only(client, make_user):
    client.force_login(make_user())  # no role
    assert client.get("/staff/profile/").status_code == 403


# --- Results and recipients by outcome --------------------------------------------------------


@pytest.fixture
def launched(campaign, audience, channel):
    """A campaign that reached its four contacts: read, delivered, failed, refused."""
    now = timezone.now()
    Campaign.objects.filter(pk=campaign.pk).update(
        state=CampaignState.COMPLETED, launched_at=now - timedelta(hours=2), completed_at=now
    )
    asha, ravi, meera, kabir = audience[1]
    at = now - timedelta(hours=1)
    common = {"channel": channel, "campaign": campaign, "direction": Direction.OUTBOUND,
              "type": "template", "created_at": at}  # fmt: skip
    Message.objects.create(contact=asha, status=Status.READ, sent_at=at, delivered_at=at,
                           read_at=at, wamid="w1", **common)  # fmt: skip
    to_ravi = Message.objects.create(contact=ravi, status=Status.DELIVERED, sent_at=at,
                                     delivered_at=at, wamid="w2", **common)  # fmt: skip
    Message.objects.create(contact=meera, status=Status.FAILED, failed_at=at, error_code=131026,
                           error_title="Message undeliverable", **common)  # fmt: skip
    Message.objects.create(contact=kabir, status=Status.FAILED, failed_at=at,
                           refusal="no_consent", **common)  # fmt: skip
    Message.objects.create(channel=channel, contact=asha, direction=Direction.INBOUND,
                           type="text", content={"body": "Yes!"}, status=Status.RECEIVED,
                           received_at=at + timedelta(minutes=5))  # fmt: skip
    tap = Message.objects.create(
        channel=channel, contact=ravi, direction=Direction.INBOUND, type="button",
        content={"text": "Shop now"}, status=Status.RECEIVED,
        received_at=at + timedelta(minutes=3),
    )  # fmt: skip
    ButtonClick.objects.create(
        message=tap, replied_to=to_ravi, contact=ravi, campaign=campaign, payload="Shop now",
        clicked_at=at + timedelta(minutes=3),
    )  # fmt: skip
    ConversionEvent.objects.create(reference_id="ORD-1", contact=ravi, type="order",
                                   value=Decimal("999"), value_base=Decimal("999"),
                                   currency="INR", occurred_at=at + timedelta(minutes=9),
                                   attributed_campaign=campaign)  # fmt: skip
    # Stored behind the inbound path's back: the rollup's pass credits the reply and the tap.
    engagement_reconcile_span(at, now + timedelta(minutes=1))
    campaign.refresh_from_db()
    return campaign


def names(response):
    return sorted(str(row["message"].contact) for row in response.context["recipients"])


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        ("all", ["Asha Patel", "Kabir Shah", "Meera Iyer", "Ravi Kumar"]),
        ("sent", ["Asha Patel", "Ravi Kumar"]),
        ("delivered", ["Asha Patel", "Ravi Kumar"]),
        ("read", ["Asha Patel"]),
        ("replied", ["Asha Patel", "Ravi Kumar"]),  # a tap is a message back too
        ("clicked", ["Ravi Kumar"]),
        ("converted", ["Ravi Kumar"]),
        ("failed", ["Meera Iyer"]),
        ("not_sent", ["Kabir Shah"]),
        ("pending", []),
        ("nonsense", ["Asha Patel", "Kabir Shah", "Meera Iyer", "Ravi Kumar"]),
    ],
)
def test_recipients_by_outcome_follow_the_funnel(manager_client, launched, outcome, expected):
    response = manager_client.get(f"/staff/campaigns/{launched.pk}/results/?outcome={outcome}")
    assert response.status_code == 200
    assert names(response) == expected


def test_the_results_show_the_funnel_failures_and_money(manager_client, launched):
    response = manager_client.get(f"/staff/campaigns/{launched.pk}/results/?outcome=failed")
    summary = response.context["summary"]
    funnel = {step.key: step.count for step in summary.funnel}
    assert funnel == {"all": 4, "sent": 2, "delivered": 2, "read": 1, "replied": 2,
                      "clicked": 1, "converted": 1}  # fmt: skip
    assert [(f.code, f.count) for f in summary.failures] == [("131026", 1)]
    assert summary.conversions == 1 and summary.revenue == Decimal("999.00")
    html = response.content.decode()
    assert "Undeliverable" in html  # the code's meaning, in the failures and the recipient row
    assert "Not sent" in html and "131026" in html


def test_the_recipients_are_paged(manager_client, launched, channel):
    extra = ContactFactory.create_batch(60)
    for contact in extra:
        Message.objects.create(
            channel=channel, campaign=launched, contact=contact, direction="out",
            type="template", status=Status.ACCEPTED,
        )  # fmt: skip
    first = manager_client.get(f"/staff/campaigns/{launched.pk}/results/")
    assert len(first.context["recipients"]) == 50
    assert "Page 1 of 2 (64 in all)" in first.content.decode()
    second = manager_client.get(f"/staff/campaigns/{launched.pk}/results/?outcome=all&page=2")
    assert len(second.context["recipients"]) == 14


def test_the_results_cost_a_bounded_number_of_queries(
    manager_client, launched, django_assert_max_num_queries
):
    # A live campaign's figures read each day not rolled up yet (ANALYTICS_ROLLUP_RECENT_DAYS),
    # whatever the campaign's size.
    with django_assert_max_num_queries(60):
        manager_client.get(f"/staff/campaigns/{launched.pk}/results/?outcome=replied")


def test_the_campaign_page_loads_its_results_once_launched(manager_client, launched, campaign):
    html = manager_client.get(f"/staff/campaigns/{launched.pk}/?outcome=read").content.decode()
    assert f'hx-get="/staff/campaigns/{launched.pk}/results/?outcome=read"' in html
    Campaign.objects.filter(pk=launched.pk).update(state=CampaignState.DRAFT)
    html = manager_client.get(f"/staff/campaigns/{launched.pk}/").content.decode()
    assert "campaign-results" not in html


def test_the_results_are_kept_from_those_who_cannot_see_campaigns(client, make_user, launched):
    url = f"/staff/campaigns/{launched.pk}/results/"
    assert client.get(url).status_code == 302
    for role in ("Agent", "Content reviewer"):
        client.force_login(make_user(role))
        assert client.get(url).status_code == 403, role
    client.force_login(make_user("Analyst"))
    assert client.get(url).status_code == 200


# --- The schedule ---------------------------------------------------------------------------------


def test_the_schedule_reads_in_the_campaigns_time_zone(manager_client, campaign, settings):
    """A time typed for New York is shown as typed, in New York, with the business's own
    clock beside it; never the business's clock labelled with the campaign's zone."""
    settings.TIME_ZONE = "Asia/Kolkata"
    campaign.schedule_timezone = "America/New_York"
    campaign.save(update_fields=["schedule_timezone"])
    response = manager_client.post(
        f"/staff/campaigns/{campaign.pk}/schedule/", {"scheduled_at": "2030-01-07T09:00"}
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.scheduled_at.isoformat() == "2030-01-07T14:00:00+00:00"
    html = manager_client.get(f"/staff/campaigns/{campaign.pk}/").content.decode()
    shown = html.split('data-testid="scheduled-at">', 1)[1].split("</dd>", 1)[0]
    assert shown.startswith("7 Jan 2030, 09:00 EST (America/New_York)")
    assert "7 Jan 2030, 19:30 IST here" in shown


def test_a_schedule_in_the_business_time_zone_is_shown_once(manager_client, campaign, settings):
    settings.TIME_ZONE = "Asia/Kolkata"
    campaign.schedule_timezone = "Asia/Kolkata"
    campaign.save(update_fields=["schedule_timezone"])
    manager_client.post(
        f"/staff/campaigns/{campaign.pk}/schedule/", {"scheduled_at": "2030-01-07T09:00"}
    )
    html = manager_client.get(f"/staff/campaigns/{campaign.pk}/").content.decode()
    shown = html.split('data-testid="scheduled-at">', 1)[1].split("</dd>", 1)[0]
    assert shown == "7 Jan 2030, 09:00 IST (Asia/Kolkata)"
