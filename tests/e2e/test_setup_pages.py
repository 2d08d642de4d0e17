"""Setting up auto-replies in the browser, end to end: a campaign manager creates a rule on the
staff page, tries a message and sees it fire, and then a customer's message through the real
inbound path (the simulator posting a signed webhook to the live server) gets the reply. Also
the template-value inputs that follow the chosen template (htmx), the setup pages at phone and
laptop sizes, and the friendly 403 an agent meets.

As in test_inbox.py, Celery runs eagerly: the webhook is processed inside the request that
delivered it and the auto-reply task right after it commits, through the same code a worker
runs.
"""

from __future__ import annotations

import time

import pytest
import requests

from messaging.models import AutoReplyRule, Direction, Message, Status
from tests.e2e.conftest import live_server_idle
from tests.factories import AutoReplyRuleFactory, FaqEntryFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WA_ID = "919812345678"
SIZES = {"phone": {"width": 390, "height": 844}, "laptop": {"width": 1366, "height": 768}}


@pytest.fixture
def eager_celery(settings):
    from config.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = True
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def whatsapp(simulator, channel, live_server, eager_celery, settings):
    settings.OFFICE_HOURS = ""  # no out-of-office rule surprises whenever the suite runs
    settings.SEND_RECIPIENT_MIN_GAP_SECONDS = 0
    simulator.configure(webhooks=True, webhook_url=live_server.url + "/webhooks/whatsapp/")
    yield simulator
    # The statuses of the last reply are still on their way: a webhook the live server takes
    # while the test database is being emptied breaks the teardown (and the next test).
    simulator.wait_webhooks(timeout=15)
    simulator.configure(webhooks=False)


def customer_writes(simulator, text: str) -> str:
    response = requests.post(
        f"{simulator.url}/_sim/inbound",
        json={"from": WA_ID, "profile_name": "Asha Rao", "text": text},
        timeout=5,
    )
    response.raise_for_status()
    return response.json()["wamid"]


def wait_for(query, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with live_server_idle():  # not in the middle of a request's transaction
            found = query()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("timed out")


def overflow(page) -> int:
    """How many pixels the page is wider than the window (0: no sideways scroll)."""
    return page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def test_a_rule_set_up_on_the_staff_page_answers_a_real_inbound_message(
    make_user, page, login, live_server, whatsapp, screenshot
):
    manager = make_user("Campaign manager")
    login(manager.username)
    page.get_by_test_id("staff-nav").get_by_role("link", name="Auto-replies").click()
    page.wait_for_url("**/staff/auto-replies/")
    page.get_by_role("link", name="New rule").click()

    form = page.get_by_test_id("rule-form")
    form.get_by_label("Name").fill("Refunds")
    form.get_by_label("When a message").select_option("keyword")
    form.get_by_label("Matching").fill("refund, money back")
    form.get_by_label("Action").select_option("send_text")
    # Only the inputs the chosen action needs are shown.
    assert form.get_by_label("Reply text").is_visible()
    assert not form.get_by_label("Tag to add").is_visible()
    form.get_by_label("Reply text").fill("Refunds reach your account in 5 to 7 days.")
    screenshot("autoreply-rule-form")
    form.get_by_role("button", name="Save rule").click()
    page.wait_for_url("**/staff/auto-replies/")
    assert page.get_by_test_id("rule").filter(has_text="Refunds").is_visible()

    try_form = page.get_by_test_id("try-form")
    try_form.get_by_label("Message").fill("Hi, I want my money back")
    try_form.get_by_role("button", name="Try it").click()
    result = page.get_by_test_id("try-result")
    assert result.get_by_test_id("try-rule").inner_text() == "Refunds"
    assert result.get_by_test_id("try-why").inner_text() == (
        "Because the keyword MONEY BACK is in the text."
    )
    assert "5 to 7 days" in result.get_by_test_id("try-reply").inner_text()
    screenshot("autoreply-try")

    try_form = page.get_by_test_id("try-form")
    try_form.get_by_label("Message").fill("What are your opening hours?")
    try_form.get_by_role("button", name="Try it").click()
    assert page.get_by_test_id("try-none").is_visible()

    wamid = customer_writes(whatsapp, "Can I get a refund for order 40321?")
    question = wait_for(lambda: Message.objects.filter(wamid=wamid).first())
    reply = wait_for(
        lambda: Message.objects.filter(
            contact=question.contact, direction=Direction.OUTBOUND, is_automated=True
        ).first()
    )
    assert reply.content["body"] == "Refunds reach your account in 5 to 7 days."
    assert question.autoreply_runs.get(reply=reply).rule.name == "Refunds"
    # It went out through the provider: the simulator accepted it.
    wait_for(lambda: Message.objects.filter(pk=reply.pk, status__gte=Status.ACCEPTED).exists())


def test_template_values_follow_the_chosen_template(make_user, page, login, channel, screenshot):
    login(make_user("Campaign manager").username)
    page.goto(page.url + "auto-replies/new/")
    form = page.get_by_test_id("rule-form")
    form.get_by_label("Name").fill("Order status")
    form.get_by_label("When a message").select_option("payload")
    form.get_by_label("Matching").fill("ORDER_STATUS")
    form.get_by_label("Action").select_option("send_template")
    assert not form.get_by_label("Reply text").is_visible()
    template = channel.templates.get(name="delivery_delayed", language="en")
    form.get_by_label("Template").select_option(str(template.pk))
    fields = page.get_by_test_id("template-fields")
    fields.get_by_label("Body {{3}}").wait_for()
    assert "Example from the template: Monday 17 March" in fields.inner_text()
    fields.get_by_label("Body {{1}}").fill("there")
    fields.get_by_label("Body {{2}}").fill("#40321")
    screenshot("autoreply-template-values")
    form.get_by_role("button", name="Save rule").click()
    # One value missing: the form says so at the input and keeps what was typed.
    assert page.get_by_text("Give a value: the template needs it.").is_visible()
    assert page.get_by_label("Body {{1}}").input_value() == "there"
    page.get_by_label("Body {{3}}").fill("Monday")
    page.get_by_role("button", name="Save rule").click()
    page.wait_for_url("**/staff/auto-replies/")
    rule = AutoReplyRule.objects.get(name="Order status")
    assert rule.template_parameters == {"body": ["there", "#40321", "Monday"]}


def test_an_agent_meets_the_friendly_403_and_whom_to_ask(make_user, page, login, screenshot):
    make_user("Admin", username="ada", first_name="Ada", last_name="Admin")
    AutoReplyRuleFactory(name="Refunds")
    login(make_user("Agent").username)
    page.get_by_test_id("staff-nav").get_by_role("link", name="Auto-replies").click()
    assert page.get_by_test_id("rule").filter(has_text="Refunds").is_visible()
    assert page.get_by_role("link", name="New rule").count() == 0
    response = page.goto(page.url + "new/")
    assert response.status == 403
    denied = page.get_by_test_id("permission-denied")
    assert "Can add auto-reply rule" in denied.get_by_test_id("missing-permissions").inner_text()
    assert "Ada Admin" in denied.inner_text()
    assert page.get_by_test_id("staff-nav").is_visible() or page.viewport_size["width"] < 760
    for name, size in SIZES.items():
        page.set_viewport_size(size)
        assert overflow(page) <= 0, name
        screenshot(f"403-agent-{name}")
    page.get_by_role("link", name="Back to your home page").click()
    page.wait_for_url("**/staff/")


@pytest.mark.parametrize("size", list(SIZES))
def test_the_setup_pages_fit_phones_and_laptops(size, make_user, page, login, channel, screenshot):
    AutoReplyRuleFactory(name="A rule with a rather long name to wrap", trigger_value="refund")
    FaqEntryFactory(question="How long does a refund take to reach my account?")
    login(make_user("Admin").username)
    page.set_viewport_size(SIZES[size])
    base = page.url
    for path in ("auto-replies/", "auto-replies/new/", "faq/", "channels/", "templates/"):
        response = page.goto(base + path)
        assert response.status == 200, path
        assert overflow(page) <= 0, f"{path} is {overflow(page)} px too wide at {size}"
        screenshot(f"setup-{path.strip('/').replace('/', '-')}-{size}")
