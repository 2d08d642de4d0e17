"""The inbox's depth in a real browser, through the simulator and real webhooks (see
test_inbox.py for how the live server, eager Celery and the simulator fit together):

an agent finds a contact who never wrote, starts the conversation with a template (the picker
fills in the name and previews as she types), the customer answers, she replies with a canned
reply through the `/` shortcut, adds an internal note, goes away so the next customer is
routed round robin to her colleague, closes the conversation, and the customer's rating from
the survey list is recorded without reopening it. Every page at phone and laptop widths
without sideways scrolling.
"""

import time

import pytest
import requests
from playwright.sync_api import expect

from messaging.inbox.canned import canned_reply_save
from messaging.inbox.routing import team_save
from messaging.models import (
    Channel,
    Conversation,
    ConversationEvent,
    Message,
    SatisfactionSurvey,
)
from tests.e2e.conftest import live_server_idle
from tests.e2e.test_inbox import eager_celery, whatsapp  # noqa: F401 (fixtures)
from tests.factories import ContactFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RAVI = "919800011122"
MEERA = "919800033344"
SIZES = [(390, 844), (1366, 768)]


def customer_sends(simulator, wa_id: str, name: str, **body) -> str:
    response = requests.post(
        f"{simulator.url}/_sim/inbound",
        json={"from": wa_id, "profile_name": name, **body},
        timeout=5,
    )
    response.raise_for_status()
    return response.json()["wamid"]


def wait_until(check, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with live_server_idle():  # not in the middle of a request's transaction
            value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def no_overflow(page) -> bool:
    return not page.evaluate("document.documentElement.scrollWidth > window.innerWidth")


@pytest.fixture
def support(whatsapp, make_user):  # noqa: F811 (the fixture imported above)
    channel = Channel.objects.get()
    channel.satisfaction_survey = True
    channel.save(update_fields=["satisfaction_survey"])
    asha = make_user("Agent", username="asha")
    bela = make_user("Agent", username="bela")
    team = team_save(
        name="Support", auto_assign=True, member_ids=[asha.pk, bela.pk], channel_ids=[channel.pk]
    )
    canned_reply_save(
        user=asha, team=team, shortcut="refund-policy", title="Refund policy",
        body="Hi {{name}}, refunds reach your account within 5 working days.",
    )  # fmt: skip
    canned_reply_save(
        user=asha, team=team, shortcut="thanks", title="Thanks", body="Thank you for waiting!"
    )
    ravi = ContactFactory(name="Ravi Kumar", phone=f"+{RAVI}", wa_id=RAVI, consent="unknown")
    return {"channel": channel, "asha": asha, "bela": bela, "team": team, "ravi": ravi}


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_start_reply_note_assign_close_and_survey(
    width,
    height,
    support,
    whatsapp,  # noqa: F811 (the fixture imported above)
    page,
    login,
    live_server,
    screenshot,
):
    page.set_viewport_size({"width": width, "height": height})
    tag = f"{width}"
    login("asha")

    # Ravi never wrote: the inbox search still finds him, as someone to start with.
    page.goto(f"{live_server.url}/staff/inbox/?q=Ravi")
    start = page.get_by_test_id("start-contact").filter(has_text="Ravi Kumar")
    expect(start).to_be_visible()
    assert no_overflow(page)
    start.get_by_role("link").click()
    expect(page.get_by_test_id("start-contact-name")).to_have_text("Ravi Kumar")
    expect(page.get_by_test_id("window-state")).to_contain_text("approved template")
    expect(page.get_by_test_id("start-text-form")).to_have_count(0)

    # The template picker: the greeting's {{1}} is his name already; the preview follows.
    picker = page.get_by_test_id("template-delivery_delayed-en")
    picker.locator("summary").click()
    inputs = picker.locator("input[type=text]")
    expect(inputs.nth(0)).to_have_value("Ravi")
    preview = picker.get_by_test_id("template-preview")
    expect(preview).to_contain_text("Sorry Ravi, your order {{2}} is running late.")
    inputs.nth(1).fill("#40321")
    inputs.nth(2).fill("Monday")
    expect(preview).to_contain_text("Sorry Ravi, your order #40321 is running late.")
    expect(preview).to_contain_text("The new delivery date is Monday.")
    assert no_overflow(page)
    screenshot(f"inbox-start-template-{tag}")
    picker.get_by_role("button", name="Send template and open the conversation").click()
    page.wait_for_url("**/staff/inbox/*/")
    conversation = Conversation.objects.get(contact=support["ravi"])
    thread = page.get_by_test_id("thread")
    expect(thread.get_by_test_id("template-message")).to_contain_text(
        "Sorry Ravi, your order #40321 is running late."
    )  # rendered with its parameters, not {{1}}
    expect(page.get_by_test_id("assignee")).to_have_text("Assigned to asha")
    wait_until(lambda: whatsapp.counts().get(RAVI) == 1, what="the template to reach WhatsApp")

    # Ravi answers; the window opens, and the reply box offers canned replies on "/".
    customer_sends(whatsapp, RAVI, "Ravi", text="Can I get a refund instead?")
    expect(thread.get_by_text("Can I get a refund instead?")).to_be_visible(timeout=15_000)
    with page.expect_response(lambda r: r.url.endswith(f"/staff/inbox/{conversation.pk}/read/")):
        page.reload()  # his message is unread: the thread marks itself read as it opens
    box = page.get_by_label("Message")
    box.click()
    box.press_sequentially("/ref")
    menu = page.get_by_test_id("canned-menu")
    expect(menu).to_be_visible()
    expect(menu.get_by_role("option")).to_have_count(1)
    expect(box).to_have_attribute("aria-expanded", "true")
    screenshot(f"inbox-canned-menu-{tag}")
    box.press("Enter")
    expect(menu).to_be_hidden()
    expect(box).to_have_value("Hi Ravi Kumar, refunds reach your account within 5 working days.")
    box.press("End")
    box.press_sequentially(" /tha")
    box.press("ArrowDown")  # one match: stays on it
    box.press("Tab")
    expect(box).to_have_value(
        "Hi Ravi Kumar, refunds reach your account within 5 working days. Thank you for waiting!"
    )
    with page.expect_response(lambda r: r.request.method == "POST" and "/reply/" in r.url):
        page.get_by_test_id("send").click()
    page.wait_for_url("**/#reply")
    expect(page.get_by_test_id("message").filter(has_text="Thank you for waiting!")).to_be_visible()
    wait_until(lambda: whatsapp.counts().get(RAVI) == 2, what="the reply to reach WhatsApp")

    # An internal note: in the timeline, marked as such, never sent.
    note_box = page.get_by_test_id("note-box")
    note_box.locator("summary").click()
    note_box.get_by_label("Internal note").fill("Refund approved by Meera; check on Monday.")
    with page.expect_response(lambda r: r.request.method == "POST" and "/notes/" in r.url):
        note_box.get_by_test_id("add-note").click()
    page.wait_for_url("**/#reply")
    note = page.get_by_test_id("internal-note")
    expect(note).to_contain_text("Refund approved by Meera")
    expect(note).to_contain_text("not sent to the contact")
    assert whatsapp.counts().get(RAVI) == 2
    assert no_overflow(page)
    screenshot(f"inbox-thread-note-{tag}")

    # Asha goes away: the next new customer is routed to Bela, the available member.
    with page.expect_response(lambda r: r.request.method == "POST" and "/availability/" in r.url):
        page.get_by_test_id("toggle-availability").click()
    expect(page.get_by_test_id("availability")).to_have_text("Away")
    wamid = customer_sends(whatsapp, MEERA, "Meera", text="Hello, is anyone there?")
    meera = wait_until(
        lambda: Conversation.objects.filter(contact__wa_id=MEERA, assignee__isnull=False).first(),
        what="Meera's conversation to be routed",
    )
    assert meera.assignee == support["bela"] and meera.team == support["team"]
    assert Message.objects.filter(wamid=wamid).exists()
    # Her message is unread: the thread marks itself read as it opens (an htmx post, answered
    # before the next click).
    read_url = f"/staff/inbox/{meera.pk}/read/"
    with page.expect_response(lambda r: r.url.endswith(read_url)) as read_on_open:
        page.goto(f"{live_server.url}/staff/inbox/{meera.pk}/")
    assert read_on_open.value.status == 204
    expect(page.get_by_test_id("assignee")).to_have_text("Assigned to bela")
    expect(page.get_by_test_id("note").filter(has_text="automatically")).to_be_visible()
    # Manual assignment stays: Asha takes it over herself.
    assign_url = f"/staff/inbox/{meera.pk}/assign-me/"
    with page.expect_response(lambda r: r.url.endswith(assign_url)) as assigned:
        page.get_by_test_id("assign-me").click()
    assert assigned.value.status == 302
    page.wait_for_url(f"**/staff/inbox/{meera.pk}/")
    expect(page.get_by_test_id("assignee")).to_have_text("Assigned to asha")

    # Close Ravi's conversation: the survey list goes out; his rating is recorded.
    page.goto(f"{live_server.url}/staff/inbox/{conversation.pk}/")
    with page.expect_response(lambda r: r.request.method == "POST" and "/close/" in r.url):
        page.get_by_test_id("close").click()
    expect(page.get_by_test_id("conversation-state")).to_have_text("Closed")
    survey = wait_until(lambda: SatisfactionSurvey.objects.filter(conversation=conversation)
                        .exclude(message=None).first(), what="the survey")  # fmt: skip
    wait_until(lambda: whatsapp.counts().get(RAVI) == 3, what="the survey to reach WhatsApp")
    expect(page.get_by_test_id("survey-message")).to_be_visible()
    customer_sends(
        whatsapp, RAVI, "Ravi", context_wamid=survey.message.wamid,
        interactive={"type": "list_reply",
                     "list_reply": {"id": f"csat:{survey.pk}:5", "title": "5 - Excellent"}},
    )  # fmt: skip
    expect(page.get_by_test_id("survey-answer")).to_be_visible(timeout=15_000)
    survey.refresh_from_db()
    assert survey.rating == 5 and survey.agent == support["asha"]
    conversation.refresh_from_db()
    assert not conversation.is_open  # the rating did not reopen it
    page.reload()
    expect(page.get_by_test_id("survey-state")).to_have_text("Customer rating 5/5")
    expect(page.get_by_test_id("conversation-state")).to_have_text("Closed")
    assert no_overflow(page)
    screenshot(f"inbox-survey-answered-{tag}")
    assert ConversationEvent.objects.filter(kind="note").count() == 1


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_setup_pages_and_the_agent_report_fit_the_screen(
    width, height, support, page, login, live_server, make_user, screenshot
):
    page.set_viewport_size({"width": width, "height": height})
    make_user("Admin", username="boss")
    login("boss")
    for path, testid in [
        ("/staff/inbox/teams/", "teams"),
        ("/staff/inbox/teams/new/", "team-form"),
        ("/staff/inbox/canned-replies/", "canned-replies"),
        ("/staff/inbox/canned-replies/new/", "canned-form"),
        ("/staff/reports/agents/", "agent-rows"),
        ("/staff/inbox/start/?q=Ravi", "start-results"),
    ]:
        page.goto(f"{live_server.url}{path}")
        expect(page.get_by_test_id(testid)).to_be_visible()
        assert no_overflow(page), path
        name = path.strip("/").replace("/", "-").split("?")[0]
        screenshot(f"{name}-{width}")
    # The survey switch per number.
    page.goto(f"{live_server.url}/staff/inbox/teams/")
    expect(page.get_by_test_id("number")).to_contain_text("on")
    page.get_by_test_id("survey-toggle").click()
    expect(page.get_by_test_id("number")).to_contain_text("off")
