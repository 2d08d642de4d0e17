"""Signal handlers: what crm and messaging report becomes analytics records.

Connected in `AnalyticsConfig.ready()`. Signals are sent after commit, and their senders use
`Signal.send`, so a handler that raised would break the sender's later callbacks: every handler
here logs its own failure instead. They stay cheap; status changes arrive by the thousand per
second, so a status change writes nothing unless it belongs to a day before today (then it
marks that day for the next rollup, at most once per process every two seconds). Rollups read
statuses from the messages' own timestamps.
"""

from __future__ import annotations

import functools
import logging

from analytics.services import events
from crm import signals as crm_signals
from messaging import signals as messaging_signals

logger = logging.getLogger(__name__)


def _safe(handler):
    @functools.wraps(handler)
    def wrapped(*args, **kwargs):
        try:
            handler(*args, **kwargs)
        except Exception:
            logger.exception("analytics handler %s failed", handler.__name__)

    return wrapped


@_safe
def on_message_statuses_changed(sender, changes=(), **kwargs):
    events.moments_mark_changed(change.at for change in changes)


@_safe
def on_inbound_message(sender, message=None, **kwargs):
    if message is not None:
        events.moment_mark_changed(message.received_at or message.created_at)


@_safe
def on_button_clicked(sender, message=None, payload="", title="", replied_to=None, **kwargs):
    if message is not None:
        events.button_click_record(
            message=message, payload=payload, title=title, replied_to=replied_to
        )


@_safe
def on_link_clicked(sender, link=None, click=None, **kwargs):
    if click is not None and not click.is_bot:
        events.moment_mark_changed(click.clicked_at)


@_safe
def on_content_unlocked(sender, delivery=None, message=None, **kwargs):
    if message is not None:
        events.moment_mark_changed(message.created_at)


@_safe
def on_consent_changed(sender, event=None, **kwargs):
    if event is not None:
        events.moment_mark_changed(event.created_at)


@_safe
def on_conversation_closed(sender, at=None, **kwargs):
    events.moment_mark_changed(at)


@_safe
def on_answer_rated(sender, answer=None, rating=None, previous=None, rated_by=None, at=None, **kw):
    if answer is not None and rating is not None:
        events.quality_rating_record(
            answer=answer, rating=rating, previous=previous, rated_by=rated_by, at=at
        )


@_safe
def on_contact_merged(sender, **kwargs):
    events.customers_mark_stale()


def receivers_connect() -> None:

    pairs = [
        (messaging_signals.message_statuses_changed, on_message_statuses_changed),
        (messaging_signals.inbound_message_received, on_inbound_message),
        (messaging_signals.button_clicked, on_button_clicked),
        (messaging_signals.link_clicked, on_link_clicked),
        (messaging_signals.content_unlocked, on_content_unlocked),
        (messaging_signals.conversation_closed, on_conversation_closed),
        (messaging_signals.answer_rated, on_answer_rated),
        (crm_signals.consent_changed, on_consent_changed),
        (crm_signals.contact_merged, on_contact_merged),
    ]
    for signal, handler in pairs:
        signal.connect(handler, weak=False, dispatch_uid=f"analytics.{handler.__name__}")
