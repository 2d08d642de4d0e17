"""Signals messaging sends for analytics (which listens; messaging never imports it).

All are sent after the surrounding transaction committed.
"""

from dataclasses import dataclass
from datetime import datetime

from django.dispatch import Signal


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One message's status move, as `message_statuses_changed` reports it."""

    message_id: int
    previous: int
    status: int
    at: datetime  # the provider's time of the status that moved it


# changes=list[StatusChange]: every message a batch of statuses moved, once per batch (status
# webhooks arrive by the thousand a second: one call and no Message loaded per change)
message_statuses_changed = Signal()
# message=Message (inbound), contact=Contact
inbound_message_received = Signal()
# message=Message (the inbound reply), payload=str, title=str, replied_to=Message | None
button_clicked = Signal()
# delivery=ContentDelivery, kind=str (UnlockKind), message=Message (what was sent),
# contact=Contact, first=bool (the first unlock of this delivery)
content_unlocked = Signal()
# link=TrackedLink, click=LinkClick (click.is_bot marks link-preview fetchers)
link_clicked = Signal()
# conversation=Conversation, closed_by=User | None, at=datetime, first_response_seconds=float |
# None (the closed cycle's first response time), first_response_automated=bool
conversation_closed = Signal()
# answer=AutomatedAnswer, rating=int (1..5), previous=int | None, rated_by=User, at=datetime
answer_rated = Signal()
