"""Append-only tables guarded by the database itself, and the one door through them.

Some rows are proof (consent events): no UPDATE or DELETE may change them, whatever path
issues it (the ORM, a bulk `QuerySet.update()`, raw SQL, a shell). Their app creates database
triggers in a migration (`append_only_trigger_sql`); the triggers refuse unless the session
is in *maintenance*, which only whole-database operations enter: `manage.py flush` (which
tests use between transactional tests) and a restore that empties tables before loading a
backup. Everything else, including an operator's raw SQL, meets the trigger.

How maintenance is signalled, per database:
- PostgreSQL: the transaction-local setting `parley.maintenance = 'on'` (`set_config(...,
  true)`), which the trigger function reads; it ends with the transaction.
- SQLite: a SQL function `parley_guard_locked()` registered on every connection Django opens;
  it answers 0 inside `append_only_maintenance()` and 1 otherwise. A connection that lacks it
  (the sqlite3 shell) gets "no such function" from the trigger: refused all the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections, transaction

SQLITE_FUNCTION = "parley_guard_locked"
PG_SETTING = "parley.maintenance"


def sqlite_guard_register(sender, connection, **kwargs) -> None:
    """`connection_created` receiver: give each SQLite connection the guard function."""
    if connection.vendor != "sqlite":
        return
    wrapper = connection

    def locked() -> int:
        return 0 if getattr(wrapper, "parley_maintenance", False) else 1

    connection.connection.create_function(SQLITE_FUNCTION, 0, locked)


@contextmanager
def append_only_maintenance(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Let the statements inside change guarded tables: for whole-database operations only
    (flush, restore). Opens a transaction (or a savepoint) and closes the door when it ends."""
    connection = connections[using]
    with transaction.atomic(using=using):
        previous = getattr(connection, "parley_maintenance", False)
        connection.parley_maintenance = True
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config(%s, 'on', true)", [PG_SETTING])
        try:
            yield
        finally:
            connection.parley_maintenance = previous
        if connection.vendor == "postgresql" and not previous:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config(%s, '', true)", [PG_SETTING])


def append_only_trigger_sql(
    *, table: str, vendor: str, mutable: str = "", message: str
) -> tuple[list[str], list[str]]:
    """(forward, reverse) SQL that makes `table` append-only on `vendor`.

    `mutable` is a SQL condition over OLD and NEW under which an UPDATE is still allowed (the
    rows' facts unchanged; e.g. only the row they hang from moved); empty: none is. DELETE
    (and TRUNCATE on PostgreSQL) is always refused outside maintenance.
    """
    name = f"{table}_append_only"
    message_sql = message.replace("'", "''")
    if vendor == "postgresql":
        allowed = f"IF TG_OP = 'UPDATE' AND ({mutable}) THEN RETURN NEW; END IF;" if mutable else ""
        forward = [
            f"""CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$
BEGIN
    IF coalesce(current_setting('{PG_SETTING}', true), '') = 'on' THEN
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END IF;
    {allowed}
    RAISE EXCEPTION '{message_sql} (% refused)', TG_OP USING ERRCODE = '23000';
END;
$$ LANGUAGE plpgsql""",
            f"CREATE TRIGGER {name}_row BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {name}()",
            f"CREATE TRIGGER {name}_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
        ]
        reverse = [
            f"DROP TRIGGER IF EXISTS {name}_row ON {table}",
            f"DROP TRIGGER IF EXISTS {name}_truncate ON {table}",
            f"DROP FUNCTION IF EXISTS {name}()",
        ]
        return forward, reverse
    if vendor == "sqlite":
        update_when = f"{SQLITE_FUNCTION}()" + (f" AND NOT ({mutable})" if mutable else "")
        forward = [
            f"CREATE TRIGGER {name}_update BEFORE UPDATE ON {table} WHEN {update_when} "
            f"BEGIN SELECT RAISE(ABORT, '{message_sql} (UPDATE refused)'); END",
            f"CREATE TRIGGER {name}_delete BEFORE DELETE ON {table} WHEN {SQLITE_FUNCTION}() "
            f"BEGIN SELECT RAISE(ABORT, '{message_sql} (DELETE refused)'); END",
        ]
        reverse = [f"DROP TRIGGER IF EXISTS {name}_update", f"DROP TRIGGER IF EXISTS {name}_delete"]
        return forward, reverse
    return [], []
