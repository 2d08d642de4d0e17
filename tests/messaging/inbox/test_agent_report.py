"""The per-agent and per-team report: figures counted by hand (median and 90th percentile of
first response and resolution, conversations handled, satisfaction), the period, the
formula-safe CSV, a bounded number of queries, and who may see it (not agents)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.inbox.report import _p90, agent_report, period_for
from messaging.inbox.routing import team_save
from messaging.models import ConversationEvent, SatisfactionSurvey
from tests.factories import ChannelFactory, ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(make_user):
    now = timezone.now()
    asha = make_user("Agent", username="asha", first_name="Asha", last_name="Rao")
    bela = make_user("Agent", username="bela", first_name="=cmd|' /C calc'!A0")
    channel = ChannelFactory()
    support = team_save(name="Support", auto_assign=False, member_ids=[asha.pk, bela.pk],
                        channel_ids=[channel.pk])  # fmt: skip
    team_save(name="Empty", auto_assign=False, member_ids=[], channel_ids=[])

    def conversation(**kwargs):
        return ConversationFactory(channel=channel, contact=ContactFactory(), team=support,
                                   **kwargs)  # fmt: skip

    def event(conv, kind, seconds, *, actor=None, assignee=None, automated=False, ago=1):
        ConversationEvent.objects.create(
            conversation=conv, kind=kind, at=now - timedelta(hours=ago), actor=actor,
            assignee=assignee, seconds=seconds, automated=automated,
        )  # fmt: skip

    closed = []
    for seconds, first in ((60, 30), (120, 90), (600, 300)):
        conv = conversation(is_open=False)
        event(conv, "first_response", first, actor=asha)
        event(conv, "closed", seconds, actor=asha, assignee=asha)
        closed.append(conv)
    event(closed[0], "first_response", 5, automated=True, ago=2)  # a bot's: left out
    SatisfactionSurvey.objects.create(conversation=closed[0], closed_at=now - timedelta(hours=1),
                                      agent=asha, team=support, rating=5)  # fmt: skip
    SatisfactionSurvey.objects.create(conversation=closed[1], closed_at=now - timedelta(hours=1),
                                      agent=asha, team=support, rating=3)  # fmt: skip
    SatisfactionSurvey.objects.create(conversation=closed[2], closed_at=now - timedelta(hours=1),
                                      agent=asha, team=support)  # fmt: skip
    other = conversation(is_open=False)
    event(other, "first_response", 50, actor=bela)
    event(other, "closed", 1000, actor=asha, assignee=bela)  # Asha closed Bela's conversation
    old = conversation(is_open=False)
    event(old, "closed", 9999, actor=asha, assignee=asha, ago=24 * 60)  # before the period
    conversation(assignee=bela)  # open now
    return {"asha": asha, "bela": bela, "support": support}


def test_figures_counted_by_hand(world):
    report = agent_report(period_for(None, None))
    rows = {row.key: row for row in report.agents}
    asha, bela = rows[world["asha"].pk], rows[world["bela"].pk]
    assert asha.name == "Asha Rao (asha)"
    assert (asha.handled, asha.first_response_median, asha.first_response_p90) == (3, 90, 300)
    assert (asha.resolution_median, asha.resolution_p90) == (120, 600)
    assert (asha.satisfaction, len(asha.ratings), asha.surveys_sent) == (4.0, 2, 3)
    assert (bela.handled, bela.first_response_median, bela.resolution_median) == (1, 50, 1000)
    assert (bela.open_now, bela.satisfaction) == (1, None)
    teams = {row.name: row for row in report.teams}
    support = teams["Support"]
    assert (support.handled, support.resolution_median, support.first_response_median) == (
        4, 360, 70,
    )  # fmt: skip
    assert (support.satisfaction, support.open_now) == (4.0, 1)
    assert teams["Empty"].handled == 0
    assert report.total.handled == 4 and report.total.open_now == 1
    assert [r.key for r in report.agents] == [world["asha"].pk, world["bela"].pk]


def test_percentile_is_the_nearest_rank():
    assert _p90([]) is None
    assert _p90([7]) == 7
    assert _p90(list(range(1, 11))) == 9
    assert _p90(list(range(1, 12))) == 10


def test_the_period_is_bounded():
    today = period_for(None, None).last
    assert period_for(None, None).days == 30
    assert period_for(today - timedelta(days=5000), None).days == 366
    future = period_for(today + timedelta(days=3), today + timedelta(days=30))
    assert future.first == future.last == today
    from datetime import date

    assert period_for(date(1, 1, 1), date(1, 1, 2)).first.year == 1900


@pytest.mark.parametrize("role", ["Admin", "Campaign manager", "Analyst"])
def test_managers_admins_and_analysts_see_it(client, make_user, world, role,
                                             django_assert_max_num_queries):  # fmt: skip
    client.force_login(make_user(role, username=f"viewer-{role}"))
    with django_assert_max_num_queries(20):
        page = client.get("/staff/reports/agents/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Asha Rao (asha)" in html and 'data-testid="team-row"' in html
    assert client.get("/staff/reports/agents/?start=2020-01-01&end=bad").status_code == 200


@pytest.mark.parametrize("role", ["Agent", "Content reviewer", None])
def test_agents_and_others_are_refused(client, make_user, world, role):
    client.force_login(make_user(role, username=f"nope-{role}"))
    assert client.get("/staff/reports/agents/").status_code == 403
    assert client.get("/staff/reports/agents/export.csv").status_code == 403


def test_anonymous_users_are_sent_to_sign_in(client):
    for url in ("/staff/reports/agents/", "/staff/reports/agents/export.csv"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_csv_export_is_formula_safe(client, make_user, world):
    client.force_login(make_user("Analyst", username="ana"))
    response = client.get("/staff/reports/agents/export.csv")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["scope", "name", "conversations handled"]
    by_name = {row[1]: row for row in rows[1:]}
    assert by_name["Asha Rao (asha)"][2:5] == ["3", "3", "90.0"]
    hostile = next(name for name in by_name if "cmd" in name)
    assert hostile.startswith("'=")  # shown as text, never run
    assert [row[0] for row in rows[1:]].count("total") == 1
