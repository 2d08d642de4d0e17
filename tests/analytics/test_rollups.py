"""Rollups against a hand-counted world (tests/analytics/analytics_support.py): correctness,
idempotent recomputation, late events, incremental days, the lock, the command and the job."""

import io
import json
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django_celery_beat.models import PeriodicTask

from analytics.models import (
    ButtonDaily,
    CampaignPerformance,
    ContentPerformance,
    DailySnapshot,
    JobRun,
    RollupDirtyDay,
)
from analytics.ops.jobs import job_get
from analytics.receivers import on_message_statuses_changed
from analytics.services import events
from analytics.services.rollups import (
    LOCK_KEY,
    RollupBusy,
    analytics_rollup,
    rollup_days_due,
    rollup_lock,
)
from messaging.models import Status
from messaging.signals import StatusChange
from tests.analytics.analytics_support import NOW, D, at, build_world

pytestmark = pytest.mark.django_db
D1 = D + timedelta(days=1)


@pytest.fixture(autouse=True)
def _clock(settings):
    settings.ANALYTICS_TIME_ZONE = "UTC"
    events._recent_marks.clear()
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def world():
    return build_world()


def snapshot(day, channel=None):
    return DailySnapshot.objects.get(day=day, channel=channel)


def rows(model, **filters):
    return [
        {k: v for k, v in row.items() if k not in {"id", "computed_at"}}
        for row in model.objects.filter(**filters).order_by(*model._meta.ordering, "pk").values()
    ]


def test_the_days_snapshot_matches_the_hand_count(world):
    analytics_rollup(days=[D, D1])
    total = snapshot(D)
    assert (total.sent, total.delivered, total.read, total.failed) == (4, 4, 2, 1)
    assert (total.inbound, total.contacts_reached, total.new_contacts) == (2, 3, 1)
    assert (total.opt_ins, total.opt_outs) == (1, 1)
    assert (total.button_clicks, total.link_clicks) == (1, 1)
    assert total.conversions == 3  # cv4 is a page view: engagement, not a conversion
    assert total.revenue == Decimal("1200.00")
    assert (total.revenue_campaign, total.revenue_notification) == (Decimal(1000), Decimal(200))
    assert (total.revenue_content, total.revenue_organic) == (0, 0)
    # The stored costs of the messages sent on D: m1 and m2 0.50, m5 0.10, m4 free.
    assert total.cost == Decimal("1.1000")

    a, b = snapshot(D, world.a), snapshot(D, world.b)
    assert (a.sent, a.delivered, a.read, a.failed, a.inbound) == (3, 3, 2, 1, 2)
    assert (a.conversions, a.revenue, a.cost) == (2, Decimal(1200), Decimal("1.1"))
    assert (b.sent, b.delivered, b.read, b.failed, b.inbound, b.cost) == (1, 1, 0, 0, 0, 0)
    assert a.new_contacts is None and a.opt_outs is None  # all-channels figures only

    next_day = snapshot(D1)
    assert (next_day.sent, next_day.delivered, next_day.inbound) == (0, 1, 1)


def test_campaign_performance_per_day_and_in_total(world):
    analytics_rollup(days=[D, D1])
    k = world.campaign
    day = CampaignPerformance.objects.get(campaign=k, day=D)
    assert (day.targeted, day.sent, day.delivered, day.read, day.failed) == (3, 2, 1, 1, 1)
    assert day.errors == {"131026": 1}
    assert (day.replied, day.clicked, day.converted, day.conversions) == (1, 2, 1, 1)
    assert (day.revenue, day.cost, day.roi) == (Decimal(1000), Decimal(1), 999.0)
    assert day.hourly_sent[9] == 2 and sum(day.hourly_sent) == 2

    later = CampaignPerformance.objects.get(campaign=k, day=D1)
    assert (later.delivered, later.replied, later.cost, later.roi) == (1, 1, 0, None)

    total = CampaignPerformance.objects.get(campaign=k, day=None)
    assert (total.targeted, total.sent, total.delivered, total.read, total.failed) == (
        3, 2, 2, 1, 1,
    )  # fmt: skip
    assert (total.replied, total.clicked, total.converted) == (2, 2, 1)
    assert (total.revenue, total.cost, total.roi) == (Decimal(1000), Decimal(1), 999.0)


def test_buttons_and_content(world):
    analytics_rollup(days=[D])
    button = ButtonDaily.objects.get(day=D)
    assert (button.label, button.clicks, button.contacts) == ("Buy now", 1, 1)
    assert button.average_delay_seconds == 3950.0  # 10:06:00 - 09:00:10
    assert button.delay_buckets["under_1d"] == 1 and button.hourly[10] == 1
    content = ContentPerformance.objects.get(content_item=world.content_item)
    assert (content.announced, content.delivered, content.read, content.unlocked) == (1, 1, 1, 0)
    assert (content.delivery_rate, content.unlock_rate) == (1.0, 0.0)


def test_recomputing_gives_identical_rows(world):
    analytics_rollup(days=[D, D1], customers=True)
    before = {m: rows(m) for m in (DailySnapshot, CampaignPerformance, ButtonDaily)}
    analytics_rollup(days=[D, D1], customers=True)
    analytics_rollup(days=[D1, D], customers=True)
    assert {m: rows(m) for m in before} == before
    assert DailySnapshot.objects.filter(day=D).count() == 3


def test_a_dry_run_writes_nothing(world):
    result = analytics_rollup(days=[D], customers=True, dry_run=True)
    assert result.preview[D.isoformat()]["sent"] == 4
    assert result.customers == 4
    assert not DailySnapshot.objects.exists()
    assert not CampaignPerformance.objects.exists()


def test_a_late_status_webhook_marks_its_day_and_the_next_run_picks_it_up(
    world, django_capture_on_commit_callbacks, _clock
):
    from tests.messaging.webhooks.support import process, status, statuses_payload

    analytics_rollup(days=[D, D1])
    RollupDirtyDay.objects.all().delete()
    events._recent_marks.clear()
    assert snapshot(D).read == 2
    # Two days later, the read receipt of m5 (D 13:05) finally arrives through the webhook.
    with django_capture_on_commit_callbacks(execute=True):
        process(statuses_payload(status("wamid.m5", "read", int(at(13, 5).timestamp()))))
    assert RollupDirtyDay.objects.filter(day=D).exists()
    assert D in rollup_days_due()

    _clock.shift(timedelta(seconds=5))
    result = analytics_rollup()  # incremental
    assert D in result.days
    assert snapshot(D).read == 3
    assert not RollupDirtyDay.objects.filter(day=D).exists()


def test_a_late_conversion_marks_its_day(world):
    from analytics.services.conversions import conversion_record

    analytics_rollup(days=[D])
    RollupDirtyDay.objects.all().delete()
    events._recent_marks.clear()
    conversion_record(
        reference_id="late", type="order", contact=world.contacts["c2"],
        occurred_at=at(18), value=50,
    )  # fmt: skip
    assert D in rollup_days_due()
    analytics_rollup()
    assert snapshot(D).revenue == Decimal("1250.00")


def test_status_marks_are_cheap(world, django_assert_num_queries):
    message = world.messages["m1"]
    events._recent_marks.clear()

    def changed(*moments):
        changes = [StatusChange(message.pk, Status.SENT, Status.READ, moment) for moment in moments]
        on_message_statuses_changed(sender=None, changes=changes)

    with django_assert_num_queries(0):  # today: nothing to mark
        changed(NOW, NOW)
    with django_assert_num_queries(1):  # a batch on one past day: one mark
        changed(*[at(9)] * 500)
    with django_assert_num_queries(0):  # debounced within the process
        for _ in range(100):
            changed(at(10))


def test_marks_made_during_a_run_survive_it(world, _clock):
    RollupDirtyDay.objects.update_or_create(
        day=D, defaults={"marked_at": NOW + timedelta(seconds=1)}
    )
    analytics_rollup(days=[D])
    assert RollupDirtyDay.objects.filter(day=D).exists()  # newer than the run's start


def test_recent_days_get_one_pass_after_they_ended(world, _clock):
    today = NOW.date()
    assert rollup_days_due() == [today - timedelta(days=n) for n in (3, 2, 1, 0)]
    _clock.shift(timedelta(seconds=5))  # the world's marks are older than the run
    analytics_rollup()
    assert rollup_days_due() == [today]  # every recent day was rolled up after it ended
    # Rolled up at 23:00, before the day ended: it gets another pass after midnight.
    _clock.move_to(NOW.replace(hour=23))
    analytics_rollup()
    _clock.move_to(NOW + timedelta(days=1))
    assert today in rollup_days_due()
    assert set(rollup_days_due(mode="nightly")) >= {today - timedelta(days=n) for n in (0, 1, 2)}


def test_runs_never_overlap(world):
    if connection.vendor == "postgresql":
        # Advisory locks belong to a session: another run means another connection.
        other = connections.create_connection(DEFAULT_DB_ALIAS)
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
        try:
            with pytest.raises(RollupBusy):
                analytics_rollup(days=[D])
        finally:
            other.close()  # ends the session, which releases its lock
    else:
        with rollup_lock() as acquired:
            assert acquired
            with pytest.raises(RollupBusy):
                analytics_rollup(days=[D])
    analytics_rollup(days=[D])  # the lock is released


def test_the_command_runs_the_job_and_records_it(world):
    out = io.StringIO()
    call_command("rollup_analytics", "--date", D.isoformat(), stdout=out)
    run = JobRun.objects.get(name="rollup_analytics")
    assert run.state == "succeeded" and run.trigger == "command"
    assert run.arguments["day"] == D.isoformat()
    assert snapshot(D).sent == 4
    call_command("rollup_analytics", "--since", D.isoformat(), "--customers", stdout=out)
    assert DailySnapshot.objects.filter(channel=None).count() == 3  # D, D+1, D+2


def test_the_command_dry_run(world):
    out = io.StringIO()
    call_command("rollup_analytics", "--date", D.isoformat(), "--dry-run", stdout=out)
    assert "sent 4, delivered 4" in out.getvalue()
    assert not DailySnapshot.objects.exists() and not JobRun.objects.exists()
    with pytest.raises(CommandError):
        call_command("rollup_analytics", "--date", "yesterday")


def test_the_job_is_registered_and_scheduled():
    definition = job_get("rollup_analytics")
    assert definition.permission == "analytics.change_dailysnapshot"
    schedules = {t.name: t for t in PeriodicTask.objects.filter(task="analytics.job_scheduled")}
    frequent = schedules["analytics: roll up today every 5 minutes"]
    nightly = schedules["analytics: nightly rollup"]
    assert json.loads(frequent.kwargs) == {"name": "rollup_analytics"}
    assert frequent.crontab.minute == "*/5"
    assert json.loads(nightly.kwargs) == {
        "name": "rollup_analytics",
        "arguments": {"mode": "nightly"},
    }
    assert definition.clean_arguments({"mode": "nightly"}) == {"mode": "nightly"}


def test_the_last_rollup_health_item_sees_the_job(world):
    from analytics.ops.health import WATCHED_JOBS

    assert "rollup_analytics" in WATCHED_JOBS
    call_command("rollup_analytics", stdout=io.StringIO())
    assert JobRun.objects.filter(name="rollup_analytics", state="succeeded").exists()


def test_failed_messages_requeued_are_not_counted_sent(world):
    message = world.messages["m3"]
    message.status = Status.QUEUED
    message.save(update_fields=["status"])
    analytics_rollup(days=[D])
    assert snapshot(D).failed == 0


def test_days_are_cut_in_the_analytics_time_zone(settings):
    from tests.factories import MessageFactory

    settings.ANALYTICS_TIME_ZONE = "Asia/Kolkata"  # UTC+05:30
    late = at(20, 0)  # 01:30 on D+1 in Kolkata
    MessageFactory(status=Status.SENT, sent_at=late)
    MessageFactory(status=Status.SENT, sent_at=at(18, 0))  # 23:30 on D in Kolkata
    analytics_rollup(days=[D, D1])
    assert (snapshot(D).sent, snapshot(D1).sent) == (1, 1)
