"""Imports: good and bad rows with exact line numbers, upserts, dry runs, crash and resume."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from crm.importing import writer
from crm.importing.jobs import (
    import_job_create,
    import_job_from_dry_run,
    import_job_resume,
    import_job_run,
    import_jobs_resume_stale,
)
from crm.importing.readers import FileRefused
from crm.models import (
    Advisor,
    ConsentEvent,
    Contact,
    ImportJob,
    ImportRowError,
    ImportStatus,
)
from crm.services import consent_set
from tests.crm.conftest import upload
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

MIXED = (
    "phone,name,tags,consent,language,attr:city,lifetime_orders,plan,notes\n"  # line 1
    "+919812345678,Asha Patel,vip;newsletter,opted_in,en,Pune,12,pro,x\n"  # 2 good
    "not-a-phone,Bad Phone,,,,,,,\n"  # 3 invalid phone
    "09876543210,Ravi Kumar,newsletter|diwali-2026,no,hi,Delhi,3,free,\n"  # 4 good (national)
    "+919811111111,Meera,,maybe,,,,,\n"  # 5 bad consent
    "\n"  # 6 blank: not a row
    "+919822222222,Arjun,,,,,many,,\n"  # 7 wrong type (number)
    '+919833333333,"Priya ""P"" Nair",,,,"Navi\nMumbai",,plus,\n'  # 8-9 good, quoted newline
    "+919844444444,Kabir,,,,,,gold,\n"  # 10 bad choice
    "+919812345678,Asha P.,churn-risk,,,,,,\n"  # 11 good: same phone again (update)
)


def run(job, **kwargs):
    return import_job_run(job_id=job.pk, **kwargs)


def create(name, content, **kwargs):
    return import_job_create(upload=upload(name, content), **kwargs)


def errors_by_line(job):
    return {e.line: e.reason for e in ImportRowError.objects.filter(job=job).order_by("line")}


def test_a_mixed_file_imports_the_good_rows_and_reports_each_bad_line(definitions):
    job = create("contacts.csv", MIXED)
    assert job.format == "csv" and job.status == ImportStatus.PENDING
    assert job.columns["attr:city"] == "attr:city"
    assert job.columns["lifetime_orders"] == "attr:lifetime_orders"
    assert job.ignored_columns == ["notes"]

    job = run(job)

    assert job.status == ImportStatus.COMPLETED
    assert job.progress_percent == 100
    assert errors_by_line(job) == {
        3: "invalid phone",
        5: "bad consent value",
        7: "wrong type for lifetime_orders: expected a number",
        10: "wrong type for plan: not one of the choices (free, plus, pro)",
    }
    assert (job.total_rows, job.processed_rows) == (8, 8)
    assert (job.created_count, job.updated_count, job.skipped_count, job.error_count) == (
        3, 1, 0, 4,
    )  # fmt: skip
    asha = Contact.objects.get(phone="+919812345678")
    assert asha.name == "Asha P."  # the later row wins
    assert sorted(asha.tags.values_list("name", flat=True)) == ["churn-risk", "newsletter", "vip"]
    assert asha.attributes == {"city": "Pune", "lifetime_orders": 12, "plan": "pro"}
    assert asha.consent == "opted_in"
    ravi = Contact.objects.get(phone="+919876543210")
    assert ravi.consent == "opted_out" and ravi.language == "hi"
    priya = Contact.objects.get(phone="+919833333333")
    assert priya.name == 'Priya "P" Nair'
    assert priya.attributes == {"city": "Navi\nMumbai", "plan": "plus"}
    assert Contact.objects.count() == 3


def test_import_consent_changes_leave_consent_events_with_source_import(definitions):
    existing = ContactFactory(phone="+919876543210", consent="unknown")
    job = run(create("c.csv", MIXED))
    events = ConsentEvent.objects.filter(source="import")
    assert {(e.contact.phone, e.previous, e.consent) for e in events} == {
        ("+919812345678", "unknown", "opted_in"),
        (existing.phone, "unknown", "opted_out"),
    }
    assert all(e.note == f"import job #{job.pk}" for e in events)
    existing.refresh_from_db()
    assert existing.consent_updated_at is not None


def test_rerunning_the_same_file_changes_nothing_and_duplicates_nothing(definitions):
    run(create("c.csv", MIXED))
    events = ConsentEvent.objects.count()
    again = run(create("c.csv", MIXED))
    assert Contact.objects.count() == 3
    assert ConsentEvent.objects.count() == events
    # Rows apply in file order: Asha's two rows rename her and back (2 updates, net nothing
    # written); Ravi's and Priya's rows change nothing.
    assert (again.created_count, again.updated_count, again.skipped_count) == (0, 2, 2)
    assert again.error_count == 4


def test_upsert_merges_into_existing_contacts(definitions):
    contact = ContactFactory(phone="+919812345678", name="Old", consent="opted_out",
                             attributes={"city": "Goa", "plan": "free"})  # fmt: skip
    contact.tags.create(name="old-tag")
    job = run(create("c.csv", "phone,tags,attr:city\n+919812345678,new-tag,Pune\n"))
    contact.refresh_from_db()
    assert (job.created_count, job.updated_count) == (0, 1)
    assert contact.name == "Old"  # no name column: unchanged
    assert contact.consent == "opted_out"  # no consent column: unchanged
    assert contact.attributes == {"city": "Pune", "plan": "free"}
    assert set(contact.tags.values_list("name", flat=True)) == {"old-tag", "new-tag"}


def test_unknown_attribute_columns_are_row_errors(definitions):
    job = run(create("c.csv", "phone,attr:shoe_size\n+919812345678,42\n+919812345679,\n"))
    assert errors_by_line(job) == {2: "unknown attribute 'shoe_size'"}
    assert job.created_count == 1


def test_dry_run_counts_without_writing(definitions):
    ContactFactory(phone="+919876543210")
    before = Contact.objects.count()
    job = run(create("c.csv", MIXED, dry_run=True))
    assert job.status == ImportStatus.COMPLETED
    assert Contact.objects.count() == before
    assert not ConsentEvent.objects.filter(source="import").exists()
    assert (job.created_count, job.updated_count, job.error_count) == (2, 2, 4)
    assert len(errors_by_line(job)) == 4

    real = import_job_from_dry_run(job=job)
    assert real.file.name == job.file.name and not real.dry_run and real.source_job == job
    real = run(real)
    assert (real.created_count, real.updated_count) == (2, 2)
    assert Contact.objects.count() == before + 2


def test_crash_after_n_batches_then_resume_without_duplicates(definitions, settings, monkeypatch):
    settings.IMPORT_BATCH_SIZE = 10
    lines = ["phone,name,consent,tags"]
    for i in range(95):
        phone = "oops" if i % 10 == 3 else f"+9198100{i:05d}"
        lines.append(f"{phone},Person {i},{'opted_in' if i % 2 else ''},t{i % 3}")
    job = create("big.csv", "\n".join(lines) + "\n")

    real_apply, calls = writer.batch_apply, {"n": 0}

    def crashing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("worker died")
        return real_apply(*args, **kwargs)

    monkeypatch.setattr("crm.importing.jobs.batch_apply", crashing)
    with pytest.raises(RuntimeError):
        run(job)
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED and "worker died" in job.message
    assert job.processed_rows == 30  # three batches committed, the fourth rolled back
    assert job.checkpoint_line == 31
    assert Contact.objects.count() == 27
    assert ImportRowError.objects.filter(job=job).count() == 3

    monkeypatch.setattr("crm.importing.jobs.batch_apply", real_apply)
    job = import_job_resume(job=job)
    job = run(job)
    assert job.status == ImportStatus.COMPLETED
    good = 95 - 10
    assert Contact.objects.count() == good
    assert (job.processed_rows, job.total_rows) == (95, 95)
    assert job.created_count == good and job.error_count == 10
    assert job.created_count + job.updated_count + job.skipped_count + job.error_count == 95
    assert ImportRowError.objects.filter(job=job).count() == 10
    assert sorted(errors_by_line(job)) == [i + 2 for i in range(95) if i % 10 == 3]
    opted_in = Contact.objects.filter(consent="opted_in").count()
    assert ConsentEvent.objects.filter(source="import").count() == opted_in


def test_time_sliced_runs_continue_from_the_checkpoint(definitions, settings):
    settings.IMPORT_BATCH_SIZE = 2
    content = "phone\n" + "".join(f"+9198200{i:05d}\n" for i in range(7))
    job = create("c.csv", content)
    job = run(job, max_batches=1)
    assert job.status == ImportStatus.PENDING and job.processed_rows == 2
    job = run(job, max_batches=2)
    assert job.processed_rows == 6
    job = run(job)
    assert job.status == ImportStatus.COMPLETED and job.created_count == 7


def test_a_running_job_is_not_claimed_twice_and_stale_ones_are_swept(
    definitions, settings, django_capture_on_commit_callbacks
):
    job = create("c.csv", "phone\n+919812345678\n")
    ImportJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=job.created_at)
    settings.IMPORT_STALE_SECONDS = 10**6
    assert run(job) is None  # someone else holds it
    assert import_jobs_resume_stale() == []
    settings.IMPORT_STALE_SECONDS = 0
    with django_capture_on_commit_callbacks() as callbacks:
        assert import_jobs_resume_stale() == [job.pk]
    assert len(callbacks) == 1
    assert run(job).status == ImportStatus.COMPLETED


def test_advisor_import(definitions):
    content = (
        "phone,name,firm,region,tier,content_preferences\n"
        "+919812345678,Asha,Acme Wealth,West,gold,markets;tax\n"
        "+919812345679,Ravi,Acme Wealth,North,platinum,\n"
    )
    job = run(create("advisors.csv", content, as_advisors=True))
    assert errors_by_line(job) == {3: "not a tier: 'platinum' (use gold, silver, bronze)"}
    advisor = Advisor.objects.get(contact__phone="+919812345678")
    assert (advisor.firm, advisor.region, advisor.tier) == ("Acme Wealth", "West", "gold")
    assert advisor.content_preferences == ["markets", "tax"] and advisor.is_active
    advisor.is_active = False
    advisor.save()
    job = run(create("advisors.csv", "phone,tier\n+919812345678,silver\n", as_advisors=True))
    advisor.refresh_from_db()
    assert advisor.tier == "silver" and advisor.firm == "Acme Wealth"
    assert not advisor.is_active  # an import never re-enables a disabled advisor


def test_advisor_columns_are_ignored_without_the_advisor_flag(definitions):
    job = run(create("c.csv", "phone,firm\n+919812345678,Acme\n"))
    assert job.ignored_columns == ["firm"]
    assert not Advisor.objects.exists()


def test_json_array_and_json_lines(definitions):
    records = [
        {"phone": "+919812345678", "name": "Asha", "tags": ["vip"],
         "attributes": {"city": "Pune", "lifetime_orders": 4}, "consent": "opted_in"},
        {"phone": "12", "name": "Bad"},
        {"phone": "+919812345679", "attributes": {"nope": 1}},
        {"phone": "+919812345680", "vip": True},
    ]  # fmt: skip
    text = "[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n"
    job = run(create("c.json", text))
    assert job.format == "json"
    assert errors_by_line(job) == {3: "invalid phone", 4: "unknown attribute 'nope'"}
    assert Contact.objects.get(phone="+919812345680").attributes == {"vip": True}
    assert Contact.objects.get(phone="+919812345678").attributes == {
        "city": "Pune", "lifetime_orders": 4,
    }  # fmt: skip

    lines = "\n".join(json.dumps(r) for r in records) + "\n{broken\n[1]\n"
    job = run(create("c.jsonl", lines))
    assert job.format == "jsonl"
    reasons = errors_by_line(job)
    assert reasons[2] == "invalid phone" and reasons[3] == "unknown attribute 'nope'"
    assert reasons[5].startswith("not valid JSON") and reasons[6] == "not a JSON object"
    assert job.processed_rows == 6


def test_a_json_file_that_is_lines_is_read_as_lines(definitions):
    job = create("c.json", '{"phone": "+919812345678"}\n{"phone": "+919812345679"}\n')
    assert job.format == "jsonl"
    assert run(job).created_count == 2


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("c.txt", "phone\n+919812345678\n", "Upload a .csv, .json or .jsonl file."),
        ("c.csv", "name,tags\nAsha,vip\n", "The CSV header needs a 'phone' column."),
        ("c.csv", b"phone\n\xff\xfe+9198\n", "The file is not UTF-8 text"),
        ("c.csv", b"\x00\x01phone", "The file looks binary"),
        ("c.csv", "", "The file is empty."),
        ("c.csv", '[{"phone": "+919812345678"}]', "This looks like JSON"),
        ("c.json", '"just a string"', "A JSON import must be an array"),
        ("c.json", '[{"name": "no phone"}]', "JSON records need a 'phone' key."),
        ("c.json", "[" * 5000, "nested too deeply"),
        ("c.json", '[{"phone": {"a": {"b": {"c": {"d": 1}}}}}]', "nested deeper than 4"),
        ("c.csv", "phone,phone\n1,2\n", "repeats a column"),
    ],
)
def test_uploads_are_type_checked(name, content, message):
    with pytest.raises(FileRefused) as excinfo:
        create(name, content)
    assert message in excinfo.value.message
    assert not ImportJob.objects.exists()


def test_uploads_are_size_limited(settings):
    settings.IMPORT_MAX_BYTES = 10
    with pytest.raises(FileRefused) as excinfo:
        create("c.csv", "phone\n+919812345678\n")
    assert excinfo.value.code == "file_too_large"


def test_json_records_over_the_size_limit(definitions, settings):
    settings.IMPORT_JSON_MAX_RECORD_BYTES = 200
    big = json.dumps({"phone": "+919812345679", "name": "x" * 1000})
    job = run(create("c.json", f'[{{"phone": "+919812345678"}},\n{big}]'))
    assert job.status == ImportStatus.COMPLETED
    assert errors_by_line(job) == {2: "record larger than 200 bytes"}

    huge = json.dumps({"phone": "+919812345679", "name": "x" * 200_000})
    job = run(create("c.json", f'[{{"phone": "+919812345670"}},\n{huge}]'))
    assert job.status == ImportStatus.FAILED  # never buffered whole: the import stops
    assert "larger than" in job.message and "line 2" in job.message
    assert job.created_count == 1  # what came before is kept


def test_a_file_removed_from_storage_fails_the_job_clearly(definitions):
    job = create("c.csv", "phone\n+919812345678\n")
    job.file.delete(save=False)
    job = run(job)
    assert job.status == ImportStatus.FAILED and "file is gone" in job.message


def test_consent_from_an_import_does_not_reset_a_later_staff_decision(definitions):
    contact = ContactFactory(phone="+919812345678", consent="unknown")
    consent_set(contact=contact, consent="opted_out", source="keyword")
    run(create("c.csv", "phone,name\n+919812345678,Asha\n"))
    contact.refresh_from_db()
    assert contact.consent == "opted_out" and contact.name == "Asha"


def test_the_import_contacts_command(definitions, tmp_path, capsys):
    path = tmp_path / "people.csv"
    path.write_text(MIXED)
    call_command("import_contacts", str(path), "--dry-run")
    out = capsys.readouterr().out
    assert "Dry run" in out and "would create 3" in out and "line 3: invalid phone" in out
    assert not Contact.objects.exists()

    call_command("import_contacts", str(path), "--json")
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["status"] == "completed" and result["created"] == 3 and result["errors"] == 4
    assert Contact.objects.count() == 3

    with pytest.raises(CommandError, match="needs a 'phone' column"):
        bad = tmp_path / "bad.csv"
        bad.write_text("name\nx\n")
        call_command("import_contacts", str(bad))
    with pytest.raises(CommandError, match="Give a FILE"):
        call_command("import_contacts")
