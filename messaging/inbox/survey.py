"""The satisfaction survey: after an agent closes a conversation on a number that opted in
(`Channel.satisfaction_survey`), the customer gets a WhatsApp list message with five rows,
1 to 5 (reply buttons allow at most three). Tapping a row comes back as an interactive
`list_reply` whose id names the survey and the rating (`csat:<survey id>:<rating>`); webhook
processing records it here and does not reopen the conversation: a rating is not a new
request.

The list is a free-form (service) message, so it goes only while the 24-hour window is open;
the send policy refuses it otherwise, and the close goes on without a survey.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from messaging.inbox.models import SatisfactionSurvey
from messaging.sending.models import Conversation, Message
from messaging.sending.send import SendRefused, message_send

logger = logging.getLogger(__name__)

SURVEY_PREFIX = "csat"
RATING_LABELS = {5: "Excellent", 4: "Good", 3: "Okay", 2: "Poor", 1: "Very poor"}
_REPLY_ID = re.compile(rf"^{SURVEY_PREFIX}:(\d{{1,18}}):([1-5])$")


def survey_content(survey_id: int) -> dict:
    """The Cloud API `interactive` object of a survey (a list of five ratings)."""
    rows = [
        {
            "id": f"{SURVEY_PREFIX}:{survey_id}:{rating}",
            "title": f"{rating} - {label}",
            "description": "★" * rating,
        }
        for rating, label in RATING_LABELS.items()
    ]
    return {
        "type": "list",
        "body": {"text": settings.INBOX_SURVEY_QUESTION[:1024]},
        "action": {"button": "Rate us", "sections": [{"title": "Your rating", "rows": rows}]},
    }


def survey_send(
    *, conversation: Conversation, closed_at: datetime, agent_id: int | None
) -> SatisfactionSurvey | None:
    """Ask for a rating of the cycle closed at `closed_at`, if the number opted in. Call in
    the close's transaction; a refused send (window closed, contact blocked...) is logged and
    leaves nothing behind."""
    channel = conversation.channel
    if not channel.satisfaction_survey:
        return None
    try:
        with transaction.atomic():
            survey = SatisfactionSurvey.objects.create(
                conversation=conversation, closed_at=closed_at, agent_id=agent_id,
                team_id=conversation.team_id, sent_at=closed_at,
            )  # fmt: skip
            message = message_send(
                channel=channel, contact=conversation.contact, type="interactive",
                content=survey_content(survey.pk), is_automated=True,
            )  # fmt: skip
            SatisfactionSurvey.objects.filter(pk=survey.pk).update(message=message)
            survey.message = message
    except SendRefused as exc:
        logger.info("no survey for conversation %s: %s (%s)", conversation.pk, exc, exc.code)
        return None
    return survey


def survey_reply_match(*, contact_id: int, channel_id: int, reply_id: str):
    """(survey, rating) when an interactive reply id answers one of this contact's surveys on
    this number, else None."""
    match = _REPLY_ID.match(reply_id or "")
    if match is None:
        return None
    survey = SatisfactionSurvey.objects.filter(
        pk=int(match[1]),
        conversation__contact_id=contact_id,
        conversation__channel_id=channel_id,
    ).first()
    if survey is None:
        return None
    return survey, int(match[2])


def survey_answer_record(*, survey: SatisfactionSurvey, rating: int, reply: Message) -> bool:
    """Record the customer's rating; a later tap replaces an earlier one (by WhatsApp's
    time, so out-of-order webhooks settle on the last tap). True when it was recorded."""
    at = reply.received_at or reply.created_at
    updated = (
        SatisfactionSurvey.objects.filter(pk=survey.pk)
        .filter(Q(rated_at__isnull=True) | Q(rated_at__lte=at))
        .update(rating=rating, rated_at=at, reply=reply)
    )
    if updated:
        survey.rating, survey.rated_at, survey.reply = rating, at, reply
    return bool(updated)


def conversation_latest_survey(conversation: Conversation) -> SatisfactionSurvey | None:
    return (
        SatisfactionSurvey.objects.filter(conversation=conversation).order_by("-closed_at").first()
    )


def survey_channel_set(*, channel, enabled: bool):
    """Switch the survey after closing on or off for a number."""
    channel.satisfaction_survey = bool(enabled)
    channel.save(update_fields=["satisfaction_survey"])
    return channel
