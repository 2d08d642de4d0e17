"""Number health: tier rules, recording a reading, the 24-hour recipients and the budget."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from messaging.channels import hooks
from messaging.channels.health import (
    Health,
    HealthChange,
    quality_normalise,
    tier_limit,
    tier_normalise,
)
from messaging.channels.selectors import (
    channel_budget_left,
    channel_health,
    channel_recipients_24h,
    channel_unique_recipient_limit,
    channels_with_health,
)
from messaging.channels.services import channel_health_apply
from messaging.models import Channel
from tests.factories import ChannelFactory, ContactFactory, MessageFactory

# --- Rules (no database) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "limit"),
    [
        ("TIER_50", 50),
        ("TIER_250", 250),
        ("TIER_1K", 1000),
        ("TIER_2K", 2000),
        ("TIER_10K", 10_000),
        ("TIER_100K", 100_000),
        ("TIER_5K", 5000),  # a tier Meta might add tomorrow
        ("TIER_UNLIMITED", None),
    ],
)
def test_each_tier_has_its_limit(tier, limit):
    assert tier_limit(tier) == limit


@pytest.mark.parametrize("bad", ["", "TIER_NOT_SET", "TIER_X", "1000", "tier"])
def test_what_is_not_a_tier_has_no_limit(bad):
    with pytest.raises(ValueError, match="not a messaging tier"):
        tier_limit(bad)


@pytest.mark.parametrize(
    ("value", "tier"),
    [
        ("TIER_1K", "TIER_1K"),
        ("tier_10k", "TIER_10K"),
        (2000, "TIER_2K"),
        ("2000", "TIER_2K"),
        (250, "TIER_250"),
        (-1, "TIER_UNLIMITED"),
        ("TIER_NOT_SET", ""),
    ],
)
def test_meta_tier_values_are_read_whatever_their_shape(value, tier):
    assert tier_normalise(value) == tier


@pytest.mark.parametrize("bad", [0, -5, True, "lots", 1.5, None])
def test_nonsense_tiers_are_refused(bad):
    with pytest.raises(ValueError):
        tier_normalise(bad)


def test_quality_values():
    assert quality_normalise("green") == "GREEN"
    assert quality_normalise("NA") == "UNKNOWN"
    with pytest.raises(ValueError, match="not a quality rating"):
        quality_normalise("PURPLE")


@pytest.mark.parametrize(
    ("before", "after", "alarm"),
    [
        (("YELLOW", "", "CONNECTED"), ("RED", "", "CONNECTED"), "dropped to RED from YELLOW"),
        (("GREEN", "", "CONNECTED"), ("RED", "", "CONNECTED"), "dropped to RED from GREEN"),
        (("GREEN", "", "CONNECTED"), ("GREEN", "", "FLAGGED"), "number flagged"),
        (("GREEN", "", "CONNECTED"), ("GREEN", "", "RESTRICTED"), "number restricted"),
        (("RED", "", "FLAGGED"), ("RED", "", "FLAGGED"), None),  # the same reading again
        (("GREEN", "", "CONNECTED"), ("YELLOW", "", "CONNECTED"), None),  # a warning only
        (("RED", "", "FLAGGED"), ("YELLOW", "", "CONNECTED"), None),  # recovering
    ],
)
def test_only_a_move_into_a_bad_state_is_an_alarm(before, after, alarm):
    change = HealthChange(1, Health(*before), Health(*after), "webhook")
    assert (alarm in change.alarm) if alarm else change.alarm is None


def test_a_lower_tier_or_yellow_quality_is_a_warning():
    change = HealthChange(
        1, Health("GREEN", "TIER_10K", "CONNECTED"), Health("YELLOW", "TIER_1K", "CONNECTED"), "x"
    )
    assert change.alarm is None
    assert "GREEN to YELLOW" in change.warning
    assert "TIER_10K to TIER_1K" in change.warning


# --- Recording a reading -----------------------------------------------------------------------


@pytest.fixture
def number(db):
    return ChannelFactory(name="Main", phone_number_id="111")


@pytest.fixture
def heard():
    """Health listeners registered for one test only."""
    calls = []

    def listener(*, channel, change):
        calls.append((channel.pk, change))

    hooks.health_listener_register(listener)
    yield calls
    hooks._listeners.remove(listener)


def test_a_reading_is_kept_with_when_and_from_where(number, heard):
    at = timezone.now() - timedelta(minutes=5)
    change = channel_health_apply(
        channel=number, source="graph", at=at, quality="YELLOW", tier="TIER_10K", status="CONNECTED"
    )
    number.refresh_from_db()
    assert (number.quality_rating, number.messaging_tier, number.number_status) == (
        "YELLOW",
        "TIER_10K",
        "CONNECTED",
    )
    assert number.quality_updated_at == number.tier_updated_at == number.status_updated_at == at
    assert number.quality_source == number.tier_source == number.status_source == "graph"
    assert change.before == Health("UNKNOWN", "", "UNKNOWN")
    assert heard == [(number.pk, change)]


def test_an_older_reading_never_overwrites_a_newer_one(number, heard):
    now = timezone.now()
    channel_health_apply(channel=number, source="graph", at=now, quality="GREEN")
    late = channel_health_apply(
        channel=number, source="webhook", at=now - timedelta(minutes=1), quality="RED"
    )
    number.refresh_from_db()
    assert number.quality_rating == "GREEN" and number.quality_source == "graph"
    assert not late.changed and late.alarm is None
    assert len(heard) == 1


def test_the_same_reading_twice_changes_nothing(number, heard):
    at = timezone.now()
    first = channel_health_apply(channel=number, source="webhook", at=at, status="FLAGGED")
    again = channel_health_apply(channel=number, source="webhook", at=at, status="FLAGGED")
    assert first.alarm == "number flagged"
    assert not again.changed and again.alarm is None
    assert len(heard) == 1


def test_an_alarm_is_logged_as_an_error(number, caplog):
    channel_health_apply(channel=number, source="webhook", quality="RED")
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "quality rating dropped to RED" in errors[-1].getMessage()
    assert "Main (111)" in errors[-1].getMessage()


def test_a_status_that_only_clears_a_flag_leaves_a_restriction(number):
    channel_health_apply(channel=number, source="webhook", status="RESTRICTED", status_detail="r")
    change = channel_health_apply(
        channel=number,
        source="webhook",
        status="CONNECTED",
        status_replaces={"FLAGGED"},
        status_detail="unflagged",
    )
    number.refresh_from_db()
    assert number.number_status == "RESTRICTED" and number.status_detail == "r"
    assert not change.changed


def test_bad_values_write_nothing(number):
    with pytest.raises(ValueError, match="not a messaging tier"):
        channel_health_apply(channel=number, source="webhook", quality="RED", tier="lots")
    number.refresh_from_db()
    assert number.quality_rating == "UNKNOWN" and number.quality_updated_at is None


# --- Recipients of the moving 24 hours and the budget -----------------------------------------


def _template_to(channel, contact, *, accepted_ago=None, **kwargs):
    accepted = timezone.now() - accepted_ago if accepted_ago is not None else None
    return MessageFactory(
        channel=channel, contact=contact, type="template", accepted_at=accepted, status=30, **kwargs
    )


def test_recipients_are_distinct_contacts_sent_an_accepted_template_in_24_hours(number):
    other = ChannelFactory(name="Other", phone_number_id="222")
    asha, ravi, old, queued = ContactFactory.create_batch(4)
    _template_to(number, asha, accepted_ago=timedelta(hours=1))
    _template_to(number, asha, accepted_ago=timedelta(hours=2))  # the same person: once
    _template_to(number, ravi, accepted_ago=timedelta(hours=23))
    _template_to(number, old, accepted_ago=timedelta(hours=25))  # out of the window
    _template_to(number, queued)  # not accepted yet
    MessageFactory(channel=number, contact=queued, type="text", accepted_at=timezone.now())
    _template_to(other, queued, accepted_ago=timedelta(hours=1))  # another number
    assert channel_recipients_24h(number) == 2
    assert channel_recipients_24h(other) == 1


def test_the_recipient_count_is_answered_from_its_index(number):
    """EXPLAIN of the very query the selector runs names the partial index."""
    from messaging.channels.selectors import RECIPIENT_WINDOW, _recipients_query

    since = timezone.now() - RECIPIENT_WINDOW
    query = _recipients_query(number, since).values("contact_id").distinct()
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        else:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "message_template_accepted" in plan, plan


def test_the_budget_is_the_tier_limit_less_the_recipients(number, settings):
    Channel.objects.filter(pk=number.pk).update(messaging_tier="TIER_250")
    number.refresh_from_db()
    for contact in ContactFactory.create_batch(3):
        _template_to(number, contact, accepted_ago=timedelta(minutes=10))
    assert channel_unique_recipient_limit(number) == 250
    assert channel_budget_left(number) == 247


def test_the_budget_is_never_below_zero(number):
    Channel.objects.filter(pk=number.pk).update(messaging_tier="TIER_2")
    number.refresh_from_db()
    for contact in ContactFactory.create_batch(3):
        _template_to(number, contact, accepted_ago=timedelta(minutes=10))
    assert channel_budget_left(number) == 0


def test_an_unlimited_number_has_no_budget(number):
    Channel.objects.filter(pk=number.pk).update(messaging_tier="TIER_UNLIMITED")
    number.refresh_from_db()
    assert channel_budget_left(number) is None
    assert channel_health(number).limit is None


def test_an_unknown_tier_falls_back_to_the_setting(number, settings):
    settings.MESSAGING_UNIQUE_RECIPIENT_LIMIT = 1000
    assert channel_budget_left(number) == 1000
    settings.MESSAGING_UNIQUE_RECIPIENT_LIMIT = 0
    assert channel_budget_left(number) is None


@pytest.mark.parametrize("status", ["RESTRICTED", "BANNED", "DELETED"])
def test_a_restricted_or_banned_number_has_no_budget(number, status, django_assert_num_queries):
    Channel.objects.filter(pk=number.pk).update(messaging_tier="TIER_1K", number_status=status)
    number.refresh_from_db()
    with django_assert_num_queries(0):
        assert channel_budget_left(number) == 0


def test_channel_health_reports_everything_in_one_query(number, django_assert_num_queries):
    at = timezone.now()
    channel_health_apply(
        channel=number, source="webhook", at=at, quality="GREEN", tier="TIER_1K", status="FLAGGED"
    )
    _template_to(number, ContactFactory(), accepted_ago=timedelta(minutes=1))
    with django_assert_num_queries(1):
        health = channel_health(number)
    assert health.as_dict() == {
        "name": "Main",
        "phone_number_id": "111",
        "display_phone_number": number.display_phone_number,
        "quality": "GREEN",
        "quality_updated_at": at,
        "quality_source": "webhook",
        "tier": "TIER_1K",
        "limit": 1000,
        "tier_updated_at": at,
        "tier_source": "webhook",
        "status": "FLAGGED",
        "status_detail": "",
        "status_updated_at": at,
        "status_source": "webhook",
        "recipients_24h": 1,
        "budget_left": 999,
        "updated_at": at,
    }


def test_a_list_of_numbers_costs_one_query(number, django_assert_num_queries):
    others = [ChannelFactory(name=f"N{i}", phone_number_id=f"30{i}") for i in range(3)]
    for channel in [number, *others]:
        _template_to(channel, ContactFactory(), accepted_ago=timedelta(minutes=1))
    _template_to(number, ContactFactory(), accepted_ago=timedelta(minutes=1))
    with django_assert_num_queries(1):
        healths = {h.phone_number_id: h for h in map(channel_health, channels_with_health())}
    assert healths["111"].recipients_24h == 2
    assert {healths[c.phone_number_id].recipients_24h for c in others} == {1}
