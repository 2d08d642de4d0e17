"""Backup on PostgreSQL and restore into a second, freshly migrated database with the command
(another process), then every table compared row by row."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings as django_settings
from django.contrib.contenttypes.models import ContentType
from django.db import connections

from analytics.ops.backup import backup_create, backup_models
from tests.analytics.backup_support import populate
from tests.integration.conftest import ROOT

pytestmark = pytest.mark.django_db(transaction=True)


def server_url(dbname: str) -> str:
    db = django_settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{dbname}"


def admin_connect() -> psycopg.Connection:
    return psycopg.connect(server_url("postgres"), autocommit=True)


class DatabaseCopy:
    """The test database copied aside once (`CREATE DATABASE ... TEMPLATE`) and put back
    before each test of a module: seeding thousands of rows and backing them up takes far
    longer than the copy, and each test then starts from exactly the same rows, ids included.

    `CREATE DATABASE ... TEMPLATE` needs its template unused, so Django's connections are
    closed first (they reconnect on the next query) and any other session is ended."""

    def __init__(self, suffix: str):
        self.source = django_settings.DATABASES["default"]["NAME"]
        self.copy = f"{self.source}_{suffix}"[:63]

    def _clone(self, admin: psycopg.Connection, target: str, template: str) -> None:
        """`target` dropped and made again from `template`. Both must be unused: any session
        left on them is ended and waited for (PostgreSQL waits only 5 s, too little on a
        loaded machine), and a statement refused because one was still there is retried."""
        deadline = time.monotonic() + 120
        while True:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname IN (%s, %s) AND pid <> pg_backend_pid()",
                [target, template],
            )
            try:
                admin.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
                admin.execute(f'CREATE DATABASE "{target}" TEMPLATE "{template}"')
                return
            except psycopg.errors.ObjectInUse:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def take(self) -> None:
        connections.close_all()
        with admin_connect() as admin:
            self._clone(admin, self.copy, self.source)

    def put_back(self) -> None:
        """The test database as it was when taken (its content types' ids too, so the
        content-type cache is emptied)."""
        connections.close_all()
        with admin_connect() as admin:
            self._clone(admin, self.source, self.copy)
        ContentType.objects.clear_cache()

    def drop(self) -> None:
        with admin_connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.copy}" WITH (FORCE)')


@pytest.fixture
def restore_database():
    name = f"parley_restore_{uuid.uuid4().hex[:10]}"
    with admin_connect() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield name
    with admin_connect() as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name]
        )
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


def manage(*args: str, database: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": server_url(database),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result


def rows(conn, sql: str) -> list[tuple]:
    return conn.execute(sql).fetchall()


def test_backup_and_restore_into_a_new_postgresql_database(tmp_path, restore_database):
    populate()
    archive = backup_create(output_dir=tmp_path)
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "database.pgdump" in names  # pg_dump is installed where the suite runs

    manage("migrate", "--noinput", database=restore_database)
    out = manage("restore", str(archive), database=restore_database).stdout
    assert "restored" in out

    source_name = django_settings.DATABASES["default"]["NAME"]
    with (
        psycopg.connect(server_url(source_name)) as source,
        psycopg.connect(server_url(restore_database)) as target,
    ):
        compared = 0
        for model in backup_models():
            table, pk = model._meta.db_table, model._meta.pk.column
            # The restore itself is an audit event, written once it is done.
            only = " WHERE action_name <> 'restore'" if table == "core_auditevent" else ""
            sql = f'SELECT * FROM "{table}"{only} ORDER BY "{pk}"'
            expected = rows(source, sql)
            assert rows(target, sql) == expected, table
            compared += len(expected)
        assert compared > 80
        for sql in (
            "SELECT g.name, ct.app_label, p.codename FROM auth_group_permissions gp "
            "JOIN auth_group g ON g.id = gp.group_id JOIN auth_permission p "
            "ON p.id = gp.permission_id JOIN django_content_type ct ON ct.id = p.content_type_id "
            "ORDER BY 1, 2, 3",
            "SELECT user_id, group_id FROM auth_user_groups ORDER BY 1, 2",
            "SELECT contact_id, tag_id FROM crm_contact_tags ORDER BY 1, 2",
        ):
            assert rows(target, sql) == rows(source, sql), sql
        # Sequences were reset: the next id is past every restored one.
        (max_id,) = target.execute("SELECT max(id) FROM crm_contact").fetchone()
        (next_id,) = target.execute(
            "SELECT nextval(pg_get_serial_sequence('crm_contact', 'id'))"
        ).fetchone()
        assert next_id > max_id

    # Restoring again is refused: the database now holds data.
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": server_url(restore_database),
    }
    again = subprocess.run(
        [sys.executable, "manage.py", "restore", str(archive)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert again.returncode != 0 and "already holds data" in again.stderr


def test_the_pg_dump_in_the_archive_is_readable(tmp_path):
    populate()
    archive = backup_create(output_dir=tmp_path)
    with tarfile.open(archive) as tar:
        tar.extract("database.pgdump", path=tmp_path, filter="data")
    listing = subprocess.run(
        ["pg_restore", "--list", str(Path(tmp_path) / "database.pgdump")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "crm_contact" in listing.stdout
