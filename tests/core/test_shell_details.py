"""The staff shell's small things: one way to write dates, the icon, what an empty list says."""

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.http import QueryDict
from django.template import Context, Template
from django.test import RequestFactory
from django.utils import timezone

from core.templatetags.staff_tags import list_filtered

pytestmark = pytest.mark.django_db

TEMPLATES = Path(settings.BASE_DIR) / "templates"
MOMENT = datetime(2026, 12, 5, 14, 5, 9, tzinfo=UTC)


def _render(source: str, **context) -> str:
    return Template(source).render(Context(context))


# --- Dates -------------------------------------------------------------------------------------


def test_dates_and_times_read_the_same_everywhere(settings):
    settings.TIME_ZONE = "UTC"
    with timezone.override("UTC"):
        assert _render("{{ m }}", m=MOMENT) == "5 Dec 2026, 14:05"
        assert _render('{{ m|date:"DATETIME_FORMAT" }}', m=MOMENT) == "5 Dec 2026, 14:05"
        assert _render("{{ m|date }}", m=MOMENT) == "5 Dec 2026"
        assert _render("{{ d }}", d=date(2026, 12, 5)) == "5 Dec 2026"
        assert _render('{{ m|time:"TIME_FORMAT" }}', m=MOMENT) == "14:05:09"


def test_times_are_shown_in_the_business_time_zone(settings):
    with timezone.override("Asia/Kolkata"):
        assert _render("{{ m }}", m=MOMENT) == "5 Dec 2026, 19:35"


def test_forms_still_read_iso_dates():
    from django import forms

    class F(forms.Form):
        day = forms.DateField()
        at = forms.DateTimeField()

    form = F({"day": "2026-12-05", "at": "2026-12-05 14:05"})
    assert form.is_valid(), form.errors


# A template writes a date through the named formats only; a literal format is allowed where a
# machine reads it (an <input type=date> value, a <time datetime=...>, a data- attribute), or
# for the time zone's abbreviation.
_DATE_FILTER = re.compile(r"""\|(date|time):(["'])([^"']*)\2""")
_NAMED = {"DATE_FORMAT", "DATETIME_FORMAT", "TIME_FORMAT", "SHORT_DATE_FORMAT", "T"}
_MACHINE = {"c", "Y-m-d", "U"}


def test_no_staff_template_spells_out_its_own_date_format():
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        for match in _DATE_FILTER.finditer(text):
            fmt = match.group(3)
            if fmt in _NAMED:
                continue
            attribute = re.search(r'(value|datetime|data-[\w-]+)="[^"]*$', text[: match.start()])
            if fmt in _MACHINE and attribute:
                continue
            line = text.count("\n", 0, match.start()) + 1
            offenders.append(f"{path.relative_to(TEMPLATES)}:{line} {match.group(0)}")
    assert not offenders, "use the named formats (config/formats):\n" + "\n".join(offenders)


def test_chart_axes_and_ranges_use_the_same_day_format():
    from analytics.charts import day_label
    from analytics.selectors import DateRange

    assert day_label(date(2026, 12, 5)) == "5 Dec"
    rng = DateRange(key="custom", first=date(2026, 11, 6), last=date(2026, 12, 5))
    assert rng.label == "6 Nov 2026 to 5 Dec 2026"


# --- The icon ----------------------------------------------------------------------------------


def test_pages_link_the_icon_and_favicon_ico_finds_it(client, make_user):
    login = client.get("/accounts/login/").content.decode()
    assert 'rel="icon"' in login and "favicon.svg" in login
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].endswith("favicon.ico") and "/static/" in response["Location"]
    assert "max-age=86400" in response["Cache-Control"]
    client.force_login(make_user("Admin"))
    assert "favicon.svg" in client.get("/staff/").content.decode()
    assert "favicon.svg" in client.get("/admin/").content.decode()


def test_the_icon_files_are_real_images():
    static = Path(settings.BASE_DIR) / "static"
    assert (static / "favicon.svg").read_text().lstrip().startswith("<svg")
    ico = (static / "favicon.ico").read_bytes()
    assert ico[:4] == b"\x00\x00\x01\x00"  # an ICO header
    assert ico.count(b"\x89PNG") == 3  # 16, 32 and 48 px


# --- Icons, not emoji --------------------------------------------------------------------------

# Pictographs (U+1F000 and up) need an emoji font, which many servers' and some staff machines'
# browsers lack: they render as an empty box. Staff pages draw icons inline instead.
_PICTOGRAPH = re.compile("[\U0001f000-\U0001faff]")


def test_staff_pages_draw_icons_instead_of_emoji():
    sources = [*TEMPLATES.rglob("*.html"), *Path(settings.BASE_DIR).glob("*/templatetags/*.py")]
    offenders = [
        f"{path.name}: {match.group(0)}"
        for path in sources
        for match in _PICTOGRAPH.finditer(path.read_text())
    ]
    assert not offenders, offenders


def test_a_pinned_contact_shows_a_drawn_pin():
    html = _render('{% include "staff/_icon.html" with name="pin" label="Pinned" %}')
    assert html.startswith("<svg") and 'aria-label="Pinned"' in html and "<path" in html


# --- Empty lists -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "ignore", "filtered"),
    [
        ("", set(), False),
        ("page=2", set(), False),
        ("q=&state=", set(), False),
        ("q=%20%20", set(), False),
        ("q=diwali", set(), True),
        ("state=draft&page=3", set(), True),
        ("tag=a&tag=", set(), True),
        ("kind=webhooks", {"kind"}, False),
        ("kind=webhooks&q=x", {"kind"}, True),
    ],
)
def test_a_list_counts_as_filtered_only_when_something_narrows_it(query, ignore, filtered):
    assert list_filtered(QueryDict(query), ignore=ignore) is filtered


def _empty(path: str, plural: str, ignore: str = "") -> str:
    request = RequestFactory().get(path)
    source = "{% load staff_tags %}{% empty_results plural ignore=ignore %}"
    return _render(source, request=request, plural=plural, ignore=ignore)


def test_an_empty_list_says_whether_a_search_found_nothing():
    assert "No campaigns yet." in _empty("/staff/campaigns/", "campaigns")
    found = _empty("/staff/campaigns/?q=zzz&state=draft", "campaigns")
    assert "No campaigns match your search." in found
    assert '<a href="/staff/campaigns/">Clear filters</a>' in found
    tab = _empty("/staff/operations/errors/?kind=jobs&q=zzz", "failed jobs", ignore="kind")
    assert "No failed jobs match your search." in tab
    assert 'href="/staff/operations/errors/?kind=jobs"' in tab


@pytest.mark.parametrize(
    ("url", "plural", "role", "search"),
    [
        ("/staff/campaigns/", "campaigns", "Campaign manager", "q"),
        ("/staff/content/", "content items", "Campaign manager", "q"),
        ("/staff/contacts/", "contacts", "Campaign manager", "q"),
        ("/staff/advisors/", "advisors", "Campaign manager", "q"),
        ("/staff/notifications/", "notifications", "Campaign manager", "q"),
        ("/staff/audit/", "audit events", "Admin", "actor"),
    ],
)
def test_list_pages_tell_an_empty_search_from_an_empty_list(
    client, make_user, url, plural, role, search
):
    client.force_login(make_user(role))
    nothing = client.get(url).content.decode()
    searched = client.get(url, {search: "no-such-thing-zzz"}).content.decode()
    assert f"No {plural} match your search." in searched
    assert f'<a href="{url}">Clear filters</a>' in searched
    if url != "/staff/audit/":  # signing in was audited: that list is never empty
        assert f"No {plural} yet." in nothing
