"""The rollup's pass that makes good the replies and clicks credited to outbound messages
(`messaging.sending.engagement` defines them and marks them as they come in): for one day,
every reply, button tap and human link click of that day is credited to the messages it
answers, whatever way it was stored. Set-based, through the time indexes of each event."""

from __future__ import annotations

from datetime import datetime

from django.db.models import F, OuterRef

from analytics.models import ButtonClick
from messaging.links.models import LinkClick
from messaging.sending.engagement import engagement_reconcile, replies_reconcile
from messaging.sending.models import Message


def engagement_reconcile_span(start: datetime, end: datetime) -> dict[str, int]:
    """Credit the replies and clicks of [start, end); returns how many messages changed."""
    taps = ButtonClick.objects.filter(
        clicked_at__gte=start, clicked_at__lt=end, replied_to__isnull=False
    )
    links = LinkClick.objects.filter(clicked_at__gte=start, clicked_at__lt=end, is_bot=False)
    clicked = engagement_reconcile(
        column="clicked_at",
        events=ButtonClick.objects.filter(replied_to_id=OuterRef("pk")).annotate(
            at=F("clicked_at")
        ),
        candidates=Message.objects.filter(pk__in=taps.values("replied_to_id")),
    )
    human = LinkClick.objects.filter(is_bot=False).annotate(at=F("clicked_at"))
    clicked += engagement_reconcile(
        column="clicked_at",
        events=human.filter(link__message_id=OuterRef("pk")),
        candidates=Message.objects.filter(
            pk__in=links.filter(link__message__isnull=False).values("link__message_id")
        ),
    )
    # A campaign's links are wrapped before its message exists: they credit the campaign's
    # one message to the contact (messaging.links.services.link_message_id).
    unbound = links.filter(link__message__isnull=True, link__campaign__isnull=False)
    clicked += engagement_reconcile(
        column="clicked_at",
        events=human.filter(
            link__message__isnull=True,
            link__campaign_id=OuterRef("campaign_id"),
            link__contact_id=OuterRef("contact_id"),
        ),
        candidates=Message.objects.filter(
            campaign_id__in=unbound.values("link__campaign_id"),
            contact_id__in=unbound.values("link__contact_id"),
        ),
    )
    return {"replied": replies_reconcile(start, end), "clicked": clicked}
