"""The campaign page's results (`messaging.campaigns.extensions`), from analytics' definitions.

The summary is `analytics.selectors.campaign_summary` (rollups merged with live reads, so it
matches the analytics campaign report); the recipient lists filter the campaign's messages by
the same definitions the funnel counts with (`analytics.services.figures`), so "Read: 120"
lists the 120 who read. Registered at `AnalyticsConfig.ready()`.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q, QuerySet
from django.urls import reverse

from analytics.selectors import FUNNEL_STEPS, campaign_summary
from analytics.services import figures
from messaging.campaigns.extensions import (
    CampaignResults,
    Failure,
    FunnelStep,
    Outcome,
    Summary,
    campaign_results_register,
)
from messaging.models import Campaign, Direction, Message, Status

# The recipients' filters; the funnel's steps link to theirs (targeted: everyone).
OUTCOMES = [
    Outcome("all", "Everyone"),
    Outcome("sent", "Sent", "WhatsApp reported it sent, delivered or read."),
    Outcome("delivered", "Delivered", "Delivered to the phone, or read."),
    Outcome("read", "Read"),
    Outcome("replied", "Replied", "Wrote back within the attribution window."),
    Outcome("clicked", "Clicked", "Tapped a button or a tracked link within the window."),
    Outcome("converted", "Converted", "A conversion attributed to this campaign."),
    Outcome("failed", "Failed", "WhatsApp refused or failed it: the code says why."),
    Outcome("not_sent", "Not sent", "Refused by the send policy at send time, or cancelled."),
    Outcome("pending", "Waiting", "Queued, held, or sent with the answer not known yet."),
]
_STEP_OUTCOME = {"targeted": "all"}
_STATUS_FILTERS = {
    "sent": figures.EVER_SENT,
    "delivered": figures.EVER_DELIVERED,
    "read": figures.EVER_READ,
    "failed": figures.PROVIDER_FAILED,
    "not_sent": ~Q(refusal="") | Q(status=Status.CANCELLED),
    "pending": Q(status__in=[Status.QUEUED, Status.PAUSED, Status.SENDING, Status.UNKNOWN]),
}


class AnalyticsCampaignResults:
    def summary(self, campaign: Campaign) -> Summary | None:
        data = campaign_summary(campaign)
        total = data["total"]
        if total is None:
            return None
        return Summary(
            funnel=[
                FunnelStep(
                    step=step["step"],
                    key=_STEP_OUTCOME.get(key, key),
                    count=step["count"],
                    counts=step["counts"],
                    share=step["share"],
                )
                for step, (_, key, _) in zip(data["funnel"], FUNNEL_STEPS, strict=True)
            ],
            failures=[Failure(str(e["code"]), e["count"], e["meaning"]) for e in data["errors"]],
            clicked=total.clicked,
            converted=total.converted,
            conversions=total.conversions,
            revenue=total.revenue,
            cost=total.cost,
            roi=total.roi,
            currency=settings.ANALYTICS_CURRENCY,
            attribution_days=settings.ATTRIBUTION_WINDOW_DAYS,
            live=data["live"],
            report_url=reverse("analytics:campaign", args=[campaign.pk]),
        )

    def outcomes(self) -> list[Outcome]:
        return list(OUTCOMES)

    def recipients(self, campaign: Campaign, outcome: str) -> QuerySet[Message]:
        ids = [campaign.pk]
        if outcome == "replied":
            messages = figures.campaign_replied_messages(campaign_ids=ids)
        elif outcome == "clicked":
            messages = figures.campaign_clicked_messages(campaign_ids=ids)
        else:
            messages = Message.objects.filter(campaign=campaign, direction=Direction.OUTBOUND)
            if outcome == "converted":
                converted = figures.campaign_converted_contacts(campaign_ids=ids)
                messages = messages.filter(contact_id__in=converted)
            elif outcome in _STATUS_FILTERS:
                messages = messages.filter(_STATUS_FILTERS[outcome])
        return messages.order_by("-created_at", "-pk")


def campaign_results_register_analytics() -> CampaignResults:
    return campaign_results_register(AnalyticsCampaignResults())
