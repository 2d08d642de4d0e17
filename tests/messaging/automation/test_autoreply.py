"""Auto-reply rules: matching, order, actions, at most one reply, idempotency, the task and
its enqueueing, office hours, the admin's ordered list and its test view, Click-to-Unlock."""

import datetime as dt
from unittest import mock

import pytest
from django.db import IntegrityError
from django.utils import timezone

from crm.models import ConsentEvent, Contact, Tag
from messaging.automation.office_hours import (
    OfficeHoursInvalid,
    office_hours_parse,
    within_office_hours,
)
from messaging.automation.rules import rule_problems
from messaging.automation.services import (
    Inbound,
    autoreply_plan,
    autoreply_preview,
    autoreply_process,
    rule_matches,
)
from messaging.automation.tasks import autoreply_run
from messaging.models import (
    AutomatedAnswer,
    AutoReplyRule,
    AutoReplyRun,
    Conversation,
    ConversationEvent,
    Direction,
    Message,
    MessageTemplate,
)
from tests.factories import AutoReplyRuleFactory, ChannelFactory, FaqEntryFactory, UserFactory
from tests.messaging.inbox.support import button_tap, inbound

pytestmark = pytest.mark.django_db


@pytest.fixture
def wa_channel(db):
    return ChannelFactory()


@pytest.fixture
def autoreply_queue():
    """The message ids handed to `messaging.autoreply_run` (nothing runs them)."""
    with mock.patch.object(autoreply_run, "delay") as delay:
        yield delay


@pytest.fixture(autouse=True)
def office_always_open(settings):
    # Office hours would make "outside office hours" depend on when the suite runs.
    settings.OFFICE_HOURS = "Daily 00:00-24:00"


def replies_to(message):
    return list(
        Message.objects.filter(contact=message.contact, direction=Direction.OUTBOUND).order_by("pk")
    )


def rule(**kwargs) -> AutoReplyRule:
    return AutoReplyRuleFactory(**kwargs)


# --- Matching ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trigger", "value", "inbound", "matches"),
    [
        ("payload", "ORDER_STATUS", Inbound(type="button", payload="ORDER_STATUS"), True),
        ("payload", "ORDER_STATUS", Inbound(type="button", payload="ORDER_STATUS_42"), False),
        ("payload_prefix", "ORDER_", Inbound(type="button", payload="ORDER_STATUS_42"), True),
        ("payload_prefix", "ORDER_", Inbound(type="button", payload="REORDER_1"), False),
        ("payload", "ORDER_STATUS", Inbound(type="text", text="ORDER_STATUS"), False),
        ("interactive_id", "slot-2", Inbound(type="interactive_reply", reply_id="slot-2"), True),
        ("interactive_id", "slot-2", Inbound(type="interactive_reply", reply_id="slot-20"), False),
        ("keyword", "HOURS", Inbound(type="text", text="What are your  hours?"), True),
        ("keyword", "hours", Inbound(type="text", text="HOURS"), True),
        ("keyword", "HOURS", Inbound(type="text", text="48hours delivery"), False),
        ("keyword", "OPENING TIME, HOURS", Inbound(type="text", text="opening   time?"), True),
        ("keyword", "PRICE", Inbound(type="button", text="Price list", payload="P"), True),
        ("regex", r"^order\s*#?\d+$", Inbound(type="text", text="Order #4521"), True),
        ("regex", r"^order\s*#?\d+$", Inbound(type="text", text="my order 4521"), False),
        ("regex", r"(", Inbound(type="text", text="anything"), False),
    ],
)
def test_triggers(trigger, value, inbound, matches):
    assert rule_matches(AutoReplyRule(trigger=trigger, trigger_value=value), inbound) is matches


def test_office_hours_parse_and_check():
    spans = office_hours_parse("Mon-Fri 09:00-18:00; Sat 10:00-14:00")
    assert len(spans) == 2 and spans[0].days == frozenset(range(5))
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    monday_10 = dt.datetime(2026, 1, 5, 10, 0, tzinfo=ist)
    spec = "Mon-Fri 09:00-18:00; Sat 10:00-14:00"
    assert within_office_hours(monday_10, spec=spec, tz="Asia/Kolkata")
    assert not within_office_hours(monday_10.replace(hour=18), spec=spec, tz="Asia/Kolkata")
    assert not within_office_hours(monday_10.replace(day=11), spec=spec, tz="Asia/Kolkata")  # Sun
    assert within_office_hours(monday_10.replace(day=10, hour=13), spec=spec, tz="Asia/Kolkata")
    # A night shift belongs to the day it starts.
    night = "Fri 22:00-06:00"
    assert within_office_hours(
        dt.datetime(2026, 1, 10, 5, 0, tzinfo=ist), spec=night, tz="Asia/Kolkata"
    )
    assert not within_office_hours(
        dt.datetime(2026, 1, 9, 5, 0, tzinfo=ist), spec=night, tz="Asia/Kolkata"
    )
    assert within_office_hours(monday_10, spec="", tz="UTC")  # no hours: always open
    with pytest.raises(OfficeHoursInvalid):
        office_hours_parse("weekdays nine to five")


def test_outside_office_hours_trigger_uses_the_message_time(settings):
    settings.OFFICE_HOURS = "Mon-Fri 09:00-18:00"
    settings.OFFICE_TIME_ZONE = "Asia/Kolkata"
    ooo = AutoReplyRule(trigger="outside_hours")
    sunday = dt.datetime(2026, 1, 11, 6, 0, tzinfo=dt.UTC)
    monday_noon_ist = dt.datetime(2026, 1, 12, 6, 30, tzinfo=dt.UTC)
    assert rule_matches(ooo, Inbound(type="text", text="hi", received_at=sunday))
    assert not rule_matches(ooo, Inbound(type="text", text="hi", received_at=monday_noon_ist))


def test_rule_problems_name_what_is_missing(wa_channel):
    assert rule_problems(
        AutoReplyRule(trigger="keyword", trigger_value=" , ", action="send_text")
    ).keys() == {"trigger_value", "text"}
    assert "trigger_value" in rule_problems(
        AutoReplyRule(trigger="regex", trigger_value="(", action="opt_out")
    )
    template = MessageTemplate.objects.create(
        channel=wa_channel,
        name="t",
        language="en",
        category="UTILITY",
        status="APPROVED",
        components=[{"type": "BODY", "text": "Hi {{1}} {{2}}"}],
        parameters={"body": ["1", "2"]},
    )
    bad = AutoReplyRule(
        trigger="keyword",
        trigger_value="X",
        action="send_template",
        template=template,
        template_parameters={"body": ["only one"]},
    )
    assert "template_parameters" in rule_problems(bad)
    bad.template_parameters = {"body": ["a", "b"]}
    assert rule_problems(bad) == {}
    assert "assign_to" in rule_problems(
        AutoReplyRule(trigger="keyword", trigger_value="X", action="assign")
    )


def test_plan_orders_unlock_then_rules_by_order_until_stop(wa_channel):
    late = rule(name="late", order=50, trigger="payload_prefix", trigger_value="UNLOCK")
    early = rule(
        name="early",
        order=10,
        trigger="payload_prefix",
        trigger_value="UNLOCK",
        action="add_tag",
        tag=Tag.objects.create(name="x"),
        stop_processing=False,
    )
    stopper = rule(
        name="stopper",
        order=20,
        trigger="payload_prefix",
        trigger_value="UNLOCK",
        stop_processing=True,
    )
    rule(name="disabled", order=1, enabled=False, trigger="payload_prefix", trigger_value="UNLOCK")
    steps = autoreply_plan(inbound=Inbound(type="button", payload="UNLOCK_CONTENT:7"))
    assert [s.label for s in steps] == ["Click-to-Unlock (built-in)", "early", "stopper"]
    assert late.pk not in [s.rule.pk for s in steps if s.rule]
    assert stopper.stop_processing and early.order < stopper.order


def test_plan_asks_responders_only_for_unanswered_text(wa_channel):
    steps = autoreply_plan(inbound=Inbound(type="text", text="where is my parcel"))
    assert [s.key for s in steps] == ["responder:faq"]
    assert autoreply_plan(inbound=Inbound(type="text", text="STOP")) == []  # consent keyword
    assert autoreply_plan(inbound=Inbound(type="reaction")) == []
    rule(trigger="keyword", trigger_value="PARCEL")
    steps = autoreply_plan(inbound=Inbound(type="text", text="where is my parcel"))
    assert [s.key.split(":")[0] for s in steps] == ["rule"]


# --- Running -----------------------------------------------------------------------------------


def test_a_keyword_rule_replies_once_inside_the_window(
    wa_channel, django_capture_on_commit_callbacks
):
    rule(trigger="keyword", trigger_value="HOURS", text="We open at 10.")
    message = inbound(body="What are your hours?")
    runs = autoreply_process(message_id=message.pk)
    assert [(r.outcome, r.rule_key) for r in runs] == [("sent", f"rule:{runs[0].rule_id}")]
    (reply,) = replies_to(message)
    assert reply.is_automated and reply.content["body"] == "We open at 10."
    assert reply.context_wamid == message.wamid and reply.lane == 0
    answer = AutomatedAnswer.objects.get(message=reply)
    assert (answer.responder, answer.question_id) == ("rule", message.pk)
    conversation = Conversation.objects.get(pk=message.conversation_id)
    assert conversation.first_response_automated and conversation.first_response_at
    # Running again (a redelivered task) sends nothing more.
    assert autoreply_process(message_id=message.pk) == []
    assert len(replies_to(message)) == 1


def test_at_most_one_reply_per_message_while_other_actions_still_run(wa_channel):
    vip = Tag.objects.create(name="vip")
    rule(
        name="a",
        order=1,
        trigger="keyword",
        trigger_value="PRICE",
        text="First",
        stop_processing=False,
    )
    rule(
        name="b",
        order=2,
        trigger="keyword",
        trigger_value="PRICE",
        text="Second",
        stop_processing=False,
    )
    rule(name="c", order=3, trigger="keyword", trigger_value="PRICE", action="add_tag", tag=vip)
    message = inbound(body="price?")
    runs = autoreply_process(message_id=message.pk)
    assert [r.outcome for r in runs] == ["sent", "skipped", "acted"]
    assert [m.content["body"] for m in replies_to(message)] == ["First"]
    assert vip in message.contact.tags.all()


def test_stop_processing_ends_evaluation(wa_channel):
    rule(
        name="a", order=1, trigger="keyword", trigger_value="HI", text="First", stop_processing=True
    )
    rule(name="b", order=2, trigger="keyword", trigger_value="HI", action="opt_out")
    message = inbound(body="hi")
    assert [r.rule.name for r in autoreply_process(message_id=message.pk)] == ["a"]
    assert Contact.objects.get(pk=message.contact_id).consent != "opted_out"


def test_the_database_allows_one_reply_per_message(wa_channel):
    message = inbound(body="x")
    other = Message.objects.create(
        channel=wa_channel,
        contact=message.contact,
        direction="out",
        type="text",
        content={"body": "a"},
    )
    AutoReplyRun.objects.create(message=message, rule_key="rule:1", outcome="sent", reply=other)
    with pytest.raises(IntegrityError):
        AutoReplyRun.objects.create(message=message, rule_key="rule:2", outcome="sent", reply=other)


def test_refused_sends_are_recorded_not_raised(wa_channel):
    rule(trigger="keyword", trigger_value="HI")
    message = inbound(body="hi")
    Contact.objects.filter(pk=message.contact_id).update(undeliverable=True)
    (run,) = autoreply_process(message_id=message.pk)
    assert run.outcome == "refused" and run.detail.startswith("contact_undeliverable")
    assert replies_to(message) == []


def test_blocked_contacts_get_no_automation(wa_channel):
    rule(trigger="keyword", trigger_value="HI")
    message = inbound(body="hi")
    Contact.objects.filter(pk=message.contact_id).update(blocked=True)
    assert autoreply_process(message_id=message.pk) == []


def test_a_template_rule_sends_constant_parameters(wa_channel):
    template = MessageTemplate.objects.create(
        channel=wa_channel,
        name="delivery_delayed",
        language="en",
        category="UTILITY",
        status="APPROVED",
        components=[{"type": "BODY", "text": "Sorry {{1}}, {{2}} late."}],
        parameters={"body": ["1", "2"]},
    )
    rule(
        trigger="keyword",
        trigger_value="LATE",
        action="send_template",
        template=template,
        template_parameters={"body": ["friend", "your order"]},
    )
    message = inbound(body="late?")
    autoreply_process(message_id=message.pk)
    (reply,) = replies_to(message)
    assert reply.type == "template" and reply.template == template
    assert reply.content["components"][0]["parameters"][1]["text"] == "your order"


def test_opt_out_opt_in_assign_and_tag_actions(wa_channel):
    agent = UserFactory(username="agent-x", roles=["Agent"])
    rule(
        name="out",
        order=1,
        trigger="keyword",
        trigger_value="NO MORE",
        action="opt_out",
        stop_processing=False,
    )
    rule(
        name="assign",
        order=2,
        trigger="keyword",
        trigger_value="NO MORE",
        action="assign",
        assign_to=agent,
        stop_processing=False,
    )
    message = inbound(body="no more messages please")
    autoreply_process(message_id=message.pk)
    contact = Contact.objects.get(pk=message.contact_id)
    assert contact.consent == "opted_out"
    event = ConsentEvent.objects.get(contact=contact)
    assert event.source == "keyword" and "out" in event.note
    assert Conversation.objects.get(pk=message.conversation_id).assignee == agent
    assert ConversationEvent.objects.filter(kind="assigned", assignee=agent).exists()
    rule(name="in", order=3, trigger="keyword", trigger_value="RESUME", action="opt_in")
    again = inbound(body="resume", wamid="wamid.resume")
    autoreply_process(message_id=again.pk)
    assert Contact.objects.get(pk=message.contact_id).consent == "opted_in"


def test_cooldown_stops_a_rule_repeating_for_the_same_contact(wa_channel, settings):
    settings.OFFICE_HOURS = "Mon 00:00-00:01"  # practically always outside office hours
    rule(trigger="outside_hours", text="We are closed.", cooldown_minutes=60)
    first = inbound(body="hello", wamid="wamid.1")
    second = inbound(body="anyone?", wamid="wamid.2")
    assert [r.outcome for r in autoreply_process(message_id=first.pk)] == ["sent"]
    assert [r.outcome for r in autoreply_process(message_id=second.pk)] == ["skipped"]


def test_faq_answers_when_no_rule_replied(wa_channel):
    FaqEntryFactory(
        question="How long does delivery take?",
        keywords="delivery, arrive",
        answer="2-3 days.",
        topic="delivery",
    )
    message = inbound(body="When will my order arrive?")
    (run,) = autoreply_process(message_id=message.pk)
    assert (run.rule_key, run.outcome) == ("responder:faq", "sent")
    answer = AutomatedAnswer.objects.get(message=run.reply)
    assert (answer.responder, answer.topic) == ("faq", "delivery") and answer.confidence >= 0.5
    # No match: left for an agent, recorded as such.
    other = inbound(body="Do you sell gift cards?", wamid="wamid.gift")
    (run,) = autoreply_process(message_id=other.pk)
    assert (run.outcome, run.reply) == ("no_answer", None)


def test_responders_stay_quiet_while_an_agent_is_on_it(wa_channel):
    FaqEntryFactory(keywords="delivery", answer="2-3 days.", topic="delivery")
    message = inbound(body="delivery?")
    Message.objects.create(
        channel=wa_channel,
        contact=message.contact,
        direction="out",
        type="text",
        content={"body": "I'm here"},
        sent_by=UserFactory(username="human"),
    )
    (run,) = autoreply_process(message_id=message.pk)
    assert (run.outcome, run.detail) == ("skipped", "an agent is on it")


# --- Typing indicator ---------------------------------------------------------------------------


@pytest.fixture
def read_marks():
    """The (args, kwargs) handed to `messaging.inbox_mark_read` (nothing runs them)."""
    from messaging.inbox.tasks import inbox_mark_read

    with mock.patch.object(inbox_mark_read, "delay") as delay:
        yield delay


def test_a_responder_shows_the_typing_indicator_before_it_answers(
    wa_channel, read_marks, django_capture_on_commit_callbacks
):
    FaqEntryFactory(keywords="delivery", answer="2-3 days.", topic="delivery")
    message = inbound(body="When is delivery?")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        (run,) = autoreply_process(message_id=message.pk)
    assert run.outcome == "sent"
    read_marks.assert_called_once_with(wa_channel.pk, message.wamid, typing=True)
    # Queued first: the dots are on their way before the answer is.
    read_marks.reset_mock()
    callbacks[0]()
    read_marks.assert_called_once_with(wa_channel.pk, message.wamid, typing=True)


@pytest.mark.parametrize("agent_on_it", [False, True])
def test_no_typing_indicator_without_a_responder_at_work(
    wa_channel, read_marks, django_capture_on_commit_callbacks, agent_on_it
):
    """A rule's reply is instant (nothing to announce); while an agent is on it the
    responders stay quiet, and so do the dots."""
    FaqEntryFactory(keywords="delivery", answer="2-3 days.", topic="delivery")
    rule(trigger="keyword", trigger_value="HELLO", text="Hi there.")
    greeting = inbound(body="hello", wamid="wamid.hello")
    question = inbound(body="delivery?", wamid="wamid.question")
    if agent_on_it:
        Message.objects.create(
            channel=wa_channel, contact=question.contact, direction="out", type="text",
            content={"body": "I'm here"}, sent_by=UserFactory(username="human"),
        )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        autoreply_process(message_id=greeting.pk)
        if agent_on_it:
            autoreply_process(message_id=question.pk)
    read_marks.assert_not_called()


def test_the_typing_indicator_reaches_whatsapp_through_a_worker(
    channel, simulator, django_capture_on_commit_callbacks, settings
):
    """End to end, with tasks run as a worker would: the question is marked read with one
    typing indicator, then answered."""
    from config.celery import app
    from messaging.sending.dispatch import send_batch_run

    settings.SEND_RECIPIENT_MIN_GAP_SECONDS = 0
    FaqEntryFactory(keywords="delivery", answer="2-3 days.", topic="delivery")
    message = inbound(body="When is delivery?")
    previous, app.conf.task_always_eager = app.conf.task_always_eager, True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            autoreply_run.apply(args=[message.pk]).get()
    finally:
        app.conf.task_always_eager = previous
    assert simulator.typing_indicators() == [message.wamid]
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    assert [m["body"]["body"] for m in simulator.messages()] == ["2-3 days."]
    assert simulator.typing_indicators() == [message.wamid]  # one, however the run went


# --- Receiver and task -------------------------------------------------------------------------


def test_an_inbound_message_enqueues_the_task_after_commit(
    wa_channel, autoreply_queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = inbound(body="hi")
    autoreply_queue.assert_called_once_with(message.pk)
    assert (
        ConversationEvent.objects.filter(conversation=message.conversation, kind="opened").count()
        == 1
    )


def test_the_task_runs_the_service_and_is_named_for_the_default_queue(wa_channel):
    from config.celery import app

    rule(trigger="keyword", trigger_value="HI")
    message = inbound(body="hi")
    assert autoreply_run.name == "messaging.autoreply_run"
    assert app.amqp.router.route({}, autoreply_run.name)["queue"].name == "default"
    autoreply_run.apply(args=[message.pk]).get()
    autoreply_run.apply(args=[message.pk]).get()
    assert len(replies_to(message)) == 1


def test_the_webhook_request_itself_never_runs_rules(client, settings, wa_channel, autoreply_queue):
    from tests.messaging.webhooks.support import (
        APP_SECRET,
        messages_payload,
        post_signed,
        text_message,
    )

    settings.WHATSAPP_APP_SECRET = APP_SECRET
    rule(trigger="keyword", trigger_value="HI")
    with mock.patch("messaging.automation.services.autoreply_process") as process:
        response = post_signed(client, messages_payload(text_message("wamid.w", "hi", 1767225600)))
    assert response.status_code == 200
    process.assert_not_called()
    assert not Message.objects.filter(direction="out").exists()


# --- Click-to-Unlock ---------------------------------------------------------------------------


def test_unlock_payloads_call_content_unlock_inside_the_window(wa_channel, monkeypatch):
    calls = []

    def fake_unlock(*, payload, contact, context_wamid):
        from messaging.sending.send import message_send

        calls.append((payload, contact.pk, context_wamid))
        return message_send(
            channel=wa_channel,
            contact=contact,
            type="text",
            content={"body": "Unlocked!"},
            is_automated=True,
        )

    monkeypatch.setattr("messaging.automation.services.content_unlock", fake_unlock)
    rule(trigger="payload_prefix", trigger_value="UNLOCK", text="should be skipped")
    message = button_tap(payload="UNLOCK_IMAGES:12", context="wamid.OUT.announce")
    runs = autoreply_process(message_id=message.pk)
    assert (runs[0].rule_key, runs[0].outcome) == ("builtin:unlock", "sent")
    assert runs[1].outcome == "skipped"  # one reply per tap
    assert calls == [("UNLOCK_IMAGES:12", message.contact_id, "wamid.OUT.announce")]
    assert [m.content["body"] for m in replies_to(message)] == ["Unlocked!"]


def test_unlock_without_content_records_nothing_to_send(wa_channel, monkeypatch):
    monkeypatch.setattr("messaging.automation.services.content_unlock", lambda **kw: None)
    message = button_tap(payload="RETRIEVE_CONTENT:99")
    (run,) = autoreply_process(message_id=message.pk)
    assert (run.rule_key, run.outcome) == ("builtin:unlock", "no_answer")


# --- Admin -------------------------------------------------------------------------------------


def test_admin_list_orders_rules_and_toggles_them(client, admin_user):
    b = rule(name="second", order=20)
    a = rule(name="first", order=10)
    client.force_login(admin_user)
    page = client.get("/admin/messaging/autoreplyrule/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.index("first") < html.index("second") and "Test rules" in html
    response = client.post(
        "/admin/messaging/autoreplyrule/",
        {"action": "disable_rules", "_selected_action": [a.pk, b.pk]},
    )
    assert response.status_code == 302
    assert not AutoReplyRule.objects.filter(enabled=True).exists()


def test_admin_enables_only_the_rules_that_can_run(client, admin_user, wa_channel):
    paused = MessageTemplate.objects.create(
        channel=wa_channel, name="paused", language="en", category="UTILITY", status="PAUSED",
        components=[{"type": "BODY", "text": "Hi"}],
    )  # fmt: skip
    ready = rule(name="ready", enabled=False)
    stale = rule(name="stale", enabled=False, action="send_template", template=paused)
    client.force_login(admin_user)
    response = client.post(
        "/admin/messaging/autoreplyrule/",
        {"action": "enable_rules", "_selected_action": [ready.pk, stale.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert list(AutoReplyRule.objects.filter(enabled=True)) == [ready]
    notes = [str(m) for m in response.context["messages"]]
    assert notes == [
        "1 rule(s) enabled.",
        "stale left as it was: Template 'paused' [en] is PAUSED, not APPROVED.",
    ]


def test_admin_test_view_previews_without_sending(client, admin_user, wa_channel):
    rule(name="Hours", trigger="keyword", trigger_value="HOURS", text="10 to 9.")
    FaqEntryFactory(keywords="refund", answer="Within 7 days.", topic="returns")
    client.force_login(admin_user)
    url = "/admin/messaging/autoreplyrule/test/"
    assert client.get(url).status_code == 200
    page = client.post(url, {"kind": "text", "text": "your hours?"})
    assert page.status_code == 200
    preview = page.context["preview"]
    assert [(s.label, s.would_send) for s in preview] == [("Hours", "10 to 9.")]
    page = client.post(url, {"kind": "text", "text": "refund please"})
    assert page.context["preview"][0].would_send == "Within 7 days."
    page = client.post(url, {"kind": "button", "payload": "UNLOCK_CONTENT:3"})
    assert page.context["preview"][0].action == "Click-to-Unlock"
    assert not Message.objects.exists() and not AutoReplyRun.objects.exists()


def test_admin_test_view_needs_the_view_permission(client, make_user):
    client.force_login(make_user("Content reviewer"))
    assert client.get("/admin/messaging/autoreplyrule/test/").status_code in (302, 403)
    client.logout()
    assert client.get("/admin/messaging/autoreplyrule/test/").status_code == 302


def test_preview_marks_later_replies_as_skipped(wa_channel):
    rule(name="a", order=1, trigger="keyword", trigger_value="X", text="one", stop_processing=False)
    rule(name="b", order=2, trigger="keyword", trigger_value="X", text="two")
    steps = autoreply_preview(text="x")
    assert [(s.would_send, bool(s.note)) for s in steps] == [("one", False), ("", True)]


def test_messages_older_than_the_window_get_refused_replies(wa_channel):
    rule(trigger="keyword", trigger_value="HI")
    old = int((timezone.now() - dt.timedelta(days=2)).timestamp())
    message = inbound(body="hi", at=old)
    (run,) = autoreply_process(message_id=message.pk)
    assert run.outcome == "refused" and "window_closed" in run.detail


def test_a_broken_rule_is_recorded_and_the_others_still_run(wa_channel):
    rule(name="broken", order=1, trigger="keyword", trigger_value="HI", action="assign",
         assign_to=UserFactory(username="not-an-agent"), stop_processing=False)  # fmt: skip
    rule(name="reply", order=2, trigger="keyword", trigger_value="HI", text="Hello!")
    message = inbound(body="hi")
    runs = autoreply_process(message_id=message.pk)
    assert [(r.rule.name, r.outcome) for r in runs] == [("broken", "error"), ("reply", "sent")]
    assert "cannot use the inbox" in runs[0].detail


def test_templates_and_campaigns_do_not_count_as_an_agent_on_it(wa_channel):
    FaqEntryFactory(keywords="delivery", answer="2-3 days.", topic="delivery")
    message = inbound(body="delivery?")
    Message.objects.create(channel=wa_channel, contact=message.contact, direction="out",
                           type="template", content={"name": "x"},
                           sent_by=UserFactory(username="integration"))  # fmt: skip
    (run,) = autoreply_process(message_id=message.pk)
    assert run.outcome == "sent"


def test_fallback_rules_act_only_when_nothing_answered(wa_channel, settings):
    settings.OFFICE_HOURS = "Mon 00:00-00:01"  # practically always outside office hours
    FaqEntryFactory(keywords="refund", answer="Within 7 days.", topic="returns")
    rule(name="ooo", order=1, trigger="outside_hours", text="We are closed.", fallback=True,
         stop_processing=False)  # fmt: skip
    answered = inbound(body="refund?", wamid="wamid.r")
    runs = autoreply_process(message_id=answered.pk)
    assert [(r.rule_key.split(":")[0], r.outcome) for r in runs] == [
        ("responder", "sent"), ("rule", "skipped"),
    ]  # fmt: skip
    unanswered = inbound(body="anyone there?", wamid="wamid.u")
    runs = autoreply_process(message_id=unanswered.pk)
    assert [r.outcome for r in runs] == ["no_answer", "sent"]
    assert runs[1].reply.content["body"] == "We are closed."
    preview = autoreply_preview(text="refund please")
    assert [(s.label, bool(s.would_send)) for s in preview] == [
        ("FAQ responder", True), ("ooo", False),
    ]  # fmt: skip
