"""The inbox demo data: FAQ, rules, assigned and pinned conversations, rated answers."""

import random

import pytest

from messaging.automation.responders.faq import FaqResponder
from messaging.inbox.demo import seed_inbox
from messaging.inbox.report import agent_report, period_for
from messaging.inbox.selectors import inbox_metrics
from messaging.models import (
    AutomatedAnswer,
    AutoReplyRule,
    CannedReply,
    Channel,
    Conversation,
    ConversationEvent,
    FaqEntry,
    Message,
    SatisfactionSurvey,
    Team,
)
from tests.factories import ChannelFactory, ContactFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_seed_inbox_is_complete_and_idempotent():
    channel = ChannelFactory()
    agent = UserFactory(username="agent", roles=["Agent"])
    ContactFactory.create_batch(8)
    first = seed_inbox(rng=random.Random(1), channel=channel)
    assert first["faq_entries"] >= 4 and first["rules"] >= 6 and first["conversations"] == 8
    assert first["canned_replies"] == 5
    counts = (
        FaqEntry.objects.count(),
        AutoReplyRule.objects.count(),
        Message.objects.count(),
        ConversationEvent.objects.count(),
    )
    again = seed_inbox(rng=random.Random(2), channel=channel)
    assert again == {"faq_entries": 0, "rules": 0, "canned_replies": 0}
    assert counts == (
        FaqEntry.objects.count(),
        AutoReplyRule.objects.count(),
        Message.objects.count(),
        ConversationEvent.objects.count(),
    )
    assert Conversation.objects.filter(assignee=agent).count() >= 3
    assert Conversation.objects.filter(contact__pinned=True).count() == 2
    assert AutomatedAnswer.objects.filter(rating__isnull=False).exists()
    assert {"delivery", "returns", "payment", "store hours"} <= set(
        FaqEntry.objects.values_list("topic", flat=True)
    )
    names = set(AutoReplyRule.objects.values_list("trigger", flat=True))
    assert {"keyword", "payload", "payload_prefix", "outside_hours", "regex"} <= names
    for rule in AutoReplyRule.objects.all():
        rule.full_clean()
    assert FaqResponder().answer("what are your store hours?").topic == "store hours"
    # The Support team answers the demo number, asks for ratings, and the report has data.
    team = Team.objects.get(name="Support")
    assert list(team.members.all()) == [agent] and list(team.channels.all()) == [channel]
    assert Channel.objects.get(pk=channel.pk).satisfaction_survey
    assert CannedReply.objects.filter(team=None).count() == 2
    report = agent_report(period_for(None, None))
    (row,) = report.agents
    assert row.key == agent.pk and row.handled >= 2 and row.resolution_median is not None
    assert SatisfactionSurvey.objects.filter(rating__isnull=False).exists()


def test_seed_inbox_works_without_the_agent_user_or_contacts():
    channel = ChannelFactory()
    summary = seed_inbox(rng=random.Random(3), channel=channel)
    assert summary["conversations"] == 6
    assert not AutoReplyRule.objects.filter(action="assign").exists()
    from django.utils import timezone

    assert inbox_metrics(day=timezone.localdate())["automated_answers"] >= 0
