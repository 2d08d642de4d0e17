"""The staff shell's small things: one way to write dates, the icon, what an empty list says."""

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.template import Context, Template
from django.utils import timezone

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
