"""Campaigns' part in dispatch (see `messaging.sending.hooks`), registered at ready().

A paused or cancelled campaign's messages are never claimed; released ones of a paused
campaign go back as paused; each campaign's throttle paces its own messages; permanent
failures feed the campaign health check; a drained queue lets finished campaigns complete.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from messaging.campaigns.models import Campaign, CampaignState
from messaging.campaigns.services import campaign_failures_check, campaigns_complete_finished
from messaging.sending.hooks import SendHooks, send_hooks_register


def _campaign_in(states: list[str]) -> Q:
    return Q(Exists(Campaign.objects.filter(pk=OuterRef("campaign_id"), state__in=states)))


def _throttles(campaign_ids: set[int]) -> dict[int, float]:
    rows = Campaign.objects.filter(pk__in=campaign_ids, throttle_mps__gt=0)
    return {pk: float(mps) for pk, mps in rows.values_list("pk", "throttle_mps")}


CAMPAIGN_SEND_HOOKS = SendHooks(
    held=lambda: _campaign_in([CampaignState.PAUSED, CampaignState.CANCELLED]),
    paused=lambda: _campaign_in([CampaignState.PAUSED]),
    throttles=_throttles,
    failures_seen=lambda ids: campaign_failures_check(campaign_ids=ids),
    queue_drained=campaigns_complete_finished,
)


def campaign_send_hooks_register() -> None:
    send_hooks_register(CAMPAIGN_SEND_HOOKS)
