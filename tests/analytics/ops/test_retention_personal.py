"""Retention of personal data: message bodies and media (MESSAGE_RETENTION_DAYS), imported
files and error rows (UPLOAD_RETENTION_DAYS), in the nightly purge, shown on the board."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from analytics.ops.board import board_build
from analytics.ops.models import JobRun
from analytics.ops.retention import data_purge
from crm.models import ImportJob, ImportRowError
from messaging.models import Message
from tests.factories import MessageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def disk(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    settings.MEDIA_ROOT = tmp_path / "media"


def test_old_messages_are_redacted_in_batches_and_metadata_stays(
    settings, disk, django_capture_on_commit_callbacks
):
    settings.MESSAGE_RETENTION_DAYS, settings.RETENTION_BATCH = 30, 2
    old_at = timezone.now() - timedelta(days=31)
    old = [
        MessageFactory(
            created_at=old_at,
            content={"body": f"secret {i}"},
            status=50,
            pricing_category="marketing",
        )
        for i in range(5)
    ]
    old[0].media_file.save("old.jpg", ContentFile(b"x"), save=True)
    name = old[0].media_file.name
    fresh = MessageFactory(content={"body": "recent"})
    with django_capture_on_commit_callbacks(execute=True):
        counts = data_purge()
    assert counts["messages_redacted"] == 5 and counts["media_files_deleted"] == 1
    for message in Message.objects.filter(pk__in=[m.pk for m in old]):
        assert message.content == {} and message.redacted_at is not None
        assert message.status == 50 and message.pricing_category == "marketing"
    assert not default_storage.exists(name)
    assert Message.objects.get(pk=fresh.pk).content == {"body": "recent"}
    assert data_purge()["messages_redacted"] == 0  # nothing is redacted twice


def test_zero_keeps_messages_forever(settings):
    settings.MESSAGE_RETENTION_DAYS = 0
    message = MessageFactory(created_at=timezone.now() - timedelta(days=3000))
    assert data_purge()["messages_redacted"] == 0
    assert Message.objects.get(pk=message.pk).content == {"body": "Hello"}


def test_finished_imports_lose_their_files_and_error_rows(
    settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    settings.UPLOAD_RETENTION_DAYS = 30
    (tmp_path / "imports").mkdir()
    jobs = {}
    for label, days, status in (("old", 40, "completed"), ("new", 2, "completed"),
                                ("running", 40, "running")):  # fmt: skip
        (tmp_path / "imports" / f"{label}.csv").write_text("phone\n+919812345678\n")
        jobs[label] = ImportJob.objects.create(
            original_name=f"{label}.csv", format="csv", status=status,
            file=f"imports/{label}.csv", finished_at=timezone.now() - timedelta(days=days),
        )  # fmt: skip
        ImportRowError.objects.create(job=jobs[label], line=2, value="Asha", reason="bad")
    with django_capture_on_commit_callbacks(execute=True):
        counts = data_purge()
    assert counts["import_files"] == 1 and counts["import_error_rows"] == 1
    assert not (tmp_path / "imports" / "old.csv").exists()
    assert (tmp_path / "imports" / "new.csv").exists()
    assert (tmp_path / "imports" / "running.csv").exists()
    jobs["old"].refresh_from_db()
    assert jobs["old"].purged_at is not None
    assert ImportRowError.objects.filter(job=jobs["new"]).exists()


def test_operations_board_shows_last_purge_and_settings(settings, admin_user):
    settings.MESSAGE_RETENTION_DAYS, settings.UPLOAD_RETENTION_DAYS = 365, 0
    JobRun.objects.create(name="purge_data", trigger="schedule", state="succeeded",
                          counts={"messages_redacted": 7, "import_files": 2})  # fmt: skip
    board = board_build(user=admin_user)
    section = next(s for s in board["sections"] if s["name"] == "retention")
    rows = {row.label: row.value for row in section["rows"]}
    assert rows["Messages redacted"] == 7 and rows["Import files purged"] == 2
    assert rows["Message bodies and media"] == "365 days"
    assert rows["Import files and error rows"].startswith("kept")
