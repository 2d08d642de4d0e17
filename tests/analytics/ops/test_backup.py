"""Backups and restores: a populated database survives the round trip table by table."""

import io
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from analytics.models import JobRun, JobState
from analytics.ops.backup import (
    RestoreError,
    backup_create,
    backup_models,
    backup_restore,
    backup_verify,
    backups_list,
    database_data_tables,
)
from tests.analytics.backup_support import (
    assert_same,
    populate,
    snapshot,
    without_restore_events,
)

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def populated():
    populate()
    return snapshot()


def test_backup_writes_an_archive_with_a_manifest(populated, tmp_path):
    path = backup_create(output_dir=tmp_path)
    assert path.name.startswith("parley-backup-") and path.name.endswith(".tar.gz")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    with tarfile.open(path) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("manifest.json"))
    assert names[0] == "manifest.json"
    labels = {m["label"] for m in manifest["models"]}
    assert {
        "auth.user",
        "auth.group",
        "crm.contact",
        "messaging.message",
        "analytics.jobrun",
        "django_celery_beat.periodictask",
        "core.apitoken",
    } <= labels
    assert "auth.permission" not in labels and "sessions.session" not in labels
    rows = {m["label"]: m["rows"] for m in manifest["models"]}
    assert rows["messaging.message"] == 26 and rows["crm.contact"] == 26
    assert all(len(m["sha256"]) == 64 for m in manifest["models"])
    assert "analytics.0001_initial" in manifest["migrations"]
    assert manifest["pg_dump"] == {"included": False, "reason": "database is sqlite"}
    group = next(m for m in manifest["models"] if m["label"] == "auth.group")
    assert group["natural_keys"] == {"permissions": "auth.permission"}
    assert backup_verify(path)["format"] == 1


def test_round_trip_into_an_emptied_database(populated, tmp_path):
    path = backup_create(output_dir=tmp_path)
    call_command("flush", interactive=False, verbosity=0)  # as fresh as `migrate` leaves it
    assert database_data_tables() == []
    counts = backup_restore(archive=path)
    assert counts["messaging.message"] == 26
    assert_same(populated, snapshot())


def test_restore_refuses_a_database_with_data_unless_forced(populated, tmp_path):
    path = backup_create(output_dir=tmp_path)
    with pytest.raises(RestoreError, match="already holds data"):
        backup_restore(archive=path)
    with pytest.raises(CommandError, match="--force"):
        call_command("restore", str(path))
    from tests.factories import ContactFactory

    ContactFactory(name="added after the backup")
    call_command("restore", str(path), "--force", stdout=io.StringIO())
    after = snapshot()
    assert after["core.auditevent"][-1]["fields"]["action_name"] == "restore"
    assert_same(populated, without_restore_events(after))


def tampered(path: Path, tmp_path: Path, member: str, edit) -> Path:
    out = tmp_path / "tampered.tar.gz"
    with tarfile.open(path) as src, tarfile.open(out, "w:gz") as dst:
        for info in src.getmembers():
            data = src.extractfile(info).read()
            if info.name == member:
                data = edit(data)
                info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    return out


def test_a_damaged_archive_is_refused_before_anything_changes(populated, tmp_path):
    path = backup_create(output_dir=tmp_path)
    call_command("flush", interactive=False, verbosity=0)
    bad = tampered(path, tmp_path, "data/crm.contact.jsonl", lambda d: d.replace(b"Pune", b"Puna"))
    with pytest.raises(RestoreError, match="Checksum mismatch"):
        backup_restore(archive=bad)

    def wrong_count(data):
        manifest = json.loads(data)
        entry = next(m for m in manifest["models"] if m["label"] == "crm.contact")
        entry["rows"] += 1
        return json.dumps(manifest).encode()

    with pytest.raises(RestoreError, match="manifest says"):
        backup_restore(archive=tampered(path, tmp_path, "manifest.json", wrong_count))

    def future_migration(data):
        manifest = json.loads(data)
        manifest["migrations"].append("crm.9999_from_the_future")
        return json.dumps(manifest).encode()

    with pytest.raises(RestoreError, match="lacks migrations"):
        backup_restore(archive=tampered(path, tmp_path, "manifest.json", future_migration))
    assert database_data_tables() == []
    with pytest.raises(RestoreError, match="No such archive"):
        backup_restore(archive=tmp_path / "missing.tar.gz")


def test_restore_into_a_new_sqlite_database_with_the_commands(populated, tmp_path):
    """`migrate` then `manage.py restore` in another process, then compare every table."""
    archive = backup_create(output_dir=tmp_path)
    target = tmp_path / "restored.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"sqlite:///{target}",
    }
    env.pop("REDIS_URL", None)
    for command in (["migrate", "--noinput"], ["restore", str(archive)]):
        result = subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
    assert "restored" in result.stdout

    # The same type conversions as Django's own SQLite connection (it registers them).
    restored = sqlite3.connect(
        target, detect_types=sqlite3.PARSE_DECLTYPES | sqlite3.PARSE_COLNAMES
    )
    try:
        for model in backup_models():
            table, pk = model._meta.db_table, model._meta.pk.column
            with connection.cursor() as cursor:
                cursor.execute(f'SELECT * FROM "{table}" ORDER BY "{pk}"')
                expected = cursor.fetchall()
            got = restored.execute(f'SELECT * FROM "{table}" ORDER BY "{pk}"').fetchall()
            if table == "core_auditevent":  # the restore command records itself afterwards
                assert got[-1][list(restored_columns(restored, table)).index("action_name")] == (
                    "restore"
                )
                got = got[:-1]
            assert got == [tuple(row) for row in expected], table
        group_perms = (
            "SELECT g.name, p.codename FROM auth_group_permissions gp "
            "JOIN auth_group g ON g.id = gp.group_id JOIN auth_permission p "
            "ON p.id = gp.permission_id ORDER BY 1, 2"
        )
        with connection.cursor() as cursor:
            cursor.execute(group_perms)
            assert restored.execute(group_perms).fetchall() == [tuple(r) for r in cursor.fetchall()]
        tags = "SELECT contact_id, tag_id FROM crm_contact_tags ORDER BY 1, 2"
        with connection.cursor() as cursor:
            cursor.execute(tags)
            assert restored.execute(tags).fetchall() == [tuple(r) for r in cursor.fetchall()]
    finally:
        restored.close()


def restored_columns(db, table: str) -> list[str]:
    return [row[1] for row in db.execute(f'PRAGMA table_info("{table}")')]


def test_backup_command_records_a_job_run_and_excludes_itself(populated, settings, capsys):
    call_command("backup")
    run = JobRun.objects.get(name="backup")
    assert run.state == JobState.SUCCEEDED and run.trigger == "command"
    (archive,) = backups_list()
    assert run.counts["archive"] == archive.name
    with tarfile.open(settings.BACKUP_DIR / archive.name) as tar:
        lines = tar.extractfile("data/analytics.jobrun.jsonl").read().splitlines()
    assert [json.loads(line)["fields"]["name"] for line in lines] == ["purge_data"]
    assert "backup written" in capsys.readouterr().out


def test_backup_command_with_an_output_directory(tmp_path, capsys):
    call_command("backup", "--output", str(tmp_path / "elsewhere"))
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert Path(out).parent == tmp_path / "elsewhere" and Path(out).exists()
    assert not JobRun.objects.filter(name="backup").exists()


def test_backups_page_lists_and_downloads_archives_for_admins(ops_client, settings, tmp_path):
    path = backup_create()
    (settings.BACKUP_DIR / "notes.txt").write_text("not an archive")
    page = ops_client.get(reverse("ops:backups")).content.decode()
    assert path.name in page and "notes.txt" not in page
    response = ops_client.get(reverse("ops:backup_download", args=[path.name]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert b"".join(response.streaming_content) == path.read_bytes()
    for name in ("notes.txt", "..%2F..%2Fetc%2Fpasswd", "parley-backup-x.tar.gz"):
        assert ops_client.get(reverse("ops:backups") + name).status_code == 404


def test_backup_from_the_page_runs_as_a_job(ops_client, monkeypatch):
    from analytics.ops import jobs as ops_jobs

    monkeypatch.setattr(ops_jobs, "job_enqueue", lambda pk: ops_jobs.job_execute(job_run_id=pk))
    response = ops_client.post(reverse("ops:job_start", args=["backup"]))
    run = JobRun.objects.get(name="backup")
    assert response["Location"] == reverse("ops:job_detail", args=[run.pk])
    # The on_commit hook runs at the end of the test transaction; run it here.
    ops_jobs.job_execute(job_run_id=run.pk)
    run.refresh_from_db()
    assert run.state == JobState.SUCCEEDED, run.error
    assert [b.name for b in backups_list()] == [run.counts["archive"]]


def test_restore_never_revives_jobs_and_leaves_heartbeats_out(tmp_path):
    from core.models import WorkerHeartbeat
    from tests.factories import JobRunFactory

    JobRunFactory(name="purge_data", state=JobState.QUEUED)
    WorkerHeartbeat.objects.create(hostname="w@old-host", queues=["send"])
    path = backup_create(output_dir=tmp_path)
    with tarfile.open(path) as tar:
        assert "data/core.workerheartbeat.jsonl" not in tar.getnames()
    call_command("flush", interactive=False, verbosity=0)
    backup_restore(archive=path)
    run = JobRun.objects.get()
    assert run.state == JobState.FAILED and "restored from a backup" in run.error
    assert not WorkerHeartbeat.objects.exists()
