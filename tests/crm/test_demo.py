import random

import pytest

from crm.demo import seed_crm
from crm.models import Advisor, ConsentEvent, Contact, ImportJob, ImportRowError, Segment
from crm.selectors import segment_count
from crm.services import phone_normalize

pytestmark = pytest.mark.django_db


def test_seed_crm_is_believable_and_idempotent(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    first = seed_crm(rng=random.Random(7))
    assert first["contacts"] == 200 and first["advisors"] == 40 and first["segments"] == 5
    assert first["shoppers"] == 400
    contacts = Contact.objects.filter(phone__in=[f"+91{9876500000 + i}" for i in range(200)])
    assert contacts.count() == 200
    everyone = Contact.objects.exclude(phone__startswith="+9198765010")  # not the import's
    assert everyone.count() == 600
    assert all(phone_normalize(c.phone) == c.phone for c in everyone)
    # The Diwali sale's shoppers: one in six abroad, where Meta's rates are higher.
    abroad = everyone.exclude(phone__startswith="+91")
    assert abroad.count() == 66
    assert {c.phone[:4] for c in abroad} == {"+971", "+447", "+121", "+659"}
    shoppers = everyone.filter(tags__name="diwali-2026", consent="opted_in").count()
    assert 300 <= shoppers <= 400
    assert set(contacts.values_list("consent", flat=True)) == {"opted_in", "opted_out", "unknown"}
    assert ConsentEvent.objects.exclude(consent="unknown").count() >= 100
    assert Advisor.objects.filter(is_active=False).exclude(disabled_reason="").count() == 4
    assert Advisor.objects.values("region").distinct().count() >= 4
    job = ImportJob.objects.get(pk=first["import_job"])
    assert job.status == "completed" and job.error_count == 3
    assert sorted(ImportRowError.objects.filter(job=job).values_list("line", flat=True)) == [
        6, 13, 19,
    ]  # fmt: skip
    assert all(segment_count(s) > 0 for s in Segment.objects.all())

    counts = (Contact.objects.count(), ConsentEvent.objects.count(), Advisor.objects.count())
    second = seed_crm(rng=random.Random(7))
    assert second == {
        "contacts": 0,
        "shoppers": 0,
        "advisors": 0,
        "segments": 0,
        "import_job": None,
    }
    assert counts == (
        Contact.objects.count(), ConsentEvent.objects.count(), Advisor.objects.count(),
    )  # fmt: skip
