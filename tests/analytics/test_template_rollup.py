"""Template analytics from the TemplateDaily rollup: the known world of test_templates.py,
rolled up, gives the same hand-counted figures, and a late receipt reaches its send day.

The world (D = 2026-03-10, now 2026-03-12 10:00 UTC): on D, order_update [en] sent a1, a2
(a4 was sent on D-1), a3 failed 131026 and a5 was refused by the policy (not a failure);
order_update [hi] sent b1, b4 (b4 then failed 131026), b2 and b3 failed 131049; promo [en]
sent p1, p2, p3 (campaign "Promo"); promo [hi] sent q1 on D-3.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from analytics.models import RollupDirtyDay, TemplateDaily
from analytics.services.rollups import analytics_rollup
from analytics.template_report import rolled_up_days, template_report
from messaging.models import Message
from tests.analytics import test_templates as known
from tests.analytics.test_templates import EXPECTED, ORDER_HI_ERRORS, D, _by_key, _figures, at

pytestmark = pytest.mark.django_db

# The same world and clock as test_templates.py.
world = known.world
_clock = known._clock

QUIET = {"log": lambda message: None, "customers": False}


def _roll_up_to_yesterday():
    analytics_rollup(days=[D - timedelta(days=n) for n in range(-1, 4)], **QUIET)
    # The world's taps marked D as changed at the frozen "now"; a run keeps marks not older
    # than its start, which with a frozen clock is every mark. Time has passed in real life.
    RollupDirtyDay.objects.all().delete()


def _row(template, day=D) -> dict:
    row = TemplateDaily.objects.get(template=template, day=day)
    return {k: getattr(row, k) for k in ("sent", "delivered", "read", "failed", "errors", "cost")}


def test_the_rollup_holds_each_send_days_figures(world):
    _roll_up_to_yesterday()
    assert _row(world["oe"]) == {"sent": 2, "delivered": 2, "read": 1, "failed": 1,
                                 "errors": {"131026": 1}, "cost": Decimal("0.2000")}  # fmt: skip
    assert _row(world["oh"]) == {"sent": 2, "delivered": 1, "read": 0, "failed": 3,
                                 "errors": {"131049": 2, "131026": 1},
                                 "cost": Decimal("0.0000")}  # fmt: skip
    assert _row(world["pe"]) == {"sent": 3, "delivered": 2, "read": 2, "failed": 0,
                                 "errors": {}, "cost": Decimal("1.5000")}  # fmt: skip
    # a4 was sent at 23:00 on D-1 (delivered on D: counted with its send day).
    assert _row(world["oe"], D - timedelta(days=1))["sent"] == 1
    assert _row(world["ph"], D - timedelta(days=3))["sent"] == 1


def test_rolled_up_days_give_the_hand_counted_figures(world):
    _roll_up_to_yesterday()
    assert rolled_up_days(D - timedelta(days=3), D + timedelta(days=2)) == {
        D - timedelta(days=n) for n in range(-1, 4)
    }  # today (D + 2) is never final
    rows = template_report(D, D)
    assert {key: _figures(row) for key, row in _by_key(rows).items()} == EXPECTED
    order_hi = _by_key(rows)[("order_update", "hi")]
    assert [(e["code"], e["count"]) for e in order_hi["errors"]] == ORDER_HI_ERRORS
    three = _by_key(template_report(D - timedelta(days=3), D + timedelta(days=2)))
    assert three[("order_update", "en")]["sent"] == 3  # a1, a2 and a4 (sent on D-1)
    assert three[("promo", "hi")]["sent"] == 1


def test_a_receipt_days_later_reaches_its_send_days_row(world):
    """a2 (sent on D) is read today: today's rollup run recomputes D's template rows."""
    _roll_up_to_yesterday()
    Message.objects.filter(wamid="wamid.a2").update(read_at=at(9, day=D + timedelta(days=2)))
    # D is final: its rollup row counts, until the run.
    assert _by_key(template_report(D, D))[("order_update", "en")]["read"] == 1
    analytics_rollup(days=[D + timedelta(days=2)], **QUIET)
    assert _row(world["oe"])["read"] == 2
    assert _by_key(template_report(D, D))[("order_update", "en")]["read"] == 2


def test_a_day_marked_changed_is_read_live(world):
    _roll_up_to_yesterday()
    Message.objects.filter(wamid="wamid.a2").update(read_at=at(9, day=D + timedelta(days=1)))
    RollupDirtyDay.objects.get_or_create(day=D)
    assert D not in rolled_up_days(D, D)
    assert _by_key(template_report(D, D))[("order_update", "en")]["read"] == 2
