"""Exports: streamed CSV, every cell safe against formula injection, phones kept usable."""

import csv
import io

import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from core.csv_safe import FORMULA_STARTS, SEPARATORS, csv_safe_cell, csv_stream
from tests.factories import AttributeDefinitionFactory, ContactFactory, SegmentFactory, TagFactory


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=cmd", "'\t'=cmd"),  # a tab is a separator too
        ("\r=cmd", "'\r=cmd"),
        ("  =1", "'  =1"),
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("Asha", "Asha"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (12, "12"),
        (-5, "'-5"),
        (True, "true"),
    ],
)
def test_cells(value, expected):
    assert csv_safe_cell(value) == expected


def test_phones_stay_usable_only_in_the_phone_column():
    assert csv_safe_cell("+919812345678", phone=True) == "+919812345678"
    assert csv_safe_cell("+919812345678") == "'+919812345678"
    assert csv_safe_cell("+91 98123 45678", phone=True) == "'+91 98123 45678"
    assert csv_safe_cell("+1+1", phone=True) == "'+1+1"
    assert csv_safe_cell("=1+1", phone=True) == "'=1+1"


@given(st.text())
def test_no_cell_ever_starts_a_formula(text):
    cell = csv_safe_cell(text)
    assert not cell.lstrip(' "').startswith(FORMULA_STARTS)
    assert cell.replace("'", "") == text.replace("'", "")  # only quotes are added


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("x;=1+1", "x;'=1+1"),
        ("x,=1+1", "x,'=1+1"),
        ("x\t=1+1", "x\t'=1+1"),
        ("x|=1+1", "x|'=1+1"),
        ('x; "=HYPERLINK(1)', "x; \"'=HYPERLINK(1)"),
        ("a;b;@SUM(A1)", "a;b;'@SUM(A1)"),
        ("=1;=2", "'=1;'=2"),
        ("Mumbai, South", "Mumbai, South"),
        ("a - b", "a - b"),
    ],
)
def test_a_formula_after_a_separator_is_neutralised(value, expected):
    """Regression: `x;=1+1` passed the guard and ran in spreadsheets that split on `;`."""
    assert csv_safe_cell(value) == expected


@given(st.text(alphabet=st.sampled_from("x ;,\t|\"=+-@'1")))
def test_no_part_of_a_cell_split_on_any_separator_starts_a_formula(text):
    cell = csv_safe_cell(text)
    for separator in SEPARATORS:
        for part in cell.split(separator):
            assert not part.lstrip(' "\t').startswith(("=", "+", "-", "@", "\r")), (cell, part)


def read(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


@pytest.mark.django_db
def test_contact_export_is_streamed_and_escaped(client, make_user):
    AttributeDefinitionFactory(key="note", type="text")
    evil = ContactFactory(
        phone="+919812345678", name='=HYPERLINK("http://evil")', attributes={"note": "@x"}
    )
    evil.tags.add(TagFactory(name="-vip"))
    ContactFactory(phone="+919812345679", name="Ravi", consent="opted_out")
    client.force_login(make_user("Analyst"))
    response = client.get(reverse("crm:contact_export"))
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = read(response)
    assert [r["phone"] for r in rows] == ["+919812345678", "+919812345679"]
    assert rows[0]["name"] == '\'=HYPERLINK("http://evil")'
    assert rows[0]["attr:note"] == "'@x" and rows[0]["tags"] == "'-vip"

    filtered = read(client.get(reverse("crm:contact_export"), {"consent": "opted_out"}))
    assert [r["name"] for r in filtered] == ["Ravi"]


@pytest.mark.django_db
def test_segment_export(client, make_user):
    ContactFactory(name="In", consent="opted_in")
    ContactFactory(name="Out", consent="opted_out")
    segment = SegmentFactory(filter={"consent": ["opted_in"]})
    client.force_login(make_user("Analyst"))
    rows = read(client.get(reverse("crm:segment_export", args=[segment.pk])))
    assert [r["name"] for r in rows] == ["In"]


@pytest.mark.django_db
def test_export_query_count_does_not_grow_with_rows(
    client, make_user, django_assert_max_num_queries
):
    for _ in range(30):
        ContactFactory().tags.add(TagFactory(name="vip"))
    client.force_login(make_user("Analyst"))
    with django_assert_max_num_queries(10):
        rows = read(client.get(reverse("crm:contact_export")))
    assert len(rows) == 30


def test_csv_stream_writes_a_bom_and_escapes_the_header():
    lines = list(csv_stream(["=a", "phone"], [["=b", "+919812345678"]], phone_columns=[1]))
    assert lines[0] == "\ufeff'=a,phone\r\n"
    assert lines[1] == "'=b,+919812345678\r\n"
