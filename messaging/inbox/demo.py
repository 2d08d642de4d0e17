"""Demo data for the inbox: FAQ entries, auto-reply rules, the Support team (the demo agent,
the demo number routed to it, the survey after closing on), canned replies, conversations with
automated answers (some rated), agent replies, assignments, closes with the customers'
ratings, pinned contacts.

Idempotent: entries and rules are matched by question and name; the conversation history is
written once (its messages carry `wamid.inboxdemo` ids).
"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from crm.models import Contact, Tag
from messaging.automation.models import (
    AutomatedAnswer,
    AutoReplyAction,
    AutoReplyRule,
    AutoReplyTrigger,
    FaqEntry,
)
from messaging.channels.models import Channel
from messaging.inbox.models import CannedReply, SatisfactionSurvey, Team, TeamChannel, TeamMember
from messaging.sending.models import (
    Conversation,
    ConversationEvent,
    ConversationEventKind,
    Direction,
    Message,
    MessageType,
    Status,
)

WAMID_PREFIX = "wamid.inboxdemo"
AGENT_USERNAME = "agent"

FAQ = [
    {
        "topic": "delivery",
        "question": "How long does delivery take?",
        "keywords": "delivery, deliver, shipping, ship, arrive, when will my order, dispatch",
        "answer": "Orders reach metro cities in 2-3 working days and other places in 4-6. "
        "You get a tracking link by WhatsApp as soon as your order ships.",
    },
    {
        "topic": "returns",
        "question": "How do I return or exchange an item?",
        "keywords": "return, refund, exchange, replace, damaged, wrong item",
        "answer": "You can return any unused item within 15 days. Reply RETURN with your order "
        "number and we will arrange a free pickup; refunds reach you 5-7 days after pickup.",
    },
    {
        "topic": "payment",
        "question": "Which payment methods do you accept?",
        "keywords": "payment, pay, upi, card, cash on delivery, cod, emi, payment failed",
        "answer": "We accept UPI, all major cards, net banking and cash on delivery up to "
        "₹10,000. If a payment failed, any amount taken is refunded automatically within 48 hours.",
    },
    {
        "topic": "store hours",
        "question": "What are your store hours?",
        "keywords": "store hours, opening hours, timings, open, close, closing time, sunday",
        "answer": "Our stores are open 10am to 9pm, Monday to Saturday, and 11am to 7pm on "
        "Sundays. Customer care on WhatsApp answers 9am to 6pm on weekdays.",
    },
    {
        "topic": "orders",
        "question": "How can I change or cancel my order?",
        "keywords": "cancel, change order, modify, address change, change address",
        "answer": "Until your order ships you can change the address or cancel it: reply with "
        "your order number and what to change, and an agent will confirm.",
    },
]

HOURS_TEXT = (
    "We are open 10am to 9pm, Monday to Saturday, and 11am to 7pm on Sundays. "
    "Customer care on WhatsApp answers 9am to 6pm on weekdays."
)
OOO_TEXT = (
    "Thanks for your message! Our team is offline right now (we answer 9am to 6pm, "
    "Monday to Friday) and will reply first thing. For order status, tap the link in your "
    "order confirmation."
)

QUESTIONS = [
    ("When will my order arrive?", "delivery"),
    ("I want to return a damaged item", "returns"),
    ("Can I pay with UPI?", "payment"),
    ("What are your store timings on sunday?", "store hours"),
    ("Is shipping free to Pune?", "delivery"),
    ("How do I get a refund?", "returns"),
    ("payment failed but money deducted", "payment"),
    ("Can I change the delivery address?", "orders"),
]
HUMAN_QUESTIONS = [
    ("Hi, I need help with a bulk order for my office", "Happy to help! How many pieces "
     "and by when do you need them?"),
    ("My parcel shows delivered but I didn't get it", "Sorry about that. I've raised it with "
     "the courier and will update you within 2 hours."),
    ("Do you have this shirt in XL?", "Yes, XL is in stock in blue and white."),
    ("Can someone call me?", "Sure, a colleague will call you within the hour."),
]  # fmt: skip


def _wamid() -> str:
    return f"{WAMID_PREFIX}.{uuid.uuid4().hex}"


def _faq() -> int:
    created = 0
    for item in FAQ:
        _, made = FaqEntry.objects.get_or_create(
            question=item["question"],
            defaults={k: v for k, v in item.items() if k != "question"},
        )
        created += made
    return created


def _rules(agent) -> int:
    callback, _ = Tag.objects.get_or_create(name="callback")
    rules = [
        {"name": "Unsubscribe phrases", "order": 5, "trigger": AutoReplyTrigger.KEYWORD,
         "trigger_value": "UNSUBSCRIBE ME, REMOVE ME, NO MORE MESSAGES",
         "action": AutoReplyAction.OPT_OUT, "stop_processing": False},
        {"name": "Store hours", "order": 10, "trigger": AutoReplyTrigger.KEYWORD,
         "trigger_value": "HOURS, TIMINGS", "action": AutoReplyAction.SEND_TEXT,
         "text": HOURS_TEXT},
        {"name": "Order status button", "order": 20, "trigger": AutoReplyTrigger.PAYLOAD_PREFIX,
         "trigger_value": "ORDER_STATUS", "action": AutoReplyAction.SEND_TEXT,
         "text": "Your order is on its way. Track it any time at https://shop.example.com/track"},
        {"name": "Call me: tag", "order": 30, "trigger": AutoReplyTrigger.PAYLOAD,
         "trigger_value": "Call me", "action": AutoReplyAction.ADD_TAG, "tag": callback,
         "stop_processing": False},
        {"name": "Call me: assign", "order": 31, "trigger": AutoReplyTrigger.PAYLOAD,
         "trigger_value": "Call me", "action": AutoReplyAction.ASSIGN, "assign_to": agent,
         "stop_processing": False},
        {"name": "Call me: confirm", "order": 32, "trigger": AutoReplyTrigger.PAYLOAD,
         "trigger_value": "Call me", "action": AutoReplyAction.SEND_TEXT,
         "text": "Sure! A colleague will call you within the hour."},
        {"name": "Talk to a person", "order": 40, "trigger": AutoReplyTrigger.REGEX,
         "trigger_value": r"\b(agent|human|person|representative)\b",
         "action": AutoReplyAction.SEND_TEXT,
         "text": "Connecting you to a colleague: they will reply here shortly."},
        {"name": "Out of office", "order": 900, "trigger": AutoReplyTrigger.OUTSIDE_OFFICE_HOURS,
         "action": AutoReplyAction.SEND_TEXT, "text": OOO_TEXT, "cooldown_minutes": 720,
         "stop_processing": False, "fallback": True},
    ]  # fmt: skip
    created = 0
    for spec in rules:
        if spec["action"] == AutoReplyAction.ASSIGN and agent is None:
            continue
        name = spec.pop("name")
        _, made = AutoReplyRule.objects.get_or_create(name=name, defaults=spec)
        created += made
    return created


def _contacts(rng: random.Random) -> list[Contact]:
    contacts = list(Contact.objects.exclude(phone=None).filter(blocked=False).order_by("pk")[:12])
    names = ["Asha Rao", "Vikram Shah", "Neha Gupta", "Rohan Mehta", "Sana Khan", "Dev Patel"]
    while len(contacts) < 6:
        name = names[len(contacts)]
        phone = f"+9199{rng.randint(10000000, 99999999)}"
        contact, _ = Contact.objects.get_or_create(
            phone=phone, defaults={"name": name, "wa_id": phone[1:], "consent": "opted_in"}
        )
        contacts.append(contact)
    return contacts


def _message(channel, contact, conversation, *, direction, at, body, **fields) -> Message:
    values = {
        "channel": channel, "contact": contact, "conversation": conversation,
        "direction": direction, "type": MessageType.TEXT, "content": {"body": body},
        "wamid": _wamid(), "created_at": at,
    }  # fmt: skip
    if direction == Direction.INBOUND:
        values.update(status=Status.RECEIVED, received_at=at, wa_id=contact.wa_id or "")
    else:
        values.update(
            status=fields.pop("status", Status.READ), accepted_at=at, sent_at=at,
            delivered_at=at + timedelta(seconds=4), read_at=at + timedelta(seconds=30), attempts=1,
        )  # fmt: skip
    values.update(fields)
    return Message.objects.create(**values)


def _history(
    channel: Channel, contacts: list[Contact], rng: random.Random, agent, team: Team | None
) -> dict:
    now = timezone.now()
    entries = {e.topic: e for e in FaqEntry.objects.all()}
    counts = {"conversations": 0, "automated_answers": 0, "rated": 0}
    for index, contact in enumerate(contacts):
        conversation, _ = Conversation.objects.get_or_create(contact=contact, channel=channel)
        # Most threads are recent (window open); a few are older than a day (templates only).
        asked_at = now - timedelta(hours=rng.uniform(1.5, 20) if index % 4 else rng.uniform(30, 70))
        opened = ConversationEvent(
            conversation=conversation, kind=ConversationEventKind.OPENED, at=asked_at
        )
        events = [opened]
        if index < len(QUESTIONS) and index % 3 != 2:
            text, topic = QUESTIONS[index]
            question = _message(channel, contact, conversation, direction=Direction.INBOUND,
                                at=asked_at, body=text)  # fmt: skip
            entry = entries.get(topic)
            reply_at = asked_at + timedelta(seconds=rng.randint(2, 9))
            reply = _message(channel, contact, conversation, direction=Direction.OUTBOUND,
                             at=reply_at, body=entry.answer if entry else "See our FAQ.",
                             is_automated=True, context_wamid=question.wamid)  # fmt: skip
            rating = rng.choice([None, None, 3, 4, 4, 5, 5, 2])
            AutomatedAnswer.objects.create(
                message=reply, question=question, responder="faq", topic=topic,
                confidence=round(rng.uniform(0.55, 0.98), 2), rating=rating,
                rated_by=agent if rating else None,
                rated_at=reply_at + timedelta(minutes=30) if rating else None, created_at=reply_at,
            )  # fmt: skip
            counts["automated_answers"] += 1
            counts["rated"] += bool(rating)
            automated, first_at = True, reply_at
        else:
            text, answer = HUMAN_QUESTIONS[index % len(HUMAN_QUESTIONS)]
            question = _message(channel, contact, conversation, direction=Direction.INBOUND,
                                at=asked_at, body=text)  # fmt: skip
            first_at = asked_at + timedelta(minutes=rng.randint(2, 45))
            _message(channel, contact, conversation, direction=Direction.OUTBOUND, at=first_at,
                     body=answer, sent_by=agent)  # fmt: skip
            automated = False
        events.append(
            ConversationEvent(
                conversation=conversation, kind=ConversationEventKind.FIRST_RESPONSE, at=first_at,
                automated=automated, seconds=(first_at - asked_at).total_seconds(),
                actor=None if automated else agent,
            )
        )  # fmt: skip
        follow_up_at = first_at + timedelta(minutes=rng.randint(1, 30))
        unread = 0
        if follow_up_at < now and rng.random() < 0.6:
            body = rng.choice(["Thanks!", "Ok, and what about today?", "Great 👍"])
            _message(channel, contact, conversation, direction=Direction.INBOUND, at=follow_up_at,
                     body=body)  # fmt: skip
            unread = rng.randint(1, 2)
        last_inbound = max(asked_at, follow_up_at if unread else asked_at)
        assignee = agent if agent is not None and index % 2 == 0 else None
        if assignee is not None:
            assigned_at = asked_at + timedelta(minutes=1)
            events.append(
                ConversationEvent(
                    conversation=conversation, kind="assigned", at=assigned_at, assignee=agent
                )
            )
        closed = index in (3, 7, 8, 10)
        if closed:
            closed_at = min(now, last_inbound + timedelta(minutes=rng.randint(20, 180)))
            events.append(
                ConversationEvent(
                    conversation=conversation, kind="closed", at=closed_at, actor=agent,
                    assignee=agent, seconds=(closed_at - asked_at).total_seconds(),
                )
            )  # fmt: skip
            if team is not None:
                SatisfactionSurvey.objects.get_or_create(
                    conversation=conversation, closed_at=closed_at,
                    defaults={"agent": agent, "team": team, "sent_at": closed_at,
                              "rating": rng.choice([5, 4, 5, 3, None]),
                              "rated_at": closed_at + timedelta(minutes=3)},
                )  # fmt: skip
        ConversationEvent.objects.bulk_create(events, ignore_conflicts=True)
        Conversation.objects.filter(pk=conversation.pk).update(
            is_open=not closed, opened_at=asked_at, first_inbound_at=asked_at,
            last_inbound_at=last_inbound,
            first_response_at=first_at, first_response_automated=automated,
            last_activity_at=max(last_inbound, first_at), assignee=assignee,
            closed_at=closed_at if closed else None,
            closed_by=agent if closed else None, team=team,
        )  # fmt: skip
        Contact.objects.filter(pk=contact.pk).update(
            last_inbound_at=last_inbound, unread_count=unread, pinned=index in (0, 5)
        )
        counts["conversations"] += 1
    return counts


CANNED = [
    (None, "hello", "Greeting", "Hi {{name}}, thanks for writing to us! How can I help?"),
    (None, "thanks", "Thanks and close", "Glad I could help, {{name}}. Have a lovely day!"),
    ("Support", "refund-policy", "Refund policy",
     "Refunds reach your account 5-7 working days after we pick the item up. You get a "
     "WhatsApp message at each step."),
    ("Support", "track-order", "Track an order",
     "You can track your order any time at https://shop.example.com/track with your order "
     "number."),
    ("Support", "callback", "Call back",
     "A colleague will call you within the hour on this number."),
]  # fmt: skip


def _team(channel: Channel, agent) -> Team | None:
    """The Support team: the demo agent, the demo number routed to it, round robin on; the
    number asks for a rating after each close."""
    if agent is None:
        return None
    team, _ = Team.objects.get_or_create(name="Support", defaults={"auto_assign": True})
    TeamMember.objects.get_or_create(team=team, user=agent)
    TeamChannel.objects.get_or_create(channel=channel, defaults={"team": team})
    Channel.objects.filter(pk=channel.pk).update(satisfaction_survey=True)
    return team


def _canned(team: Team | None, agent) -> int:
    created = 0
    for team_name, shortcut, title, body in CANNED:
        owner = team if team_name else None
        if team_name and owner is None:
            continue
        _, made = CannedReply.objects.get_or_create(
            team=owner, shortcut=shortcut,
            defaults={"title": title, "body": body, "created_by": agent},
        )  # fmt: skip
        created += made
    return created


def seed_inbox(*, rng: random.Random, channel: Channel) -> dict:
    """FAQ entries, rules, the team and canned replies, and (once) a believable inbox
    history on `channel`."""
    agent = get_user_model().objects.filter(username=AGENT_USERNAME).first()
    team = _team(channel, agent)
    summary = {
        "faq_entries": _faq(),
        "rules": _rules(agent),
        "canned_replies": _canned(team, agent),
    }
    if not Message.objects.filter(wamid__startswith=WAMID_PREFIX).exists():
        with transaction.atomic():
            summary.update(_history(channel, _contacts(rng), rng, agent, team))
    return summary
