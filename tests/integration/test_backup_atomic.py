"""A restore on PostgreSQL completes or leaves every row: killed part-way (SIGKILL, detected
mid-load in pg_stat_activity), or failing on a constraint or a damaged archive. Both restore
methods: PostgreSQL's schema swap and the portable load."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings as django_settings
from django.test import override_settings

from analytics.ops.backup import backup_create, backup_models
from tests.integration.conftest import ROOT, wait_for
from tests.integration.test_backup import DatabaseCopy, server_url

pytestmark = pytest.mark.django_db(transaction=True)

CONTACTS = 3000
MESSAGES_PER_CONTACT = 5


def populate_many() -> None:
    """Thousands of rows across crm and messaging: contacts with tags and consent history,
    messages with status history."""
    from django.utils import timezone

    from crm.models import ConsentEvent, Contact, Tag
    from messaging.models import Message, MessageStatusEvent
    from tests.factories import ChannelFactory, UserFactory

    now = timezone.now()
    UserFactory(username="boss", roles=["Admin"])
    channel = ChannelFactory()
    vip = Tag.objects.create(name="vip")
    Contact.objects.bulk_create(
        (
            Contact(phone=f"+9176{i:08d}", wa_id=f"9176{i:08d}", name=f"contact {i}",
                    consent="opted_in", attributes={"city": "Pune", "n": i})
            for i in range(CONTACTS)
        ),
        batch_size=2000,
    )  # fmt: skip
    contacts = list(Contact.objects.values_list("pk", flat=True))
    Contact.tags.through.objects.bulk_create(
        Contact.tags.through(contact_id=pk, tag_id=vip.pk) for pk in contacts[::3]
    )
    ConsentEvent.objects.bulk_create(
        ConsentEvent(contact_id=pk, previous="unknown", consent="opted_in", source="import")
        for pk in contacts
    )
    Message.objects.bulk_create(
        (
            Message(channel=channel, contact_id=pk, direction="out", type="text",
                    content={"body": f"Hello {pk} #{n} " + "x" * 200}, status=10,
                    wamid=f"wamid.{pk}.{n}")
            for pk in contacts
            for n in range(MESSAGES_PER_CONTACT)
        ),
        batch_size=5000,
    )  # fmt: skip
    MessageStatusEvent.objects.bulk_create(
        (
            MessageStatusEvent(
                message_id=pk, wamid=wamid, status="sent", raw={"id": wamid}, timestamp=now
            )
            for pk, wamid in Message.objects.values_list("pk", "wamid")[: CONTACTS * 2]
        ),
        batch_size=5000,
    )


def change_everything() -> None:
    """Make the live database differ from the backup: renamed, deleted and new rows."""
    from crm.models import Contact
    from messaging.models import Message
    from tests.factories import ContactFactory

    Contact.objects.filter(pk__lte=2000).update(name="renamed after the backup")
    Message.objects.filter(contact_id__gt=CONTACTS - 500).delete()
    for _ in range(5):
        ContactFactory(name="added after the backup")


def fingerprint() -> dict[str, tuple[int, str]]:
    """Rows and an md5 of every row of every backed-up table (and the m2m tables)."""
    tables = {m._meta.db_table for m in backup_models()}
    tables |= {"crm_contact_tags", "auth_user_groups", "auth_group_permissions"}
    result = {}
    with psycopg.connect(server_url(django_settings.DATABASES["default"]["NAME"])) as conn:
        for table in sorted(tables):
            # A restore, done or refused, is an audit event of its own, written after it.
            only = " WHERE action_name <> 'restore'" if table == "core_auditevent" else ""
            result[table] = conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                f'FROM "{table}" t{only}'
            ).fetchone()
    return result


def restore_env(tmp_path: Path, app_name: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": server_url(django_settings.DATABASES["default"]["NAME"]),
        "BACKUP_DIR": str(tmp_path / "restore-work"),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "PGAPPNAME": app_name,  # libpq: Django's connection and psql alike
        "PYTHONUNBUFFERED": "1",
    }


def restore(archive: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "restore", "--force", *extra, str(archive)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip


def activity(app_name: str) -> list[tuple]:
    with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
        return conn.execute(
            "SELECT pid, state, backend_xid IS NOT NULL, query FROM pg_stat_activity "
            "WHERE application_name = %s",
            [app_name],
        ).fetchall()


def leftover_schemas() -> list[str]:
    with psycopg.connect(server_url(django_settings.DATABASES["default"]["NAME"])) as conn:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'parley_restore_old_%'"
        ).fetchall()
    return [r[0] for r in rows]


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker, tmp_path_factory):
    """`populate_many`, its backup, then `change_everything`, once for the module (about 15 s):
    the database is copied aside and every test starts from that copy, the archive unchanged."""
    folder = tmp_path_factory.mktemp("backup-atomic")
    copy = DatabaseCopy("backup_atomic_seed")
    with django_db_blocker.unblock():
        with override_settings(MEDIA_ROOT=folder / "media"):
            populate_many()
            archive = backup_create(output_dir=folder / "archives")
        change_everything()
        copy.take()
    yield copy, archive
    copy.drop()


@pytest.fixture
def backup_then_change(seeded, transactional_db):
    """The archive of `populate_many`'s rows, and the database changed since it was made."""
    copy, archive = seeded
    copy.put_back()
    return archive


@pytest.mark.parametrize(
    ("method", "mid_load"),
    [
        # The pg_dump is being copied into the new schema, inside the swap's transaction.
        ("postgresql", "COPY "),
        # Rows were deleted and are being inserted, inside the load's transaction.
        ("portable", "INSERT "),
    ],
)
def test_a_restore_killed_mid_load_leaves_every_row(backup_then_change, tmp_path, method, mid_load):
    archive = backup_then_change
    before = fingerprint()
    app_name = f"parley-kill-{uuid.uuid4().hex[:8]}"
    env = restore_env(tmp_path, app_name)
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "restore", "--force", "--method", method, str(archive)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    caught = None
    deadline = time.monotonic() + 300
    while caught is None and proc.poll() is None and time.monotonic() < deadline:
        for _pid, state, wrote, query in activity(app_name):
            # In a transaction that has written (rows deleted or a schema renamed), loading.
            if wrote and state in ("active", "idle in transaction") and query.startswith(mid_load):
                caught = query[:80]
                break
    assert caught, f"never caught mid-load; restore ended: {proc.stdout.read()[-3000:]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    output = proc.stdout.read()
    assert "restored" not in output, output[-2000:]
    # The server rolls back once the session is gone (psql reads end of input and exits).
    wait_for(lambda: not activity(app_name), timeout=60)

    assert fingerprint() == before
    assert leftover_schemas() == []

    # Usable: the same restore runs to the end, and the next run cleaned up after the dead one.
    done = restore(archive, env, "--method", method)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "restored" in done.stdout
    after = fingerprint()
    assert after != before
    assert after["crm_contact"][0] == CONTACTS  # the backup's contacts, none added after
    assert leftover_schemas() == []
    assert not list((tmp_path / "restore-work").glob(".restore-*"))


def rewrite(path: Path, out: Path, edit_member) -> Path:
    with tarfile.open(path) as src, tarfile.open(out, "w:gz") as dst:
        for info in src.getmembers():
            data = edit_member(info.name, src.extractfile(info).read())
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    return out


def test_a_restore_failing_on_a_constraint_or_a_damaged_archive_leaves_every_row(
    backup_then_change, tmp_path
):
    archive = backup_then_change
    before = fingerprint()
    env = restore_env(tmp_path, "parley-fail-test")
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))

    def fixed(member: str, data: bytes, entry_update) -> Path:
        """The archive with `member` replaced and the manifest agreeing with it."""
        changed = json.loads(json.dumps(manifest))
        entry_update(changed, data)

        def edit(name, original):
            if name == member:
                return data
            if name == "manifest.json":
                return json.dumps(changed).encode()
            return original

        return rewrite(archive, tmp_path / f"bad-{uuid.uuid4().hex[:6]}.tar.gz", edit)

    # 1. A constraint: a contact twice (the portable load fails at the insert).
    contact = next(m for m in manifest["models"] if m["label"] == "crm.contact")
    with tarfile.open(archive) as tar:
        lines = tar.extractfile(contact["file"]).read().splitlines(keepends=True)
    duplicated = b"".join([*lines, lines[-1]])

    def contact_entry(changed, data):
        entry = next(m for m in changed["models"] if m["label"] == "crm.contact")
        entry["sha256"] = hashlib.sha256(data).hexdigest()
        entry["rows"] = len(data.splitlines())

    result = restore(fixed(contact["file"], duplicated, contact_entry), env, "--method", "portable")
    assert result.returncode != 0 and "Nothing was restored" in result.stderr, result.stderr
    assert fingerprint() == before
    with psycopg.connect(server_url(django_settings.DATABASES["default"]["NAME"])) as conn:
        refused = conn.execute(
            "SELECT additional_data->>'ok' FROM core_auditevent WHERE action_name = 'restore'"
        ).fetchall()
    assert refused == [("false",)]  # the refusal is on record

    # 2. A pg_dump cut short, with a checksum that matches: pg_restore fails part-way through
    # the load, after the schema was renamed and tables created, so nothing commits.
    with tarfile.open(archive) as tar:
        dump = tar.extractfile("database.pgdump").read()
    cut = dump[: int(len(dump) * 0.6)]

    def dump_entry(changed, data):
        changed["pg_dump"]["sha256"] = hashlib.sha256(data).hexdigest()

    result = restore(fixed("database.pgdump", cut, dump_entry), env, "--method", "postgresql")
    assert result.returncode != 0 and "Nothing was restored" in result.stderr, result.stderr
    assert fingerprint() == before
    assert leftover_schemas() == []

    # 3. A checksum mismatch, and 4. a truncated archive file: refused before any change.
    tampered = rewrite(
        archive, tmp_path / "tampered.tar.gz",
        lambda name, data: data[:-10] + b"0123456789" if name == "database.pgdump" else data,
    )  # fmt: skip
    result = restore(tampered, env)
    assert result.returncode != 0 and "Checksum mismatch in database.pgdump" in result.stderr
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    result = restore(truncated, env)
    assert result.returncode != 0 and "damaged or truncated" in result.stderr, result.stderr
    assert fingerprint() == before


def test_the_default_postgresql_restore_swaps_the_schema_and_drops_the_old(
    backup_then_change, tmp_path
):
    archive = backup_then_change
    result = restore(archive, restore_env(tmp_path, "parley-swap-test"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "loading the pg_dump into a new schema" in result.stdout
    assert "loading crm_contact" in result.stdout
    assert "dropped parley_restore_old_" in result.stdout
    assert leftover_schemas() == []
    with psycopg.connect(server_url(django_settings.DATABASES["default"]["NAME"])) as conn:
        assert conn.execute(
            "SELECT count(*) FROM crm_contact WHERE name = 'renamed after the backup'"
        ).fetchone() == (0,)
        (max_id,) = conn.execute("SELECT max(id) FROM crm_contact").fetchone()
        (next_id,) = conn.execute(
            "SELECT nextval(pg_get_serial_sequence('crm_contact', 'id'))"
        ).fetchone()
        assert next_id > max_id
