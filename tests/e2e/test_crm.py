"""Browser tests of the crm pages: an import watched to 100%, a segment's live count, consent.

The import task must really run behind the live server. pytest-django's `live_server` serves
requests from a thread that shares the test's in-memory SQLite database, so a separate worker
process could not see the data; instead these tests switch Celery to eager mode. The upload
then goes through the real path (view -> service -> `transaction.on_commit` -> `crm.import_run`
-> the import service), run in the server thread right after the upload commits, and the page
polls its progress partial with htmx until the job reports 100%.
"""

import pytest

from crm.models import Contact, ImportJob

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def eager_celery(settings):
    from config.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = True
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def import_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMPORT_BATCH_SIZE = 25  # several batches, several checkpoints


def csv_file(tmp_path, rows=120, bad_every=10):
    path = tmp_path / "customers.csv"
    lines = ["phone,name,tags,consent"]
    for i in range(rows):
        phone = "12345" if i % bad_every == 0 else f"+9198300{i:05d}"
        lines.append(f"{phone},Customer {i},newsletter,{'opted_in' if i % 2 else 'unknown'}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_upload_a_csv_and_watch_the_import_reach_100_percent(
    make_user, page, login, live_server, screenshot, eager_celery, import_settings, tmp_path
):
    user = make_user("Campaign manager")
    login(user.username)
    page.get_by_test_id("staff-nav").get_by_role("link", name="Imports").click()
    page.get_by_role("link", name="New import").click()
    page.set_input_files("input[type=file]", str(csv_file(tmp_path)))
    page.get_by_label("Dry run").check()
    page.get_by_role("button", name="Upload").click()

    progress = page.get_by_test_id("import-progress")
    progress.get_by_test_id("progress-percent").filter(has_text="100%").wait_for()
    assert progress.get_by_test_id("import-status").inner_text() == "Completed"
    assert progress.get_by_test_id("count-created").inner_text() == "108"
    assert progress.get_by_test_id("count-errors").inner_text() == "12"
    assert page.get_by_test_id("first-errors").locator("tbody tr").count() == 12
    assert not Contact.objects.exists()  # a dry run writes no contact
    screenshot("crm-import-dry-run")

    page.get_by_test_id("run-for-real").click()
    page.wait_for_url("**/staff/imports/*/")
    page.get_by_test_id("progress-percent").filter(has_text="100%").wait_for()
    assert page.get_by_test_id("count-processed").inner_text() == "120 of 120"
    assert Contact.objects.count() == 108
    job = ImportJob.objects.get(dry_run=False)
    assert (job.status, job.checkpoint_line) == ("completed", 121)
    with page.expect_download() as download:
        page.get_by_test_id("error-report").click()
    report = download.value.path().read_text(encoding="utf-8-sig").splitlines()
    assert report[0] == "line,column,value,reason" and report[1] == "2,phone,12345,invalid phone"
    screenshot("crm-import-done")


def test_progress_polls_while_a_worker_advances_the_job(
    make_user, page, login, live_server, import_settings, tmp_path
):
    """Without eager mode the job waits for a worker; the page polls every second and shows
    each committed checkpoint. The "worker" here writes the counters as single UPDATEs (the
    live server shares this thread's in-memory database connection, so no long transaction
    may run beside its requests)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from crm.importing.jobs import import_job_create

    login(make_user("Campaign manager").username)
    job = import_job_create(
        upload=SimpleUploadedFile("c.csv", csv_file(tmp_path, rows=40).read_bytes()),
        enqueue=False,
    )
    page.goto(f"{live_server.url}/staff/imports/{job.pk}/")
    assert page.get_by_test_id("import-status").inner_text() == "Queued"
    assert page.get_by_test_id("progress-percent").inner_text() == "0%"

    jobs = ImportJob.objects.filter(pk=job.pk)
    jobs.update(status="running", total_rows=40, processed_rows=20, created_count=18,
                error_count=2)  # fmt: skip
    page.get_by_test_id("progress-percent").filter(has_text="50%").wait_for(timeout=5000)
    assert page.get_by_test_id("import-status").inner_text() == "Running"
    jobs.update(status="completed", processed_rows=40, created_count=36, error_count=4)
    page.get_by_test_id("import-status").filter(has_text="Completed").wait_for(timeout=5000)
    assert page.get_by_test_id("progress-percent").inner_text() == "100%"
    assert page.get_by_test_id("count-created").inner_text() == "36"


def test_segment_editor_shows_a_live_count(make_user, page, login, live_server, screenshot):
    from tests.factories import ContactFactory, TagFactory

    vip = TagFactory(name="vip")
    for i in range(6):
        contact = ContactFactory(consent="opted_in" if i < 4 else "opted_out")
        if i % 2 == 0:
            contact.tags.add(vip)
    login(make_user("Campaign manager").username)
    page.goto(f"{live_server.url}/staff/segments/new/")
    count = page.get_by_test_id("preview-count")
    count.filter(has_text="6").wait_for()
    page.get_by_label("Opted in").check()
    count.filter(has_text="4").wait_for()
    page.get_by_label("Tagged with any of").select_option("vip")
    count.filter(has_text="2").wait_for()
    page.get_by_label("Name").fill("VIP opted in")
    page.get_by_role("button", name="Save segment").click()
    page.get_by_test_id("segment-count").filter(has_text="2").wait_for()
    screenshot("crm-segment")


def test_change_consent_on_the_contact_page(make_user, page, login, live_server):
    from tests.factories import ContactFactory

    contact = ContactFactory(consent="unknown", name="Asha Patel")
    login(make_user("Agent").username)
    page.goto(f"{live_server.url}/staff/contacts/")
    page.get_by_role("link", name="Asha Patel").click()
    form = page.get_by_test_id("consent-form")
    form.get_by_label("Consent").select_option("opted_out")
    form.get_by_label("Reason").fill("Asked on the phone")
    form.get_by_role("button", name="Change consent").click()
    page.get_by_test_id("consent").filter(has_text="Opted out").wait_for()
    assert "Asked on the phone" in page.get_by_test_id("consent-history").inner_text()
    contact.refresh_from_db()
    assert contact.consent == "opted_out"
