"""The message reports' selectors: filters combine, one query for a page with its contacts."""

import pytest
import time_machine

from analytics import selectors
from messaging.models import Status
from tests.analytics.analytics_support import NOW, D, at, build_world

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clock(settings):
    settings.ANALYTICS_TIME_ZONE = "UTC"
    with time_machine.travel(NOW, tick=False):
        yield


def wamids(rows):
    return [row.wamid for row in rows]


def test_status_report_filters_combine(django_assert_num_queries):
    world = build_world()
    campaign = world.campaign.pk
    with django_assert_num_queries(1):
        rows = list(selectors.message_status_report(campaign_id=campaign))
        assert [row.contact.name for row in rows] == ["c3", "c2", "c1"]  # newest first
    assert wamids(rows) == ["wamid.m3", "wamid.m2", "wamid.m1"]
    failed = selectors.message_status_report(campaign_id=campaign, status=Status.FAILED)
    assert wamids(failed) == ["wamid.m3"]
    # `until` is exclusive: m5, created at 13:00, is left out.
    day = selectors.message_status_report(since=at(9), until=at(13))
    assert set(wamids(day)) == {"wamid.m1", "wamid.m2", "wamid.m3", "wamid.m4"}
    c4 = world.contacts["c4"].pk
    assert set(wamids(selectors.message_status_report(contact_id=c4))) == {"wamid.m4", "wamid.m5"}
    # An unknown phone is contact 0: no rows rather than every row.
    assert not selectors.message_status_report(contact_id=0).exists()


def test_inbound_report_filters_combine():
    world = build_world()
    assert wamids(selectors.inbound_report(type="button")) == [world.messages["i4"].wamid]
    since = selectors.inbound_report(since=at(0, day=D.replace(day=D.day + 1)))
    assert wamids(since) == [world.messages["i2"].wamid]
    c1 = world.contacts["c1"].pk
    assert len(wamids(selectors.inbound_report(contact_id=c1))) == 2
