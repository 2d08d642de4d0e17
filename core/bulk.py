"""Set-based writes of many rows in one statement, for the hot paths.

`update_from_values` replaces Django's `bulk_update`, which writes
`CASE WHEN pk = 1 THEN ... WHEN pk = 2 ...` for every column: the database evaluates that
branch by branch for every row (O(n²) comparisons per column for n rows) and its SQL grows
with n times the columns. Joining the table to the list of (pk, new values) instead costs one
index lookup per row. `insert_ignoring_conflicts` is `bulk_create(ignore_conflicts=True)`
without building model instances.

On PostgreSQL each column travels as one binary array parameter (`unnest(%b::type[], ...)`)
through a server-side binding cursor. Django's default client-side binding quotes every value
into the SQL text in Python, and psycopg's text format escapes every array element with a
regular expression; at a few thousand rows either costs more than the statement itself.
SQLite (3.33+) gets the same statements with a VALUES list.

Values are prepared column by column (`_preparers`): on PostgreSQL a value the field would
pass through unchanged (a str for a text column, an aware datetime for a timestamp...) skips
`Field.get_db_prep_save`, whose per-value cost was a fifth of applying a batch of statuses.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import functools
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from django.db import connections, models

SQLITE_CHUNK = 500  # rows per statement, under SQLite's limit on parameters
POSTGRES_CHUNK = 5000

# Per internal type, the Python types PostgreSQL's `get_db_prep_save` returns unchanged
# (integers are only re-wrapped in psycopg's sized int types, which the array cast makes moot).
_AS_IS: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(("CharField", "TextField", "SlugField", "EmailField", "URLField"), (str,)),
    **dict.fromkeys(
        (
            "IntegerField", "BigIntegerField", "SmallIntegerField", "PositiveIntegerField",
            "PositiveBigIntegerField", "PositiveSmallIntegerField", "AutoField", "BigAutoField",
            "SmallAutoField",
        ),
        (int,),
    ),
    "BooleanField": (bool,),
    "DecimalField": (decimal.Decimal,),
    "UUIDField": (uuid.UUID,),
}  # fmt: skip


def _preparers(connection, fields: Sequence[models.Field]) -> list[Callable[[Any], Any]]:
    """Per field, a function that prepares one value as `get_db_prep_save` would."""
    preparers = []
    for field in fields:
        prepare = functools.partial(field.get_db_prep_save, connection=connection)
        target = field.target_field if field.is_relation else field
        kind = target.get_internal_type()
        if connection.vendor != "postgresql":
            preparers.append(prepare)
        elif kind == "DateTimeField":
            preparers.append(functools.partial(_aware_as_is, prepare=prepare))
        elif kind in _AS_IS:
            preparers.append(functools.partial(_as_is, types=_AS_IS[kind], prepare=prepare))
        else:
            preparers.append(prepare)
    return preparers


def _as_is(value: Any, *, types: tuple[type, ...], prepare: Callable[[Any], Any]) -> Any:
    return value if value is None or type(value) in types else prepare(value)


def _aware_as_is(value: Any, *, prepare: Callable[[Any], Any]) -> Any:
    if value is None or (type(value) is datetime.datetime and value.tzinfo is not None):
        return value
    return prepare(value)  # naive: Django warns and makes it aware


def _prepared(connection, fields: Sequence[models.Field], rows: Iterator[Sequence[Any]]):
    preparers = _preparers(connection, fields)
    return [[prepare(value) for prepare, value in zip(preparers, row, strict=True)] for row in rows]


@contextlib.contextmanager
def _server_binding_cursor(connection) -> Iterator[Any]:
    """A cursor of Django's connection (same transaction, same error translation) that
    sends parameters apart from the SQL."""
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    raw = ServerBindingCursor(connection.connection)
    cursor = (
        connection.make_debug_cursor(raw)
        if connection.queries_logged
        else connection.make_cursor(raw)
    )
    try:
        yield cursor
    finally:
        raw.close()


def _columns(connection, fields: Sequence[models.Field]) -> tuple[str, list[str]]:
    """The quoted column list, and how each value is read (array element or placeholder)."""
    quote = connection.ops.quote_name
    names = ", ".join(quote(field.column) for field in fields)
    if connection.vendor == "postgresql":
        return names, [f"%b::{field.cast_db_type(connection)}[]" for field in fields]
    return names, ["%s"] * len(fields)


def _statements(
    connection, fields: Sequence[models.Field], rows: Sequence[Sequence[Any]]
) -> Iterator[tuple[str, str, list[Any]]]:
    """(prefix, row source, params) per chunk, the source naming its columns like `fields`:
    `unnest(...) AS v (cols)` on PostgreSQL; elsewhere a `WITH v (cols) AS (VALUES ...)`
    prefix and `v`. `rows` hold prepared values in `fields` order."""
    names, slots = _columns(connection, fields)
    if connection.vendor == "postgresql":
        for start in range(0, len(rows), POSTGRES_CHUNK):
            chunk = rows[start : start + POSTGRES_CHUNK]
            params = [[row[i] for row in chunk] for i in range(len(fields))]
            yield "", f"unnest({', '.join(slots)}) AS v ({names})", params
        return
    one = f"({', '.join(slots)})"
    for start in range(0, len(rows), SQLITE_CHUNK):
        chunk = rows[start : start + SQLITE_CHUNK]
        params = [value for row in chunk for value in row]
        yield f"WITH v ({names}) AS (VALUES {', '.join([one] * len(chunk))}) ", "v", params


@contextlib.contextmanager
def _cursor(connection) -> Iterator[Any]:
    if connection.vendor == "postgresql":
        with _server_binding_cursor(connection) as cursor:
            yield cursor
    else:
        with connection.cursor() as cursor:
            yield cursor


def update_from_values(
    model: type[models.Model],
    rows: Sequence[tuple[Any, Mapping[str, Any]]],
    *,
    fields: Sequence[str],
    expressions: Mapping[str, str] | None = None,
    where: str = "",
    using: str = "default",
) -> int:
    """Set `fields` of each row `(pk, {field: value})`; returns how many rows changed.

    Every row names every field. `expressions` maps a field to SQL using `{old}` (the
    column's current value) and `{new}` (the row's value); fields not in it take `{new}`.
    The table is aliased `m`, so an expression may read another column's current value
    (`m.status`); the SET expressions all see the row as it was before the statement.
    `where` is an extra SQL condition on `m` (no parameters), e.g. `m.status = 20`.
    """
    if not rows:
        return 0
    connection = connections[using]
    quote = connection.ops.quote_name
    meta = model._meta
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    templates = expressions or {}
    assignments = ", ".join(
        "{} = {}".format(
            quote(field.column),
            templates.get(field.name, "{new}").format(
                old=f"m.{quote(field.column)}", new=f"v.{quote(field.column)}"
            ),
        )
        for field in columns[1:]
    )
    names = [field.name for field in columns[1:]]
    prepared = _prepared(
        connection, columns, ([key, *(row[name] for name in names)] for key, row in rows)
    )
    pk = quote(meta.pk.column)
    return _run(
        connection, columns, prepared,
        f"{{prefix}}UPDATE {quote(meta.db_table)} AS m SET {assignments} "  # noqa: S608
        f"FROM {{source}} WHERE m.{pk} = v.{pk}{f' AND ({where})' if where else ''}",
    )  # fmt: skip


def insert_ignoring_conflicts(
    model: type[models.Model],
    rows: Sequence[Mapping[str, Any]],
    *,
    fields: Sequence[str],
    returning: Sequence[str] = (),
    using: str = "default",
) -> int | list[tuple[Any, ...]]:
    """Insert rows `{field: value}` (every row names every field), skipping any that would
    break a unique constraint; returns how many were inserted or, with `returning` (field
    names), those columns of each inserted row, as the database holds them."""
    if not rows:
        return [] if returning else 0
    connection = connections[using]
    quote = connection.ops.quote_name
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    prepared = _prepared(connection, columns, ([row[name] for name in fields] for row in rows))
    names = ", ".join(quote(field.column) for field in columns)
    back = [meta.get_field(name) for name in returning]
    tail = f" RETURNING {', '.join(quote(field.column) for field in back)}" if back else ""
    return _run(
        connection, columns, prepared,
        f"{{prefix}}INSERT INTO {quote(meta.db_table)} ({names}) "  # noqa: S608
        f"SELECT * FROM {{source}} WHERE true ON CONFLICT DO NOTHING{tail}",
        returning=back,
    )  # fmt: skip


def _run(
    connection,
    fields: Sequence[models.Field],
    rows: list[list[Any]],
    template: str,
    *,
    returning: Sequence[models.Field] = (),
) -> int | list[tuple[Any, ...]]:
    """Execute `template` (with `{prefix}` and `{source}` for the rows) chunk by chunk;
    returns the rows affected, or the rows it returned (converted as the ORM would) when
    `returning` names their fields. Identifiers in it come from model metadata, quoted;
    every value is a parameter."""
    affected = 0
    returned: list[tuple[Any, ...]] = []
    with _cursor(connection) as cursor:
        for prefix, source, params in _statements(connection, fields, rows):
            before = _changes(connection)
            cursor.execute(template.format(prefix=prefix, source=source), params)
            if returning:
                returned += cursor.fetchall()
            else:
                affected += _rowcount(connection, cursor, before)
    if not returning:
        return affected
    columns = [field.get_col(field.model._meta.db_table) for field in returning]
    converters = [
        [*connection.ops.get_db_converters(col), *col.get_db_converters(connection)]
        for col in columns
    ]
    if any(converters):
        steps = list(zip(columns, converters, strict=True))
        returned = [
            tuple(_converted(value, col, fns, connection)
                  for value, (col, fns) in zip(row, steps, strict=True))
            for row in returned
        ]  # fmt: skip
    return returned


def _changes(connection) -> int:
    return connection.connection.total_changes if connection.vendor == "sqlite" else 0


def _rowcount(connection, cursor, before: int) -> int:
    """Rows the last statement changed. Python's sqlite3 reports -1 for a statement that
    starts with WITH, as SQLite's do here: its connection's change counter tells instead."""
    if cursor.rowcount < 0 and connection.vendor == "sqlite":
        return _changes(connection) - before
    return cursor.rowcount


def _converted(value: Any, col: Any, converters: list, connection) -> Any:
    for convert in converters:
        value = convert(value, col, connection)
    return value
