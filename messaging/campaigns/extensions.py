"""A campaign's results, as the campaign page shows them, supplied by the app that defines them.

What a campaign achieved (its funnel: sent, delivered, read, replied, clicked, converted; its
failures by code; revenue and cost) is defined once, in analytics (`analytics.selectors.
campaign_summary`, `analytics.services.figures`). Analytics sits above messaging and is never
imported by it (DESIGN.md section 3), so, as crm reads messages through `crm.extensions`,
analytics registers one `CampaignResults` at `ready()` and the campaign page reads only through
`campaign_results()`. With nothing registered the page still works: progress only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from messaging.campaigns.models import Campaign
    from messaging.sending.models import Message


@dataclass(frozen=True)
class FunnelStep:
    step: str  # "Sent", "Replied"...
    key: str  # the recipients filter showing who made this step ("sent", "replied"...)
    count: int
    counts: str  # "messages" or "contacts"
    share: float | None  # of those targeted, 0 to 1

    @property
    def percent(self) -> float | None:
        return None if self.share is None else round(self.share * 100, 1)


@dataclass(frozen=True)
class Failure:
    code: str
    count: int
    meaning: str


@dataclass(frozen=True)
class Summary:
    """A campaign's figures, plain values ready to render."""

    funnel: list[FunnelStep] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    clicked: int = 0
    converted: int = 0
    conversions: int = 0
    revenue: Decimal = Decimal("0")
    cost: Decimal = Decimal("0")
    roi: float | None = None
    currency: str = ""
    attribution_days: int = 0
    live: bool = False  # figures read as they happen, not from the last rollup
    report_url: str = ""  # the full report (by day, by hour, exports)

    @property
    def roi_percent(self) -> float | None:
        return None if self.roi is None else round(self.roi * 100)


@dataclass(frozen=True)
class Outcome:
    """A way to list a campaign's recipients: who failed, who read, who replied..."""

    key: str
    label: str
    help: str = ""


class CampaignResults(Protocol):
    def summary(self, campaign: Campaign) -> Summary | None:
        """The campaign's figures; None before anything of it was sent."""
        ...

    def outcomes(self) -> list[Outcome]:
        """The recipient filters, in the order the page shows them (the first: everyone)."""
        ...

    def recipients(self, campaign: Campaign, outcome: str) -> QuerySet[Message]:
        """The campaign's messages whose recipient had `outcome`, newest first; an unknown
        outcome gives everyone."""
        ...


class NoResults:
    """The default: nobody defines results, so only the recipients can be listed."""

    def summary(self, campaign: Campaign) -> Summary | None:
        return None

    def outcomes(self) -> list[Outcome]:
        return [Outcome("all", "Everyone")]

    def recipients(self, campaign: Campaign, outcome: str) -> QuerySet[Message]:
        return campaign.messages.order_by("-created_at", "-pk")


_registered: CampaignResults = NoResults()


def campaign_results_register(extension: CampaignResults) -> CampaignResults:
    """Make `extension` what the campaign page reads; returns the one it replaces."""
    global _registered
    previous, _registered = _registered, extension
    return previous


def campaign_results() -> CampaignResults:
    return _registered
