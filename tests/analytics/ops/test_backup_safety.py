"""The promises of backup and restore on the embedded SQLite database: a restore completes or
changes nothing (a failure mid-load, a constraint, a damaged archive, a killed process); files
are owner-only and never left half-written; backups run on a schedule, keep BACKUP_KEEP
archives, carry the media and are recorded; the operations centre warns when they are old."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tarfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from analytics.models import JobRun, JobState
from analytics.ops import backup as backup_module
from analytics.ops.backup import (
    RestoreError,
    backup_create,
    backup_restore,
    backup_write,
    backups_list,
    backups_rotate,
)
from analytics.ops.health import health_collect
from analytics.ops.jobs import job_execute
from analytics.ops.tasks import job_scheduled
from tests.analytics.backup_support import assert_same, populate, snapshot
from tests.factories import ContactFactory, JobRunFactory

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def populated():
    populate()
    return snapshot()


def rewrite(path: Path, out: Path, edit_member) -> Path:
    """A copy of the archive with members changed by `edit_member(name, data) -> data`."""
    with tarfile.open(path) as src, tarfile.open(out, "w:gz") as dst:
        for info in src.getmembers():
            data = edit_member(info.name, src.extractfile(info).read())
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    return out


def with_fixed_manifest(path: Path, out: Path, label: str, edit_lines) -> Path:
    """Change one model's JSON Lines and make the manifest agree (checksum and row count), so
    that the archive passes verification and fails only when loaded."""
    with tarfile.open(path) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    entry = next(m for m in manifest["models"] if m["label"] == label)
    with tarfile.open(path) as tar:
        lines = tar.extractfile(entry["file"]).read().splitlines(keepends=True)
    data = b"".join(edit_lines(lines))
    entry["sha256"] = hashlib.sha256(data).hexdigest()
    entry["rows"] = len(data.splitlines())

    def edit(name, original):
        if name == entry["file"]:
            return data
        if name == "manifest.json":
            return json.dumps(manifest).encode()
        return original

    return rewrite(path, out, edit)


# --- Restore: all or nothing -----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_failure_mid_load_leaves_every_row(populated, tmp_path, monkeypatch):
    archive = backup_create(output_dir=tmp_path)
    ContactFactory(name="written after the backup")
    before = snapshot()
    loaded = []
    real_load = backup_module._load_model

    def load_then_fail(model, entry, tar, natural):
        if len(loaded) == 5:
            raise OSError(errno.EIO, "disk went away mid-load")
        loaded.append(entry["label"])
        return real_load(model, entry, tar, natural)

    monkeypatch.setattr(backup_module, "_load_model", load_then_fail)
    with pytest.raises(OSError, match="mid-load"):
        backup_restore(archive=archive, force=True)
    assert len(loaded) == 5  # five tables were deleted and loaded, then it failed
    assert_same(before, snapshot())


@pytest.mark.django_db(transaction=True)
def test_a_constraint_failure_leaves_every_row(populated, tmp_path):
    archive = backup_create(output_dir=tmp_path)
    ContactFactory(name="written after the backup")
    before = snapshot()
    # A contact twice (same primary key): passes every checksum, fails on insert.
    bad = with_fixed_manifest(
        archive, tmp_path / "dup.tar.gz", "crm.contact", lambda lines: [*lines, lines[0]]
    )
    with pytest.raises(RestoreError, match="Nothing was restored"):
        backup_restore(archive=bad, force=True)
    assert_same(before, snapshot())


@pytest.mark.django_db(transaction=True)
def test_a_damaged_or_truncated_archive_leaves_every_row(populated, tmp_path):
    archive = backup_create(output_dir=tmp_path)
    before = snapshot()
    tampered = rewrite(
        archive,
        tmp_path / "tampered.tar.gz",
        lambda name, data: data.replace(b"Pune", b"Puna") if name.endswith(".jsonl") else data,
    )
    with pytest.raises(RestoreError, match="Checksum mismatch"):
        backup_restore(archive=tampered, force=True)
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(RestoreError, match="damaged or truncated"):
        backup_restore(archive=truncated, force=True)
    assert_same(before, snapshot())


@pytest.mark.django_db(transaction=True)
def test_a_forced_restore_replaces_everything_in_one_go(populated, tmp_path):
    archive = backup_create(output_dir=tmp_path)
    ContactFactory(name="written after the backup")
    JobRunFactory(name="purge_data", state=JobState.FAILED)
    backup_restore(archive=archive, force=True)
    assert_same(populated, snapshot())


def _manage(*args, env, **kwargs):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False, **kwargs,
    )  # fmt: skip


def _rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


@pytest.mark.django_db(transaction=True)
def test_a_restore_killed_mid_load_leaves_every_row_in_sqlite(tmp_path):
    """`manage.py restore --force` of another backup, SIGKILLed once it reports a loaded
    table (it is inside its transaction, rows deleted and some loaded): the file database
    still holds every original row, and a later restore completes."""
    from crm.models import Contact
    from messaging.models import Message
    from tests.factories import ChannelFactory

    channel = ChannelFactory()
    Contact.objects.bulk_create(
        Contact(phone=f"+9177{i:08d}", wa_id=f"9177{i:08d}", name=f"first {i}") for i in range(3000)
    )
    contacts = list(Contact.objects.values_list("pk", flat=True))
    Message.objects.bulk_create(
        Message(channel=channel, contact_id=pk, direction="out", type="text",
                content={"body": f"hello {pk}"}, status=10)
        for pk in contacts
    )  # fmt: skip
    original = backup_create(output_dir=tmp_path / "a")
    Contact.objects.filter(pk__in=contacts[:1000]).update(name="renamed")
    other = backup_create(output_dir=tmp_path / "b")

    target = tmp_path / "target.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"sqlite:///{target}",
        "BACKUP_DIR": str(tmp_path / "restore-work"),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REDIS_URL", None)
    for args in (["migrate", "--noinput"], ["restore", str(original)]):
        result = _manage(*args, env=env)
        assert result.returncode == 0, result.stderr[-3000:]
    names = _rows(target, "SELECT id, name FROM crm_contact ORDER BY id")
    assert len(names) == 3000 and not any(n == "renamed" for _, n in names)

    proc = subprocess.Popen(
        [sys.executable, "manage.py", "restore", "--force", str(other)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("auth.group:"):  # the first table loaded: mid-load, uncommitted
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "".join(seen)
    assert not any(line.startswith("restored") for line in seen), "it finished before the kill"

    assert _rows(target, "SELECT id, name FROM crm_contact ORDER BY id") == names
    assert _rows(target, "SELECT count(*) FROM messaging_message") == [(3000,)]
    assert _rows(target, "PRAGMA integrity_check") == [("ok",)]
    result = _manage("restore", "--force", str(other), env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _rows(target, "SELECT count(*) FROM crm_contact WHERE name = 'renamed'") == [(1000,)]


# --- Files on disk ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_archives_are_owner_only_in_an_owner_only_folder(settings):
    settings.BACKUP_DIR.mkdir(parents=True, mode=0o755)
    os.chmod(settings.BACKUP_DIR, 0o755)
    path = backup_create()
    assert oct(settings.BACKUP_DIR.stat().st_mode & 0o777) == "0o700"
    assert oct(path.stat().st_mode & 0o777) == "0o600"


@pytest.mark.django_db
def test_a_full_disk_leaves_no_partial_file(settings, populated, monkeypatch):
    """ENOSPC part-way through the archive: the error surfaces, the partial file (owner-only
    while it existed) is removed, and so is the temporary folder."""
    real_open = backup_module._open_partial
    seen = {}

    class FullDisk:
        def __init__(self, raw, path):
            self.raw, self.path, self.written = raw, path, 0

        def write(self, data):
            if self.written + len(data) > 4096:
                seen["mode"] = self.path.stat().st_mode & 0o777
                raise OSError(errno.ENOSPC, "No space left on device")
            self.written += len(data)
            return self.raw.write(data)

        def __getattr__(self, name):
            return getattr(self.raw, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.raw.close()

    monkeypatch.setattr(backup_module, "_open_partial", lambda p: FullDisk(real_open(p), p))
    with pytest.raises(OSError) as failure:
        backup_write()
    assert failure.value.errno == errno.ENOSPC
    assert seen["mode"] == 0o600
    assert sorted(os.listdir(settings.BACKUP_DIR)) == [".backup.lock"]
    assert backups_list() == []


@pytest.mark.django_db
def test_a_failed_backup_job_is_recorded_and_leaves_nothing(settings, monkeypatch):
    def no_space(path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(backup_module, "_open_partial", no_space)
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No space left"):
        call_command("backup", stdout=io.StringIO())
    run = JobRun.objects.get(name="backup")
    assert run.state == JobState.FAILED and "No space left" in run.error
    assert [n for n in os.listdir(settings.BACKUP_DIR) if not n.startswith(".backup.lock")] == []
    component = health_collect()["by_key"]["backup"]
    assert component["state"] == "warn"


@pytest.mark.django_db
def test_leftovers_of_a_killed_backup_are_removed_by_the_next(settings):
    settings.BACKUP_DIR.mkdir(parents=True)
    (settings.BACKUP_DIR / "parley-backup-20260101T000000Z.tar.gz.partial").write_bytes(b"x")
    (settings.BACKUP_DIR / ".backup-dead").mkdir()
    (settings.BACKUP_DIR / ".backup-dead" / "crm.contact.jsonl").write_bytes(b"{}")
    path = backup_create()
    assert sorted(os.listdir(settings.BACKUP_DIR)) == sorted([".backup.lock", path.name])


# --- Schedule, rotation, media, record ---------------------------------------------------------


@pytest.mark.django_db
def test_a_daily_beat_row_runs_the_backup_job():
    task = PeriodicTask.objects.get(name="analytics: daily backup")
    assert task.enabled and task.task == "analytics.job_scheduled"
    assert json.loads(task.kwargs) == {"name": "backup"}
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("0", "2", "*")


@pytest.mark.django_db
def test_a_scheduled_backup_records_size_checksum_and_rotates(settings):
    settings.BACKUP_KEEP = 2
    settings.BACKUP_DIR.mkdir(parents=True)
    for stamp in ("20250101T000000Z", "20250102T000000Z", "20250102T000000Z-1"):
        (settings.BACKUP_DIR / f"parley-backup-{stamp}.tar.gz").write_bytes(b"old")
    (settings.BACKUP_DIR / "notes.txt").write_text("not an archive: never rotated")

    pk = job_scheduled.run(name="backup")
    run = job_execute(job_run_id=pk)
    assert run.state == JobState.SUCCEEDED, run.error
    assert run.trigger == "schedule" and run.duration is not None
    archive = settings.BACKUP_DIR / run.counts["archive"]
    assert run.counts["bytes"] == archive.stat().st_size
    assert run.counts["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert run.counts["rotated_out"] == 2
    assert [b.name for b in backups_list()] == [
        archive.name,
        "parley-backup-20250102T000000Z-1.tar.gz",
    ]
    assert (settings.BACKUP_DIR / "notes.txt").exists()


def test_rotation_never_deletes_every_backup():
    with pytest.raises(ValueError, match="at least 1"):
        backups_rotate(keep=0)


@pytest.mark.django_db(transaction=True)
def test_media_travel_in_the_archive_and_come_back(settings, tmp_path):
    media = Path(settings.MEDIA_ROOT)
    (media / "imports").mkdir(parents=True)
    (media / "imports" / "contacts.csv").write_bytes(b"phone\n+919800000001\n")
    (media / "inbound.jpg").write_bytes(bytes(range(256)) * 40)
    written = backup_write(output_dir=tmp_path)
    assert written.media_files == 2 and written.media_bytes == 20 + 10240
    with tarfile.open(written.path) as tar:
        assert {"media/imports/contacts.csv", "media/inbound.jpg"} <= set(tar.getnames())

    (media / "imports" / "contacts.csv").write_bytes(b"changed")
    (media / "inbound.jpg").unlink()
    (media / "after.txt").write_text("uploaded after the backup")
    backup_restore(archive=written.path, force=True)
    assert (media / "imports" / "contacts.csv").read_bytes() == b"phone\n+919800000001\n"
    assert (media / "inbound.jpg").read_bytes() == bytes(range(256)) * 40
    assert (media / "after.txt").exists()  # files the archive does not name are left alone

    damaged = rewrite(
        written.path,
        tmp_path / "damaged.tar.gz",
        lambda name, data: b"evil" if name == "media/inbound.jpg" else data,
    )
    with pytest.raises(RestoreError, match=r"Checksum mismatch in media/inbound\.jpg"):
        backup_restore(archive=damaged, force=True)


# --- The operations centre -------------------------------------------------------------------


@pytest.mark.django_db
def test_health_warns_without_a_backup_and_when_the_last_is_old(settings):
    component = health_collect()["by_key"]["backup"]
    assert component["state"] == "warn" and component["detail"] == "no successful backup yet"

    now = timezone.now()
    JobRunFactory(
        name="backup",
        state=JobState.SUCCEEDED,
        created_at=now - timedelta(hours=25),
        started_at=now - timedelta(hours=25),
        finished_at=now - timedelta(hours=25),
        counts={"archive": "parley-backup-x.tar.gz", "bytes": 2048, "sha256": "ab" * 32},
    )
    component = health_collect()["by_key"]["backup"]
    assert component["state"] == "warn" and "older than a day" in component["detail"]
    settings.BACKUP_MAX_AGE_HOURS = 48
    component = health_collect()["by_key"]["backup"]
    assert component["state"] == "ok"
    assert component["size"] == 2048 and component["sha256"] == "ab" * 32
    assert 25 * 3600 <= component["age_s"] < 26 * 3600


@pytest.mark.django_db
def test_the_operations_page_shows_the_last_backup(ops_client):
    path = backup_create()
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    JobRunFactory(
        name="backup",
        state=JobState.SUCCEEDED,
        started_at=timezone.now() - timedelta(minutes=3),
        finished_at=timezone.now() - timedelta(minutes=2),
        counts={"archive": path.name, "bytes": path.stat().st_size, "sha256": sha256},
    )
    html = ops_client.get(reverse("ops:health")).content.decode()
    assert 'data-testid="component-backup"' in html
    assert sha256 in html and path.name in html
    page = ops_client.get(reverse("ops:backups")).content.decode()
    assert page.count(sha256) == 2  # the archive's row and its run's row
