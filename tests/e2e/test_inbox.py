"""Browser tests of the inbox, through the real simulator and real webhooks.

The simulator posts signed webhooks (inbound messages, then sent/delivered/read statuses) to
the live server. pytest-django's live server shares the test's in-memory SQLite database with
this thread, so a separate worker process could not see the data; Celery runs eagerly instead.
Every task then runs where it is enqueued, after its transaction commits: the agent's reply is
sent to the simulator inside the reply request, each webhook is processed inside the request
that delivered it, and the auto-reply task runs right after its inbound webhook. The page
never reloads: htmx polls the thread and list partials every 3 s and the ticks move on.
"""

import pytest
import requests

from messaging.models import AutomatedAnswer, Conversation, Message, Status
from tests.e2e.conftest import live_server_idle
from tests.factories import FaqEntryFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WA_ID = "919812345678"


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
    """The simulator posting webhooks to the live server, statuses a few seconds apart so
    each tick is visible for at least one poll."""
    settings.OFFICE_HOURS = ""  # no out-of-office surprises whenever the suite runs
    settings.SEND_RECIPIENT_MIN_GAP_SECONDS = 0
    simulator.configure(
        webhooks=True,
        webhook_url=live_server.url + "/webhooks/whatsapp/",
        delays={"sent": 0.2, "delivered": 3.5, "read": 3.5},
    )
    yield simulator
    # Statuses still on their way must not reach the live server while the test database is
    # being emptied.
    simulator.wait_webhooks(timeout=15)
    simulator.configure(webhooks=False)


def user_writes(simulator, text: str, **extra) -> str:
    response = requests.post(
        f"{simulator.url}/_sim/inbound",
        json={"from": WA_ID, "profile_name": "Asha Rao", "text": text, **extra},
        timeout=5,
    )
    response.raise_for_status()
    return response.json()["wamid"]


def wait_for_message(wamid: str, timeout: float = 10.0) -> Message:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with live_server_idle():  # not in the middle of a request's transaction
            message = Message.objects.filter(wamid=wamid).first()
        if message is not None:
            return message
        time.sleep(0.1)
    raise AssertionError(f"the inbound webhook for {wamid} was not processed")


def test_agent_opens_a_conversation_replies_and_watches_the_ticks(
    make_user, page, login, live_server, whatsapp, screenshot
):
    agent = make_user("Agent")
    wait_for_message(user_writes(whatsapp, "Hi, where is my order #40321?"))
    login(agent.username)
    page.get_by_test_id("staff-nav").get_by_role("link", name="Inbox").click()
    conversation = page.get_by_test_id("conversation").filter(has_text="Asha Rao")
    assert conversation.get_by_test_id("unread").inner_text() == "1"
    conversation.get_by_role("link").click()
    page.wait_for_url("**/staff/inbox/*/")
    assert page.get_by_test_id("contact-name").inner_text() == "Asha Rao"
    assert "24-hour window open" in page.get_by_test_id("window-state").inner_text()

    page.get_by_label("Message").fill("It ships today and reaches you tomorrow.")
    page.get_by_test_id("send").click()
    page.wait_for_url("**/staff/inbox/*/#reply")
    reply = page.get_by_test_id("message").filter(has_text="It ships today")
    reply.wait_for()
    # Sent by the agent through the simulator; its statuses arrive by webhook and the
    # polled thread shows each one without a reload.
    ticks = reply.get_by_test_id("ticks")
    page.wait_for_function(
        "el => ['sent', 'accepted', 'delivered', 'read'].includes(el.dataset.status)",
        arg=ticks.element_handle(),
    )
    reply.locator('[data-status="delivered"]').wait_for(timeout=15_000)
    screenshot("inbox-reply-delivered")
    reply.locator('[data-status="read"]').wait_for(timeout=15_000)
    screenshot("inbox-reply-read")

    message = Message.objects.get(content__body="It ships today and reaches you tomorrow.")
    assert message.status == Status.READ and message.sent_by == agent
    assert whatsapp.counts() == {WA_ID: 1}  # sent exactly once
    conversation = Conversation.objects.get()
    assert conversation.first_response_at and not conversation.first_response_automated
    assert conversation.contact.unread_count == 0  # replying marked it read
    assert list(whatsapp.state.read_marks)  # and told WhatsApp, in a task


def test_new_messages_and_automated_answers_appear_without_a_reload(
    make_user, page, login, live_server, whatsapp, screenshot
):
    FaqEntryFactory(
        question="How long does delivery take?",
        keywords="delivery, arrive",
        answer="Orders arrive in 2-3 working days.",
        topic="delivery",
    )
    agent = make_user("Agent")
    wait_for_message(user_writes(whatsapp, "Hello"))
    login(agent.username)
    conversation = Conversation.objects.get()
    page.goto(f"{live_server.url}/staff/inbox/{conversation.pk}/")
    thread = page.get_by_test_id("thread")
    thread.get_by_text("Hello").wait_for()

    user_writes(whatsapp, "When will my parcel arrive?")
    # The inbound webhook is processed, the FAQ answers it, and the next poll shows both.
    thread.get_by_text("When will my parcel arrive?").wait_for(timeout=15_000)
    answer_row = page.get_by_test_id("message").filter(has_text="Orders arrive in 2-3")
    answer_row.get_by_test_id("automated-answer").wait_for(timeout=15_000)
    assert "FAQ · delivery" in answer_row.get_by_test_id("automated-answer").inner_text()
    answer_row.get_by_test_id("rate-4").click()
    answer_row.get_by_test_id("rating").filter(has_text="rated 4/5").wait_for()
    screenshot("inbox-automated-answer-rated")
    answer = AutomatedAnswer.objects.get()
    assert (answer.rating, answer.rated_by, answer.topic) == (4, agent, "delivery")
    assert page.url.endswith(f"/staff/inbox/{conversation.pk}/")  # never reloaded


def test_outside_the_window_the_reply_box_offers_templates(
    make_user, page, login, live_server, whatsapp, screenshot
):
    import datetime as dt

    from django.utils import timezone

    from tests.factories import ContactFactory, ConversationFactory

    contact = ContactFactory(name="Meera Iyer", phone="+919800000077", wa_id="919800000077",
                             last_inbound_at=timezone.now() - dt.timedelta(hours=30))  # fmt: skip
    conversation = ConversationFactory(
        contact=contact, channel=whatsapp_channel(), last_inbound_at=contact.last_inbound_at
    )
    login(make_user("Agent").username)
    page.goto(f"{live_server.url}/staff/inbox/{conversation.pk}/")
    assert "window closed" in page.get_by_test_id("window-state").inner_text()
    page.get_by_test_id("window-closed").wait_for()
    assert page.get_by_test_id("reply-form").count() == 0
    template = page.get_by_test_id("template-delivery_delayed-en")
    template.locator("summary").click()
    inputs = template.locator("input[type=text]")
    for value, box in zip(["Meera", "#40321", "Monday"], inputs.all(), strict=True):
        box.fill(value)
    template.get_by_role("button", name="Send template").click()
    page.wait_for_url("**/#reply")
    sent = page.get_by_test_id("template-message").filter(has_text="Sorry Meera, your order #40321")
    sent.wait_for()
    screenshot("inbox-template-outside-window")
    message = Message.objects.get(type="template")
    assert message.template.name == "delivery_delayed" and message.status >= Status.ACCEPTED


def whatsapp_channel():
    from messaging.models import Channel

    return Channel.objects.get()
