"""The per-agent and per-team report of the inbox, over a period of days (cut at midnight in
ANALYTICS_TIME_ZONE), read from the conversations' append-only events and the surveys:

* conversations handled: cycles closed in the period, counted for whoever had them (the
  assignee at the close, else whoever closed it) and for the conversation's team;
* first response time: seconds from a cycle's first inbound message to the first reply by
  a person (automated answers are left out), for the agent who sent it;
* resolution time: seconds from a cycle's opening to its close, for cycles closed in the
  period;
* satisfaction: the customers' 1-to-5 ratings of the cycles closed in the period (average
  and count), with the number of surveys sent.

Times are given as the median and the 90th percentile (nearest rank): an average would let one
conversation left over a weekend hide how fast the rest were answered.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count
from django.utils import timezone

from core.params import DATE_MIN
from messaging.inbox.models import SatisfactionSurvey, Team
from messaging.sending.models import Conversation, ConversationEvent, ConversationEventKind

MAX_DAYS = 366
DEFAULT_DAYS = 30


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def bounds(self) -> tuple[datetime, datetime]:
        zone = ZoneInfo(getattr(settings, "ANALYTICS_TIME_ZONE", "") or settings.TIME_ZONE)
        start = datetime.combine(self.first, time.min, tzinfo=zone)
        end = datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=zone)
        return start, end


def report_today() -> date:
    zone = ZoneInfo(getattr(settings, "ANALYTICS_TIME_ZONE", "") or settings.TIME_ZONE)
    return timezone.now().astimezone(zone).date()


def period_for(first: date | None, last: date | None) -> Period:
    """The period to report: `last` defaults to today and never passes it; `first` defaults
    to DEFAULT_DAYS before `last`; at most MAX_DAYS."""
    today = report_today()
    last = max(min(last or today, today), DATE_MIN)
    if first is not None:
        first = max(first, DATE_MIN)
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    first = min(first, last)
    first = max(first, last - timedelta(days=MAX_DAYS - 1))
    return Period(first, last)


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _p90(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)], 1)


@dataclass
class ReportRow:
    key: int | None
    name: str
    handled: int = 0
    first_responses: list[float] = field(default_factory=list)
    resolutions: list[float] = field(default_factory=list)
    ratings: list[int] = field(default_factory=list)
    surveys_sent: int = 0
    open_now: int = 0

    @property
    def first_response_median(self) -> float | None:
        return _median(self.first_responses)

    @property
    def first_response_p90(self) -> float | None:
        return _p90(self.first_responses)

    @property
    def resolution_median(self) -> float | None:
        return _median(self.resolutions)

    @property
    def resolution_p90(self) -> float | None:
        return _p90(self.resolutions)

    @property
    def satisfaction(self) -> float | None:
        return round(sum(self.ratings) / len(self.ratings), 2) if self.ratings else None

    @property
    def has_activity(self) -> bool:
        return bool(self.handled or self.first_responses or self.surveys_sent or self.open_now)


@dataclass
class AgentReport:
    period: Period
    agents: list[ReportRow]
    teams: list[ReportRow]
    total: ReportRow


def agent_report(period: Period) -> AgentReport:
    """Rows per agent (everyone with activity in the period or conversations open now) and
    per team (every team), and a total over all of them. A constant number of queries."""
    start, end = period.bounds()
    agents: dict[int | None, ReportRow] = {}
    teams: dict[int | None, ReportRow] = {
        t.pk: ReportRow(t.pk, t.name) for t in Team.objects.order_by("name")
    }
    total = ReportRow(None, "All conversations")

    def agent(pk):
        if pk not in agents:
            agents[pk] = ReportRow(pk, "")
        return agents[pk]

    def team(pk):
        return teams.get(pk) if pk is not None else None

    closes = ConversationEvent.objects.filter(
        kind=ConversationEventKind.CLOSED, at__gte=start, at__lt=end
    ).values_list("assignee_id", "actor_id", "seconds", "conversation__team_id")
    for assignee_id, actor_id, seconds, team_id in closes:
        rows = [total, agent(assignee_id or actor_id), team(team_id)]
        for row in filter(None, rows):
            row.handled += 1
            if seconds is not None:
                row.resolutions.append(seconds)

    responses = ConversationEvent.objects.filter(
        kind=ConversationEventKind.FIRST_RESPONSE, automated=False, at__gte=start, at__lt=end,
        seconds__isnull=False,
    ).values_list("actor_id", "seconds", "conversation__team_id")  # fmt: skip
    for actor_id, seconds, team_id in responses:
        for row in filter(None, [total, agent(actor_id), team(team_id)]):
            row.first_responses.append(seconds)

    surveys = SatisfactionSurvey.objects.filter(closed_at__gte=start, closed_at__lt=end)
    for agent_id, team_id, rating in surveys.values_list("agent_id", "team_id", "rating"):
        for row in filter(None, [total, agent(agent_id), team(team_id)]):
            row.surveys_sent += 1
            if rating is not None:
                row.ratings.append(rating)

    open_now = (
        Conversation.objects.filter(is_open=True, assignee__isnull=False)
        .values("assignee_id")
        .annotate(n=Count("pk"))
    )
    for item in open_now:
        agent(item["assignee_id"]).open_now = item["n"]
    for item in (
        Conversation.objects.filter(is_open=True, team__isnull=False)
        .values("team_id")
        .annotate(n=Count("pk"))
    ):
        if item["team_id"] in teams:
            teams[item["team_id"]].open_now = item["n"]
    total.open_now = Conversation.objects.filter(is_open=True).count()

    users = get_user_model().objects.in_bulk([pk for pk in agents if pk is not None])
    rows = []
    for pk, row in agents.items():
        user = users.get(pk)
        if pk is None:
            row.name = "Nobody (closed without an agent)"
        elif user is None:
            continue
        else:
            full = user.get_full_name()
            row.name = f"{full} ({user.get_username()})" if full else user.get_username()
        if row.has_activity:
            rows.append(row)
    rows.sort(key=lambda r: (r.key is None, -r.handled, r.name.lower()))
    return AgentReport(period=period, agents=rows, teams=list(teams.values()), total=total)


CSV_HEADER = [
    "scope", "name", "conversations handled", "first responses",
    "first response median (s)", "first response p90 (s)", "resolution median (s)",
    "resolution p90 (s)", "satisfaction average", "ratings", "surveys sent", "open now",
    "period start", "period end",
]  # fmt: skip


def agent_report_csv_rows(report: AgentReport):
    """Rows for `core.csv_safe.csv_stream`: agents, then teams, then the total."""
    scoped = [("agent", r) for r in report.agents] + [("team", r) for r in report.teams]
    scoped.append(("total", report.total))
    for scope, row in scoped:
        yield [
            scope, row.name, row.handled, len(row.first_responses), row.first_response_median,
            row.first_response_p90, row.resolution_median, row.resolution_p90,
            row.satisfaction, len(row.ratings), row.surveys_sent, row.open_now,
            report.period.first, report.period.last,
        ]  # fmt: skip
