"""The auto-reply staff pages: list, create with one input per template value, edit, enable
and disable, delete, "try a message" (the inbound path's own matching), the FAQ's new home,
and who may do what (with the friendly 403)."""

import pytest
from django.urls import reverse

from messaging.automation.services import autoreply_process, rule_match
from messaging.models import AutoReplyRule, FaqEntry, Message
from tests.factories import (
    AutoReplyRuleFactory,
    ChannelFactory,
    FaqEntryFactory,
    TagFactory,
    TemplateFactory,
)
from tests.messaging.inbox.support import inbound

pytestmark = pytest.mark.django_db

LIST = "/staff/auto-replies/"
NEW = "/staff/auto-replies/new/"


@pytest.fixture(autouse=True)
def office_always_open(settings):
    settings.OFFICE_HOURS = "Daily 00:00-24:00"


@pytest.fixture
def wa_channel(db):
    return ChannelFactory()


@pytest.fixture
def manager(client, make_user):
    client.force_login(make_user("Campaign manager"))
    return client


def rule_data(**overrides) -> dict:
    data = {
        "name": "Refunds",
        "enabled": "on",
        "trigger": "keyword",
        "trigger_value": "refund, money back",
        "action": "send_text",
        "text": "Refunds take 5 to 7 days.",
        "order": "10",
        "cooldown_minutes": "0",
        "stop_processing": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# --- Create, edit, enable, delete ----------------------------------------------------------------


def test_a_manager_creates_a_text_rule_that_the_inbound_path_then_fires(manager, wa_channel):
    response = manager.post(NEW, rule_data())
    assert response.status_code == 302 and response["Location"] == LIST
    rule = AutoReplyRule.objects.get(name="Refunds")
    assert (rule.trigger_value, rule.text, rule.template_parameters) == (
        "refund, money back",
        "Refunds take 5 to 7 days.",
        {},
    )
    message = inbound(body="I want my money back please")
    (run,) = autoreply_process(message_id=message.pk)
    assert run.outcome == "sent" and run.rule == rule
    assert run.reply.content["body"] == "Refunds take 5 to 7 days."


def test_template_values_are_inputs_per_placeholder_not_json(manager, wa_channel):
    template = TemplateFactory(
        channel=wa_channel,
        name="order_update",
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
        ],
        parameters={"header": ["1"], "body": ["1", "2"]},
    )
    page = manager.get(reverse("messaging:autoreply-template-fields"), {"template": template.pk})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="param_header_1"' in html and 'name="param_body_2"' in html
    assert "Example from the template: Friday" in html
    assert "template_parameters" not in manager.get(NEW).content.decode()

    data = rule_data(action="send_template", text="", template=str(template.pk))
    missing = manager.post(NEW, {**data, "param_header_1": "#1", "param_body_1": "there"})
    assert missing.status_code == 422
    assert "Give a value: the template needs it." in missing.content.decode()
    assert not AutoReplyRule.objects.exists()

    values = {"param_header_1": "#1", "param_body_1": "there", "param_body_2": "today"}
    assert manager.post(NEW, {**data, **values}).status_code == 302
    rule = AutoReplyRule.objects.get()
    assert rule.template == template
    assert rule.template_parameters == {"header": ["#1"], "body": ["there", "today"]}
    # Editing shows the saved values in the inputs again.
    edit = manager.get(reverse("messaging:autoreply-edit", args=[rule.pk])).content.decode()
    assert 'value="today"' in edit


def test_named_templates_store_their_values_by_name(manager, wa_channel):
    template = TemplateFactory(
        channel=wa_channel,
        parameter_format="named",
        components=[{"type": "BODY", "text": "Hi {{first_name}}"}],
        parameters={"body": ["first_name"]},
    )
    data = rule_data(action="send_template", text="", template=str(template.pk))
    assert manager.post(NEW, {**data, "param_body_first_name": "friend"}).status_code == 302
    assert AutoReplyRule.objects.get().template_parameters == {"body": {"first_name": "friend"}}


def test_switching_template_without_its_inputs_asks_again_and_loses_nothing(manager, wa_channel):
    one = TemplateFactory(channel=wa_channel, parameters={"body": ["1", "2"]})
    data = rule_data(action="send_template", text="Kept text", template=str(one.pk))
    # The page showed no inputs (no template chosen when it was drawn): now they are asked for.
    page = manager.post(NEW, data)
    assert page.status_code == 422
    html = page.content.decode()
    assert 'name="param_body_1"' in html and "Kept text" in html and "Refunds" in html


def test_model_checks_show_at_the_right_inputs(manager, wa_channel):
    page = manager.post(NEW, rule_data(trigger="regex", trigger_value="(unclosed"))
    assert page.status_code == 422
    assert "Not a regular expression" in page.content.decode()
    page = manager.post(NEW, rule_data(action="add_tag", text=""))
    assert "Choose the tag." in page.content.decode()
    tag = TagFactory(name="refunds")
    assert manager.post(NEW, rule_data(action="add_tag", tag=str(tag.pk))).status_code == 302


def test_a_paused_template_stays_listed_with_the_reason(manager, wa_channel):
    template = TemplateFactory(channel=wa_channel, parameters={"body": []}, components=[])
    rule = AutoReplyRuleFactory(action="send_template", template=template, text="")
    template.status = "PAUSED"
    template.save()
    url = reverse("messaging:autoreply-edit", args=[rule.pk])
    page = manager.post(url, rule_data(action="send_template", template=str(template.pk)))
    assert page.status_code == 422
    assert "is PAUSED" in page.content.decode()


def test_enable_checks_the_rule_and_disable_keeps_it(manager, wa_channel):
    rule = AutoReplyRuleFactory(enabled=True)
    assert manager.post(reverse("messaging:autoreply-disable", args=[rule.pk])).status_code == 302
    rule.refresh_from_db()
    assert rule.enabled is False
    manager.post(reverse("messaging:autoreply-enable", args=[rule.pk]))
    rule.refresh_from_db()
    assert rule.enabled is True
    broken = AutoReplyRuleFactory(enabled=False, action="assign", assign_to=None)
    response = manager.post(reverse("messaging:autoreply-enable", args=[broken.pk]), follow=True)
    broken.refresh_from_db()
    assert broken.enabled is False
    assert "stays disabled: Choose the user." in response.content.decode()


def test_delete_removes_the_rule(manager):
    rule = AutoReplyRuleFactory()
    assert manager.post(reverse("messaging:autoreply-delete", args=[rule.pk])).status_code == 302
    assert not AutoReplyRule.objects.filter(pk=rule.pk).exists()


def test_the_list_shows_rules_in_order_with_a_bounded_number_of_queries(
    manager, django_assert_max_num_queries
):
    template = TemplateFactory()
    for n in range(12):
        AutoReplyRuleFactory(order=n, action="send_template", template=template)
    with django_assert_max_num_queries(12):
        page = manager.get(LIST)
    assert page.status_code == 200
    names = [r.name for r in page.context["rules"]]
    assert names == sorted(names, key=lambda n: AutoReplyRule.objects.get(name=n).order)


# --- Try a message -------------------------------------------------------------------------------


def test_try_a_message_shows_which_rule_fires_and_why(manager, wa_channel):
    AutoReplyRuleFactory(name="Refunds", trigger="keyword", trigger_value="refund",
                         text="5 to 7 days.")  # fmt: skip
    AutoReplyRuleFactory(name="Later", trigger="keyword", trigger_value="refund",
                         enabled=False)  # fmt: skip
    page = manager.get(LIST, {"kind": "text", "text": "Where is my REFUND?"})
    html = page.content.decode()
    (step,) = page.context["tried"]["steps"]
    assert (step.label, step.would_send) == ("Refunds", "5 to 7 days.")
    assert step.why == "the keyword REFUND is in the text"
    assert "Because the keyword REFUND is in the text." in html
    assert "Would also match if enabled: <strong>Later</strong>" in html
    assert not Message.objects.exists()


def test_try_a_message_says_when_nothing_fires(manager):
    AutoReplyRuleFactory(trigger="keyword", trigger_value="refund")
    page = manager.get(LIST, {"kind": "text", "text": "hello there"})
    assert page.context["tried"]["fires"] is False
    assert "<strong>No rule fires</strong> and no responder would answer" in page.content.decode()


def test_try_a_button_tap_and_a_bad_sample(manager):
    AutoReplyRuleFactory(name="Track", trigger="payload_prefix", trigger_value="TRACK_")
    page = manager.get(LIST, {"kind": "button", "payload": "TRACK_42", "text": "Track"})
    (step,) = page.context["tried"]["steps"]
    assert step.why == "the button payload starts with TRACK_"
    empty = manager.get(LIST, {"kind": "text", "text": ""})
    assert "Type a sample message, payload or reply id." in empty.content.decode()


def test_the_page_and_the_inbound_path_share_one_matching_function(wa_channel):
    """What the page explains is what the webhook path does: both go through `rule_match`."""
    from messaging.automation import services

    rule = AutoReplyRuleFactory(trigger="regex", trigger_value=r"order\s*#?\d+", text="On it.")
    sample = services.inbound_sample(text="Where is order #4032?")
    assert rule_match(rule, sample) == "the expression matched 'order #4032'"
    message = inbound(body="Where is order #4032?")
    (run,) = autoreply_process(message_id=message.pk)
    assert run.rule == rule and run.outcome == "sent"


def test_office_hours_reason_names_the_local_time(settings):
    settings.OFFICE_HOURS = "Mon 09:00-10:00"
    settings.OFFICE_TIME_ZONE = "Asia/Kolkata"
    import datetime as dt

    from messaging.automation.services import inbound_sample

    rule = AutoReplyRuleFactory(trigger="outside_hours", trigger_value="")
    sunday = dt.datetime(2026, 3, 15, 6, 30, tzinfo=dt.UTC)  # 12:00 in India
    why = rule_match(rule, inbound_sample(text="hi", at=sunday))
    assert why == "Sun 12:00 is outside office hours: Mon 09:00-10:00 (Asia/Kolkata)"


# --- Who may do what ---------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_sign_in(client):
    rule = AutoReplyRuleFactory()
    for url in (LIST, NEW, reverse("messaging:autoreply-edit", args=[rule.pk])):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_an_agent_reads_and_tries_but_gets_the_friendly_403_for_changes(client, make_user):
    rule = AutoReplyRuleFactory()
    client.force_login(make_user("Agent"))
    assert client.get(LIST).status_code == 200
    assert client.get(LIST, {"kind": "text", "text": "hello"}).status_code == 200
    for method, url in [
        ("get", NEW),
        ("get", reverse("messaging:autoreply-edit", args=[rule.pk])),
        ("post", reverse("messaging:autoreply-disable", args=[rule.pk])),
        ("post", reverse("messaging:autoreply-delete", args=[rule.pk])),
        ("get", reverse("messaging:autoreply-template-fields")),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code == 403, url
        html = response.content.decode()
        assert "You can't open this page" in html
        assert "Admin" in html and "Campaign manager" in html
    assert AutoReplyRule.objects.filter(pk=rule.pk, enabled=True).exists()
    page = client.get(LIST).content.decode()
    assert "New rule" not in page and "Disable" not in page


def test_a_reviewer_may_not_even_read_the_rules(client, make_user):
    client.force_login(make_user("Content reviewer"))
    response = client.get(LIST)
    assert response.status_code == 403
    assert "Can view auto-reply rule" in response.content.decode()


# --- The FAQ at /staff/faq/ ----------------------------------------------------------------------


def test_the_faq_lives_at_staff_faq_and_toggles(manager):
    entry = FaqEntryFactory(question="When will it arrive?", enabled=True)
    assert manager.get("/staff/faq/").status_code == 200
    manager.post(reverse("messaging:faq-disable", args=[entry.pk]))
    assert FaqEntry.objects.get(pk=entry.pk).enabled is False
    manager.post(reverse("messaging:faq-enable", args=[entry.pk]))
    assert FaqEntry.objects.get(pk=entry.pk).enabled is True
    form = manager.get("/staff/faq/new/").content.decode()
    assert "Words or short phrases separated by commas" in form


def test_faq_toggles_need_the_change_permission(client, make_user):
    entry = FaqEntryFactory(enabled=True)
    client.force_login(make_user("Analyst"))
    assert client.post(reverse("messaging:faq-disable", args=[entry.pk])).status_code == 403
    assert FaqEntry.objects.get(pk=entry.pk).enabled is True
    client.logout()
    response = client.post(reverse("messaging:faq-disable", args=[entry.pk]))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_faq_s_old_address_redirects_to_its_setup_page(client, make_user):
    client.force_login(make_user("Agent"))
    response = client.get("/staff/inbox/faq/")
    assert response.status_code == 301
    assert response["Location"] == "/staff/faq/"
