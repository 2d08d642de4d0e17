"""Messaging's sections of the staff home (`core.home`): what an agent, a campaign manager and
a content reviewer need first. Each gatherer is a selector: it reads through the domain
selectors, a bounded handful of queries whatever the data's size, and writes nothing."""

from __future__ import annotations

from typing import Any

from core.home import HomeSection, home_register
from core.roles import AGENT, CAMPAIGN_MANAGER, CONTENT_REVIEWER
from messaging.campaigns.selectors import campaigns_in_flight, campaigns_scheduled
from messaging.channels.health import health_severity
from messaging.channels.models import QualityRating
from messaging.channels.selectors import (
    channel_health,
    channels_active,
    channels_with_health,
    templates_awaiting_review,
)
from messaging.content.selectors import content_review_summary
from messaging.inbox.selectors import conversations_waiting, inbox_home_counts

MY_CONVERSATIONS = 15
PICK_UP = 10
CAMPAIGNS = 8
APPROVALS = 5
REVIEW_QUEUE = 8


def agent_home(user) -> dict[str, Any]:
    """The agent's open conversations and the unassigned ones, longest wait first. 3 queries."""
    mine = list(conversations_waiting(assignee=user)[:MY_CONVERSATIONS])
    pick_up = list(conversations_waiting(unassigned=True)[:PICK_UP])
    counts = inbox_home_counts(user=user)
    waiting = sum(1 for c in mine if c.waiting_since) + sum(1 for c in pick_up if c.waiting_since)
    return {
        "mine": mine,
        "pick_up": pick_up,
        "mine_count": counts["mine"],
        "unassigned_count": counts["unassigned"],
        "attention": waiting,
    }


def _number(channel) -> dict[str, Any]:
    health = channel_health(channel)
    used = None
    if health.limit:
        used = min(100, round(100 * health.recipients_24h / health.limit))
    severity = health_severity(quality=health.quality, status=health.status)
    if health.budget_left == 0 and severity == "ok":
        severity = "warn"
    return {
        "channel": channel,
        "health": health,
        "quality_label": _label(QualityRating, health.quality),
        "used_percent": used,
        "severity": severity,
    }


def _label(choices, value: str) -> str:
    return choices(value).label if value in choices.values else value


def campaign_manager_home(user) -> dict[str, Any]:
    """Running, paused and scheduled campaigns, each number's budget and quality, and what
    waits for approval (content for a reviewer, templates for Meta). 8 queries."""
    in_flight = campaigns_in_flight(limit=CAMPAIGNS)
    numbers = [_number(c) for c in channels_with_health(channels_active())]
    review = content_review_summary(limit=APPROVALS)
    templates = templates_awaiting_review()
    alarms = sum(1 for n in numbers if n["severity"] != "ok")
    return {
        "in_flight": in_flight,
        "scheduled": campaigns_scheduled(limit=CAMPAIGNS),
        "numbers": numbers,
        "content_review": review,
        "templates_waiting": list(templates[:APPROVALS]),
        "templates_waiting_count": templates.count(),
        "attention": alarms + sum(1 for c in in_flight if c.auto_paused),
    }


def reviewer_home(user) -> dict[str, Any]:
    """The content review queue: how many, the oldest wait, the first few. 2 queries."""
    review = content_review_summary(limit=REVIEW_QUEUE)
    return {**review, "attention": review["count"]}


def home_sections_register() -> None:
    home_register(
        HomeSection(
            "inbox", "Your conversations", AGENT, "messaging.view_conversation",
            "messaging/home/_agent.html", agent_home,
        ),
        HomeSection(
            "campaigns", "Campaigns and numbers", CAMPAIGN_MANAGER, "messaging.view_campaign",
            "messaging/home/_campaigns.html", campaign_manager_home,
        ),
        HomeSection(
            "review", "Content review queue", CONTENT_REVIEWER, "messaging.review_contentitem",
            "messaging/home/_review.html", reviewer_home,
        ),
    )  # fmt: skip
