"""core.params: query values read safely, or a QueryParamError (a 400)."""

from datetime import UTC, date, datetime

import pytest

from core.params import (
    DATE_MAX,
    DATE_MIN,
    QueryParamError,
    query_date,
    query_date_or_none,
    query_id,
    query_int,
    query_moment,
    query_text,
)


def test_text():
    assert query_text("  tea  ", name="q") == "tea"
    assert query_text(None, name="q") == ""
    with pytest.raises(QueryParamError, match="NUL"):
        query_text("a\x00b", name="q")
    with pytest.raises(QueryParamError, match="at most"):
        query_text("x" * 501, name="q")


@pytest.mark.parametrize("raw", ["9" * 30, "-" + "9" * 30, "1e3", "1.5", "abc", "0", "-1"])
def test_ids_refuse_what_no_row_has(raw):
    with pytest.raises(QueryParamError) as caught:
        query_id(raw, name="campaign")
    assert caught.value.details == {"campaign": [caught.value.details["campaign"][0]]}


def test_ints():
    assert query_id("42", name="x") == 42
    assert query_id("", name="x") is None
    assert query_int("-5", name="x") == -5
    assert query_int(str(2**63 - 1), name="x") == 2**63 - 1
    with pytest.raises(QueryParamError):
        query_int(str(2**63), name="x")


@pytest.mark.parametrize("raw", ["0001-01-01", "9999-12-31", "1899-12-31", "3000-01-01"])
def test_dates_at_the_calendars_edges_are_refused(raw):
    with pytest.raises(QueryParamError, match="dates run from"):
        query_date(raw, name="date_from")
    with pytest.raises(QueryParamError, match="dates run from"):
        query_moment(raw, name="date_from")
    assert query_date_or_none(raw) is None


def test_dates_and_moments():
    assert query_date("2026-03-01", name="d") == date(2026, 3, 1)
    assert query_date(str(DATE_MIN), name="d") == DATE_MIN
    assert query_date(str(DATE_MAX), name="d") == DATE_MAX
    for bad in ("2026-02-30", "yesterday", "2026-3-1x"):
        with pytest.raises(QueryParamError):
            query_date(bad, name="d")
    assert query_moment("2026-03-01T10:00:00+05:30", name="m") == datetime(
        2026, 3, 1, 4, 30, tzinfo=UTC
    )
    with pytest.raises(QueryParamError, match="time zone"):
        query_moment("2026-03-01T10:00:00", name="m")
    with pytest.raises(QueryParamError):
        query_moment("9999-12-31T23:59:59-12:00", name="m")


@pytest.mark.django_db
def test_a_nul_in_any_query_value_is_a_400_everywhere(client, make_user):
    client.force_login(make_user("Admin"))
    page = client.get("/staff/contacts/", {"q": "a\x00b"})
    assert page.status_code == 400
    api = client.get("/api/v1/contacts/", {"search": "\x00"})
    assert api.status_code == 400
    assert api.json()["error"]["code"] == "invalid_parameter"
    assert client.get("/staff/contacts/", {"q": "tea"}).status_code == 200


def test_periods_cut_dates_in_the_given_zone_and_refuse_what_cannot_be():
    from zoneinfo import ZoneInfo

    from core.params import query_bound, query_period

    kolkata = ZoneInfo("Asia/Kolkata")
    start, end = query_period({"from": "2026-03-01", "to": "2026-03-02"}, tz=kolkata)
    assert start == datetime(2026, 3, 1, tzinfo=kolkata)
    assert end == datetime(2026, 3, 3, tzinfo=kolkata)  # `to` is a whole day, included
    at = datetime(2026, 3, 5, 8, tzinfo=UTC)
    assert query_bound("2026-03-05T08:00:00Z", name="to", tz=kolkata, end=True) == at
    now = datetime(2026, 3, 10, tzinfo=UTC)
    assert query_period({}, tz=kolkata, now=now, default_days=7) == (
        datetime(2026, 3, 3, tzinfo=UTC),
        now,
    )
    for params, name in (
        ({"from": "2026-03-02", "to": "2026-03-01"}, "to"),
        ({"from": "2026-01-01", "to": "2026-12-31"}, "to"),
        ({"from": "2026-02-30"}, "from"),
    ):
        with pytest.raises(QueryParamError) as error:
            query_period(params, tz=kolkata, max_days=90)
        assert name in error.value.details
