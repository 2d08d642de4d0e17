"""PostgreSQL's own tools for backups: `pg_dump` of the backup's snapshot, and a restore of it
that swaps a whole new `public` schema in, in one transaction.

Why a schema swap: PostgreSQL's DDL is transactional, so one session can run

    BEGIN;
    ALTER SCHEMA public RENAME TO parley_restore_old_<stamp>;
    CREATE SCHEMA public AUTHORIZATION <the old owner>;   -- and the old grants
    <pg_restore --no-owner --no-privileges -f - database.pgdump>
    <checks: row counts against the manifest>  -- a mismatch raises, nothing commits
    COMMIT;

and every other session sees the old schema until COMMIT and the new one after it. The only
write before COMMIT that reaches other sessions is none at all: a failure anywhere (a bad dump,
a check, a full disk on the server, a killed process) rolls it all back and leaves the
database exactly as it was. After COMMIT the old schema is dropped; if the process dies in
between, the next restore drops the leftover (`pg_leftovers_drop`).

The SQL reaches `psql` through this process, never through a pipe from `pg_restore`: `COMMIT`
is written only after `pg_restore` succeeded. If this process dies part-way (SIGKILL included),
`psql` reads end-of-file inside the open transaction, exits, and the server rolls the
transaction back when the connection closes. (`psql --single-transaction` would instead send
COMMIT at end-of-file, committing whatever part had arrived.)

This module knows nothing of Django's models: `analytics.ops.backup` hands it paths, SQL and
connection settings.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

PG_DUMP_MEMBER = "database.pgdump"
OLD_SCHEMA_PREFIX = "parley_restore_old_"
APPLICATION_NAME = "parley-restore"
_COPY = re.compile(rb"^COPY public\.(\S+) ")
_ACL_ITEM = re.compile(r'^"?(?P<grantee>[^=]*?)"?=(?P<privs>[A-Za-z*]*)/')

Say = Callable[[str], None]


class PgRestoreFailed(Exception):
    """The PostgreSQL restore did not commit; the database is as it was."""


def pg_env(settings_dict: dict[str, Any]) -> dict[str, str]:
    """The libpq environment for Django's connection settings (password never on a command
    line, where `ps` shows it)."""
    env = {**os.environ, "PGDATABASE": str(settings_dict["NAME"])}
    for key, var in (
        ("HOST", "PGHOST"),
        ("PORT", "PGPORT"),
        ("USER", "PGUSER"),
        ("PASSWORD", "PGPASSWORD"),
    ):
        if settings_dict.get(key):
            env[var] = str(settings_dict[key])
    sslmode = (settings_dict.get("OPTIONS") or {}).get("sslmode")
    if sslmode:
        env["PGSSLMODE"] = str(sslmode)
    return env


def pg_tools_missing(*names: str) -> list[str]:
    return [name for name in names if shutil.which(name) is None]


def pg_dump_write(
    *, target: Path, env: dict[str, str], snapshot: str | None, timeout: int
) -> dict[str, Any]:
    """`pg_dump --format=custom` of the database into `target`, reading `snapshot` (exported
    by the transaction that wrote the portable files, so both hold the same rows).
    Returns the manifest entry; never raises for pg_dump's own failures."""
    executable = shutil.which("pg_dump")
    if executable is None:
        return {"included": False, "reason": "pg_dump not installed"}
    command = [executable, "--format=custom", "--no-owner", "--no-privileges", f"--file={target}"]
    if snapshot:
        command.append(f"--snapshot={snapshot}")
    try:
        result = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            command, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"included": False, "reason": str(exc)[:500]}
    if result.returncode != 0:
        reason = (result.stderr or "").strip()[:500]
        return {"included": False, "reason": f"pg_dump exit {result.returncode}: {reason}"}
    return {"included": True, "file": PG_DUMP_MEMBER, "snapshot": bool(snapshot)}


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _schema_setup_sql(owner: str, acl: Iterable[str]) -> list[str]:
    """CREATE SCHEMA public with the old one's owner and grants (USAGE, CREATE)."""
    statements = [f"CREATE SCHEMA public AUTHORIZATION {_quote_ident(owner)};"]
    names = {"U": "USAGE", "C": "CREATE"}
    for item in acl:
        match = _ACL_ITEM.match(item)
        if not match or match["grantee"] == owner:
            continue
        privileges = [names[p] for p in match["privs"] if p in names]
        if privileges:
            grantee = _quote_ident(match["grantee"]) if match["grantee"] else "PUBLIC"
            statements.append(f"GRANT {', '.join(privileges)} ON SCHEMA public TO {grantee};")
    return statements


def count_check_sql(expected: dict[str, int]) -> str:
    """One DO block that raises (so nothing commits) if a table's rows differ from `expected`
    ({table: rows}); table names are quoted identifiers, counts integers."""
    checks = []
    for table, rows in expected.items():
        ident = f"public.{_quote_ident(table)}"
        label = _quote_literal(table)
        checks.append(
            f"  SELECT count(*) INTO n FROM {ident};\n"  # noqa: S608 - a quoted identifier
            f"  IF n <> {int(rows)} THEN RAISE EXCEPTION '% has % rows after loading, the "
            f"manifest says {int(rows)}', {label}, n; END IF;"
        )
    body = "\n".join(checks)
    return f"DO $parley$\nDECLARE n bigint;\nBEGIN\n{body}\nEND\n$parley$;"


def pg_restore_swap(
    *,
    dump: Path,
    env: dict[str, str],
    stamp: str,
    schema_owner: str,
    schema_acl: Iterable[str],
    after_sql: Iterable[str],
    say: Say,
    timeout: int,
) -> None:
    """Load `dump` into a new `public` schema and swap it in, in one transaction (see the
    module docstring). `after_sql` runs inside the transaction after the load (fix-ups and
    checks). Raises PgRestoreFailed when it did not commit."""
    missing = pg_tools_missing("pg_restore", "psql")
    if missing:
        raise PgRestoreFailed(f"{', '.join(missing)} not installed")
    old_schema = f"{OLD_SCHEMA_PREFIX}{stamp}"
    env = {**env}
    env.setdefault("PGAPPNAME", APPLICATION_NAME)
    head = [
        "BEGIN;",
        f"ALTER SCHEMA public RENAME TO {_quote_ident(old_schema)};",
        *_schema_setup_sql(schema_owner, schema_acl),
    ]
    tail = ["SET search_path = public;", *after_sql, "COMMIT;"]
    with tempfile.TemporaryFile() as psql_err, tempfile.TemporaryFile() as restore_err:
        psql = subprocess.Popen(  # noqa: S603 - fixed arguments, no shell
            [shutil.which("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--no-password"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=psql_err,
            env=env,
        )
        source = subprocess.Popen(  # noqa: S603 - fixed arguments, no shell
            [shutil.which("pg_restore"), "--no-owner", "--no-privileges", "-f", "-", str(dump)],
            stdout=subprocess.PIPE,
            stderr=restore_err,
            env=env,
        )
        assert psql.stdin is not None and source.stdout is not None
        broken = False
        try:
            psql.stdin.write("\n".join(head).encode() + b"\n")
            for line in source.stdout:
                copy = _COPY.match(line)
                if copy:
                    say(f"loading {copy.group(1).decode(errors='replace')}")
                psql.stdin.write(line)
            restored = source.wait(timeout=timeout)
            if restored == 0:
                # The only way COMMIT reaches the server: after pg_restore succeeded.
                psql.stdin.write(("\n" + "\n".join(tail) + "\n").encode())
            psql.stdin.close()
        except BrokenPipeError:
            broken = True  # psql stopped on an error; its message says which
        finally:
            if source.poll() is None:
                source.kill()
                source.wait()
        try:
            loaded = psql.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            psql.kill()
            psql.wait()
            raise PgRestoreFailed("psql did not finish in time; nothing was restored") from None
        psql_err.seek(0)
        restore_err.seek(0)
        psql_message = psql_err.read().decode(errors="replace").strip()[-2000:]
        restore_message = restore_err.read().decode(errors="replace").strip()[-2000:]
    if source.returncode != 0:
        raise PgRestoreFailed(
            f"pg_restore failed (exit {source.returncode}): {restore_message or psql_message}"
        )
    if broken or loaded != 0:
        raise PgRestoreFailed(f"psql stopped (exit {loaded}): {psql_message}")


def pg_schema_info(cursor) -> tuple[str, list[str]]:
    """Owner and ACL items of the `public` schema."""
    cursor.execute(
        "SELECT nspowner::regrole::text, coalesce(nspacl::text[], '{}') "
        "FROM pg_namespace WHERE nspname = 'public'"
    )
    row = cursor.fetchone()
    if row is None:
        raise PgRestoreFailed("the database has no public schema")
    return row[0], list(row[1])


def pg_leftovers_drop(cursor) -> list[str]:
    """Drop the old schemas of restores that committed but died before dropping them."""
    cursor.execute(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s ORDER BY nspname",
        [OLD_SCHEMA_PREFIX.replace("_", r"\_") + "%"],
    )
    names = [row[0] for row in cursor.fetchall()]
    for name in names:
        cursor.execute(f"DROP SCHEMA {_quote_ident(name)} CASCADE")
    return names
