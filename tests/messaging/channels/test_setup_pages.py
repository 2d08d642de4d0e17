"""The staff pages of numbers (/staff/channels/) and templates (/staff/templates/): what they
show, that secrets are only ever "set" or "missing", the admin-only edits, the provider sync
through the real simulator, and who may do what."""

from __future__ import annotations

import pytest
from django.urls import reverse

from messaging.models import Channel, MessageTemplate
from tests.factories import ChannelFactory, TemplateFactory

pytestmark = pytest.mark.django_db

CHANNELS = "/staff/channels/"
TEMPLATES = "/staff/templates/"


@pytest.fixture
def as_role(client, make_user):
    def login(role: str):
        client.force_login(make_user(role))
        return client

    return login


# --- Numbers -------------------------------------------------------------------------------------


def test_the_numbers_page_shows_health_limits_and_which_secrets_are_set(as_role, settings):
    settings.WHATSAPP_API_TOKEN = "tok-SECRET-value-123"
    settings.WHATSAPP_APP_SECRET = ""
    settings.WHATSAPP_WEBHOOK_VERIFY_TOKEN = "verify-SECRET-456"
    ChannelFactory(
        name="Sales", quality_rating="YELLOW", messaging_tier="TIER_1K", throughput_mps=80
    )
    page = as_role("Analyst").get(CHANNELS)
    assert page.status_code == 200
    html = page.content.decode()
    (number,) = page.context["numbers"]
    assert [(s["label"], s["state"]) for s in number["secrets"]] == [
        ("Access token", "set"),
        ("App secret (webhook signatures)", "missing"),
        ("Webhook verify token", "set"),
    ]
    assert "tok-SECRET" not in html and "verify-SECRET" not in html
    assert "Medium (yellow)" in html and "1,000" in html and "80 messages/second" in html
    assert "http://testserver/webhooks/whatsapp/" in html
    assert "Edit settings" not in html  # an analyst reads only


def test_each_provider_lists_its_own_secrets_and_webhook(as_role, settings):
    settings.MYOPERATOR_API_KEY = "key-SECRET"
    settings.MYOPERATOR_COMPANY_ID = ""
    settings.MYOPERATOR_WEBHOOK_TOKEN = "hook-SECRET"
    ChannelFactory(provider="myoperator", token_setting="MYOPERATOR_API_KEY")
    page = as_role("Admin").get(CHANNELS)
    (number,) = page.context["numbers"]
    assert [(s["label"], s["setting"], s["state"]) for s in number["secrets"]] == [
        ("API key", "MYOPERATOR_API_KEY", "set"),
        ("Company id", "MYOPERATOR_COMPANY_ID", "missing"),
        ("Webhook token", "MYOPERATOR_WEBHOOK_TOKEN", "set"),
    ]
    assert number["webhook"][0] == "http://testserver/webhooks/myoperator/"
    html = page.content.decode()
    assert "MyOperator&#x27;s panel" in html and "SECRET" not in html


def test_a_name_no_channel_may_use_reads_as_not_allowed(as_role):
    channel = ChannelFactory()
    Channel.objects.filter(pk=channel.pk).update(app_secret_setting="SECRET_KEY")
    page = as_role("Admin").get(CHANNELS)
    states = {s["setting"]: s["state"] for s in page.context["numbers"][0]["secrets"]}
    assert states["SECRET_KEY"] == "not allowed"


def test_the_numbers_page_costs_the_same_for_many_numbers(as_role, django_assert_max_num_queries):
    for n in range(6):
        ChannelFactory(phone_number_id=f"30000000000000{n}", name=f"Number {n}")
    client = as_role("Campaign manager")
    with django_assert_max_num_queries(8):
        assert client.get(CHANNELS).status_code == 200


def test_an_admin_edits_the_non_secret_settings(as_role):
    channel = ChannelFactory(throughput_mps=80)
    client = as_role("Admin")
    url = reverse("messaging:channel-edit", args=[channel.pk])
    form = client.get(url).content.decode()
    assert "token_setting" not in form and "base_url" not in form
    bad = client.post(url, {"name": "Sales", "throughput_mps": "5000", "is_active": "on"})
    assert bad.status_code == 422 and "Between 1 and 1,000" in bad.content.decode()
    data = {"name": "Sales", "display_phone_number": "+91 98765 43210", "waba_id": "1",
            "throughput_mps": "250", "is_active": "on"}  # fmt: skip
    assert client.post(url, data).status_code == 302
    channel.refresh_from_db()
    assert (channel.name, channel.throughput_mps) == ("Sales", 250)


def test_only_admins_change_a_number(as_role):
    channel = ChannelFactory()
    client = as_role("Campaign manager")
    assert client.get(CHANNELS).status_code == 200
    for method, url in [
        ("get", reverse("messaging:channel-edit", args=[channel.pk])),
        ("post", reverse("messaging:channel-refresh", args=[channel.pk])),
        ("post", reverse("messaging:channel-resume", args=[channel.pk])),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code == 403
        assert "Can change channel" in response.content.decode()


@pytest.mark.parametrize("role", ["Agent", "Content reviewer"])
def test_roles_without_the_channel_permission_get_403(as_role, role):
    ChannelFactory()
    assert as_role(role).get(CHANNELS).status_code == 403


def test_anonymous_users_sign_in_first(client):
    channel = ChannelFactory()
    for url in (CHANNELS, TEMPLATES, reverse("messaging:channel-edit", args=[channel.pk])):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    response = client.post(reverse("messaging:template-sync"))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_refresh_reads_the_number_from_the_provider(channel, as_role):
    response = as_role("Admin").post(
        reverse("messaging:channel-refresh", args=[channel.pk]), follow=True
    )
    channel.refresh_from_db()
    assert (channel.quality_rating, channel.messaging_tier) == ("GREEN", "TIER_10K")
    assert "quality GREEN, tier TIER_10K, CONNECTED" in response.content.decode()


def test_resume_clears_a_pause(as_role, django_capture_on_commit_callbacks):
    channel = ChannelFactory(paused_reason="auth failed")
    client = as_role("Admin")
    assert "Sending is paused: auth failed" in client.get(CHANNELS).content.decode()
    with django_capture_on_commit_callbacks() as callbacks:
        client.post(reverse("messaging:channel-resume", args=[channel.pk]))
    channel.refresh_from_db()
    assert channel.paused_reason == "" and len(callbacks) == 1


# --- Templates -----------------------------------------------------------------------------------


def test_templates_show_status_quality_reason_and_a_preview_with_examples(as_role):
    TemplateFactory(
        name="order_confirmation",
        quality_score="GREEN",
        components=[
            {
                "type": "HEADER",
                "format": "TEXT",
                "text": "Order {{1}}",
                "example": {"header_text": ["#40321"]},
            },
            {
                "type": "BODY",
                "text": "Hi {{1}}, it ships {{2}}.",
                "example": {"body_text": [["Asha", "Friday"]]},
            },
            {"type": "FOOTER", "text": "Reply HELP"},
            {
                "type": "BUTTONS",
                "buttons": [
                    {
                        "type": "URL",
                        "text": "Track",
                        "url": "https://shop.example.com/t/{{1}}",
                        "example": ["https://shop.example.com/t/40321"],
                    },
                    {"type": "QUICK_REPLY", "text": "Stop promotions"},
                ],
            },
        ],
        parameters={"header": ["1"], "body": ["1", "2"], "buttons": {"0": ["1"]}},
    )
    TemplateFactory(name="spring_sale", status="REJECTED", rejected_reason="TAG_CONTENT_MISMATCH",
                    category="MARKETING")  # fmt: skip
    page = as_role("Content reviewer").get(TEMPLATES)
    assert page.status_code == 200
    html = page.content.decode()
    cards = {c["template"].name: c for c in page.context["cards"]}
    preview = cards["order_confirmation"]["preview"]
    assert (preview.header, preview.body, preview.footer) == (
        "Order #40321",
        "Hi Asha, it ships Friday.",
        "Reply HELP",
    )
    assert preview.buttons[0]["url"] == "https://shop.example.com/t/40321"
    assert "Rejected by Meta: <strong>TAG_CONTENT_MISMATCH</strong>" in html
    assert "Quality green" in html
    assert "{{1}}" not in html


def test_a_placeholder_without_an_example_shows_its_name(as_role):
    TemplateFactory(
        parameter_format="named",
        components=[{"type": "BODY", "text": "Hi {{first_name}}"}],
        parameters={"body": ["first_name"]},
    )
    page = as_role("Agent").get(TEMPLATES)
    assert page.context["cards"][0]["preview"].body == "Hi [first_name]"


def test_templates_filter_by_status_and_channel(as_role):
    main = ChannelFactory()
    other = ChannelFactory(phone_number_id="300000000000009", name="Other")
    TemplateFactory(channel=main, name="a_approved")
    TemplateFactory(channel=main, name="b_pending", status="PENDING")
    TemplateFactory(channel=other, name="c_other")
    client = as_role("Analyst")
    names = lambda **q: [c["template"].name for c in client.get(TEMPLATES, q).context["cards"]]  # noqa: E731
    assert names(status="PENDING") == ["b_pending"]
    assert names(channel=str(other.pk)) == ["c_other"]
    assert names(q="approved") == ["a_approved"]
    empty = client.get(TEMPLATES, {"q": "nothing-like-this"})
    assert "No template matches these filters." in empty.content.decode()


def test_the_templates_page_is_bounded_whatever_the_count(as_role, django_assert_max_num_queries):
    for n in range(30):
        TemplateFactory(name=f"t_{n:02d}")
    client = as_role("Campaign manager")
    with django_assert_max_num_queries(10):
        page = client.get(TEMPLATES)
    assert len(page.context["cards"]) == 20


def test_sync_pulls_the_templates_from_the_provider(channel, as_role):
    MessageTemplate.objects.filter(channel=channel).delete()
    response = as_role("Campaign manager").post(reverse("messaging:template-sync"), follow=True)
    assert MessageTemplate.objects.filter(channel=channel, name="order_confirmation").exists()
    assert f"{channel.name}: " in response.content.decode()
    assert "new," in response.content.decode()


def test_sync_needs_its_permission(channel, as_role):
    client = as_role("Analyst")
    assert "Sync now" not in client.get(TEMPLATES).content.decode()
    response = client.post(reverse("messaging:template-sync"))
    assert response.status_code == 403
    assert "Can sync templates from the provider" in response.content.decode()
