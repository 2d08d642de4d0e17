"""core.bulk: set-based writes, on SQLite here and on PostgreSQL in the proofs (Makefile
POSTGRES_PROOFS), where values travel as typed arrays and skip the ORM's preparation."""

import datetime as dt
import warnings
from decimal import Decimal

import pytest
from django.utils import timezone

from core.bulk import insert_ignoring_conflicts, update_from_values
from messaging.models import Message, MessageStatusEvent
from tests.factories import MessageFactory

pytestmark = pytest.mark.django_db
FIELDS = (
    "wamid",
    "status",
    "timestamp",
    "callback_data",
    "errors",
    "raw",
    "applied",
    "message",
    "created_at",
)
AT = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)


def row(wamid, status="sent", **values):
    return {
        "wamid": wamid,
        "status": status,
        "timestamp": AT,
        "callback_data": "",
        "errors": [],
        "raw": {"id": wamid, "n": 1},
        "applied": False,
        "message": None,
        "created_at": AT,
        **values,
    }


def test_insert_returns_only_the_rows_it_inserted_converted_as_the_orm_reads_them():
    insert_ignoring_conflicts(MessageStatusEvent, [row("w1")], fields=FIELDS)
    returned = insert_ignoring_conflicts(
        MessageStatusEvent,
        [row("w1"), row("w2"), row("w2", "read")],
        fields=FIELDS,
        returning=("wamid", "status", "timestamp", "raw"),
    )
    assert sorted(returned) == [
        ("w2", "read", AT, {"id": "w2", "n": 1}),
        ("w2", "sent", AT, {"id": "w2", "n": 1}),
    ]
    assert MessageStatusEvent.objects.count() == 3


def test_insert_without_returning_counts_and_an_empty_batch_is_nothing():
    assert insert_ignoring_conflicts(MessageStatusEvent, [row("w1"), row("w1")], fields=FIELDS) == 1
    assert insert_ignoring_conflicts(MessageStatusEvent, [], fields=FIELDS) == 0
    assert insert_ignoring_conflicts(MessageStatusEvent, [], fields=FIELDS, returning=("id",)) == []


def test_values_the_orm_would_convert_are_still_converted():
    """Only values a column takes as they are skip `get_db_prep_save`: a digit string for an
    integer column, a float for a decimal and a naive datetime go through it."""
    message = MessageFactory()
    naive = dt.datetime(2026, 12, 1, 9, 30)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        changed = update_from_values(
            Message,
            [(message.pk, {"attempts": "7", "cost": 0.25, "sent_at": naive})],
            fields=("attempts", "cost", "sent_at"),
        )
    assert changed == 1
    assert any("naive datetime" in str(w.message) for w in caught)
    message.refresh_from_db()
    assert message.attempts == 7
    assert message.cost == Decimal("0.25")
    assert message.sent_at == timezone.make_aware(naive)


def test_values_taken_as_they_are_round_trip():
    message = MessageFactory()
    update_from_values(
        Message,
        [(message.pk, {"attempts": 3, "cost": Decimal("1.5"), "sent_at": AT, "billable": True,
                       "pricing": {"category": "utility"}, "error_title": "x"})],
        fields=("attempts", "cost", "sent_at", "billable", "pricing", "error_title"),
    )  # fmt: skip
    message.refresh_from_db()
    assert (message.attempts, message.cost, message.sent_at, message.billable) == (
        3, Decimal("1.5"), AT, True,
    )  # fmt: skip
    assert (message.pricing, message.error_title) == ({"category": "utility"}, "x")
