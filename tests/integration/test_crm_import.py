"""A contact import run by a real Celery worker on PostgreSQL, killed halfway (SIGKILL), then
resumed by a new worker through the stale-job sweeper: no duplicate contacts, counters
consistent with the file, no error row or consent event written twice."""

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from crm.importing.jobs import import_job_create, import_jobs_resume_stale
from crm.models import ConsentEvent, Contact, ImportJob, ImportRowError
from tests.integration.conftest import wait_for

ROWS = 20_000


@pytest.fixture
def import_env(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMPORT_STALE_SECONDS = 2
    return {
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "IMPORT_BATCH_SIZE": 100,
        "IMPORT_STALE_SECONDS": 2,
    }


def make_file() -> tuple[bytes, int, int]:
    lines = ["phone,name,consent,tags"]
    bad = opted_in = 0
    for i in range(ROWS):
        if i % 50 == 7:  # 2% bad rows
            lines.append(f"not-a-phone-{i},Bad {i},opted_in,x")
            bad += 1
            continue
        consent = "opted_in" if i % 3 == 0 else ""
        opted_in += bool(consent)
        lines.append(f"+9197{i:08d},Person {i},{consent},t{i % 7}")
    return ("\n".join(lines) + "\n").encode(), bad, opted_in


def test_import_killed_halfway_resumes_without_duplicates(celery_worker, import_env):
    data, bad, opted_in = make_file()
    victim = celery_worker("import-victim", queues="default", concurrency=1, **import_env)
    job = import_job_create(upload=SimpleUploadedFile("big.csv", data))  # queued on commit

    wait_for(lambda: ImportJob.objects.get(pk=job.pk).processed_rows >= 3_000, timeout=60)
    victim.kill()  # SIGKILL: no cleanup; the batch in flight is rolled back by PostgreSQL
    job.refresh_from_db()
    assert job.status == "running"
    assert 3_000 <= job.processed_rows < ROWS, "the worker finished before it could be killed"
    killed_at = job.processed_rows
    assert Contact.objects.count() == job.created_count  # checkpoint and rows agree

    celery_worker("import-rescuer", queues="default", concurrency=1, **import_env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status == "completed":
            break
        import_jobs_resume_stale()  # what beat runs every minute
        time.sleep(0.5)
    assert job.status == "completed", (job.status, job.processed_rows, job.message)

    good = ROWS - bad
    assert job.attempts >= 2 and job.processed_rows > killed_at
    assert (job.total_rows, job.processed_rows) == (ROWS, ROWS)
    assert (job.created_count, job.updated_count, job.error_count) == (good, 0, bad)
    assert job.created_count + job.updated_count + job.skipped_count + job.error_count == ROWS
    assert Contact.objects.count() == good
    assert Contact.objects.values("phone").distinct().count() == good
    assert ImportRowError.objects.filter(job=job).count() == bad
    assert ImportRowError.objects.filter(job=job).values("line").distinct().count() == bad
    assert ConsentEvent.objects.filter(source="import").count() == opted_in
    assert Contact.objects.filter(consent="opted_in").count() == opted_in
