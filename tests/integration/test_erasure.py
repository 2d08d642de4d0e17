"""Erasure on PostgreSQL: consent events refuse UPDATE, DELETE and TRUNCATE from any path;
an erased contact's number that opted out stays opted out when a real worker processes its
next message (simulator -> signed webhook -> live server -> Celery worker) and when a file
re-imports it (the COPY path of the import writer)."""

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction

from crm.importing.jobs import import_job_create, import_job_run
from crm.models import Consent, ConsentEvent, ConsentEventImmutable, Contact
from crm.services import consent_set, contact_erase
from messaging.models import Message
from tests.integration.conftest import wait_for

# `sim` (the simulator), the live server it posts to and `sim_channel` come from conftest.

PHONE = "+919812345678"


def _inbound(sim, text: str) -> Message:
    response = requests.post(
        sim.url + "/_sim/inbound",
        json={"from": PHONE.lstrip("+"), "text": text, "profile_name": "Asha"},
        timeout=5,
    )
    wamid = response.json()["wamid"]
    return wait_for(
        lambda: Message.objects.filter(wamid=wamid).select_related("contact").first(), timeout=30
    )


def test_erased_number_stays_opted_out_through_the_webhook_and_import(
    sim,
    sim_channel,
    celery_worker,
    settings,
    tmp_path,
):
    settings.MEDIA_ROOT = tmp_path / "media"
    celery_worker("erasure-hooks", queues="webhooks", concurrency=1)
    stop = _inbound(sim, "STOP")
    first = stop.contact
    assert first.consent == Consent.OPTED_OUT

    contact_erase(contact=first)
    first.refresh_from_db()
    assert first.phone is None and first.erased_at is not None
    assert ConsentEvent.objects.filter(contact=first, consent=Consent.OPTED_OUT).exists()
    assert Message.objects.get(pk=stop.pk).content == {}

    hello = _inbound(sim, "hello again")
    back = hello.contact
    assert back.pk != first.pk and back.wa_id == PHONE.lstrip("+")
    assert back.consent == Consent.OPTED_OUT
    assert f"erased contact #{first.pk}" in ConsentEvent.objects.get(contact=back).note

    # The same number erased again, then re-imported by a file (PostgreSQL's COPY path).
    contact_erase(contact=back)
    csv = f"phone,name,consent\n{PHONE},Asha,opted_in\n+919812345679,Ravi,opted_in\n"
    job = import_job_create(upload=SimpleUploadedFile("again.csv", csv.encode()), enqueue=False)
    import_job_run(job_id=job.pk)
    imported = Contact.objects.get(phone=PHONE)
    assert imported.consent == Consent.OPTED_OUT
    assert Contact.objects.get(phone="+919812345679").consent == Consent.OPTED_IN
    event = ConsentEvent.objects.get(contact=imported)
    assert f"erased contact #{back.pk}" in event.note


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE crm_consentevent SET consent = 'opted_in'",
        "DELETE FROM crm_consentevent",
        "TRUNCATE crm_consentevent",
        "TRUNCATE crm_contact CASCADE",
    ],
)
def test_postgres_refuses_changing_consent_events(transactional_db, sql):
    contact = Contact.objects.create(phone=PHONE)
    consent_set(contact=contact, consent=Consent.OPTED_OUT, source="keyword")
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    with pytest.raises(ConsentEventImmutable):
        ConsentEvent.objects.all().update(consent=Consent.OPTED_IN)
    assert ConsentEvent.objects.get().consent == Consent.OPTED_OUT
