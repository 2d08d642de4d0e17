"""Backups of every Parley table in a portable archive, and restoring one into a new database.

An archive (`parley-backup-<UTC time>.tar.gz` in BACKUP_DIR) holds:

- `manifest.json`: format version, time, database vendor, the applied migrations, and per
  model its file, row count and SHA-256;
- `data/<app_label>.<model>.jsonl`: one object per line in Django's serialization format
  (`{"model", "pk", "fields"}`), written in chunks so memory stays flat whatever the size.
  Links to permissions and content types are stored by natural key (their ids differ between
  databases); everything else keeps its primary key;
- `database.pgdump` on PostgreSQL when `pg_dump` is installed: a `pg_dump --format=custom`
  of the whole database, for `pg_restore` (faster for large databases, same PostgreSQL only).

Included: the apps core, crm, messaging, analytics and django_celery_beat, and auth users and
groups. Not included: worker heartbeats (process state), sessions, sign-in lock-outs, uploaded
and downloaded media files (copy MEDIA_ROOT separately) and secrets (they live in the
environment, never in the database).

Restoring (`manage.py restore`) goes into a migrated database that holds no data, checks every
checksum, loads everything in one transaction, compares row counts with the manifest, and
resets PostgreSQL sequences; any mismatch rolls it all back.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import serializers
from django.core.management import call_command
from django.core.management.color import no_style
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from analytics.ops.models import ACTIVE_JOB_STATES, JobRun, JobState
from core.db_guards import append_only_maintenance
from core.errors import DomainError

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
CHUNK = 2000
BACKUP_APPS = ("core", "crm", "messaging", "analytics", "django_celery_beat")
# State of running processes, not data: a restored heartbeat would show a worker long gone.
RUNTIME_MODELS = ("core.workerheartbeat",)
# Referenced by natural key: their ids are assigned by `migrate` and differ between databases.
NATURAL_KEY_MODELS = ("contenttypes.contenttype", "auth.permission")
# A database "holds data" when any of these has rows: only people and traffic fill them.
# `migrate` itself seeds reference rows (role groups, schedules, notification types...),
# which a restore replaces with the backup's.
DATA_MODELS = (
    "auth.user", "crm.contact", "messaging.channel", "messaging.message",
    "messaging.webhookevent",
)  # fmt: skip
ARCHIVE_NAME = re.compile(r"^parley-backup-\d{8}T\d{6}Z(-\d+)?\.tar\.gz$")
PG_DUMP_MEMBER = "database.pgdump"

Say = Callable[[str], None]


class _Encoder(DjangoJSONEncoder):
    """DjangoJSONEncoder, but times keep their microseconds (it cuts them to milliseconds)."""

    def default(self, o):
        if isinstance(o, datetime | time):
            return o.isoformat()
        return super().default(o)


class RestoreError(DomainError):
    code = "restore_refused"


def _quiet(message: str) -> None:
    return None


# --- Which tables ------------------------------------------------------------------------------


def _label(model: type[models.Model]) -> str:
    return model._meta.label_lower


def backup_models() -> list[type[models.Model]]:
    """Every managed, concrete model of the backed-up apps, parents before children."""
    chosen: list[type[models.Model]] = [apps.get_model("auth", "Group"), get_user_model()]
    for app_label in BACKUP_APPS:
        chosen += [
            m
            for m in apps.get_app_config(app_label).get_models()
            if m._meta.managed
            and not m._meta.proxy
            and m not in chosen
            and _label(m) not in RUNTIME_MODELS
        ]
    return _dependency_order(chosen)


def _dependency_order(chosen: list[type[models.Model]]) -> list[type[models.Model]]:
    remaining = list(chosen)
    ordered: list[type[models.Model]] = []
    while remaining:
        for model in remaining:
            targets = {
                f.related_model
                for f in model._meta.concrete_fields
                if f.is_relation and f.related_model is not model
            }
            if not (targets & set(remaining)):
                break
        else:
            model = remaining[0]  # a cycle: deferred constraints take care of it
        ordered.append(model)
        remaining.remove(model)
    return ordered


def _natural_fields(model: type[models.Model]) -> dict[str, str]:
    """Relation fields of `model` that point at a natural-key model: {field name: label}."""
    found = {}
    for f in [*model._meta.concrete_fields, *model._meta.many_to_many]:
        if f.is_relation and f.related_model and _label(f.related_model) in NATURAL_KEY_MODELS:
            found[f.name] = _label(f.related_model)
    return found


def _natural_maps() -> dict[str, dict[Any, list]]:
    """pk -> natural key of every content type and permission in this database."""
    ct_model = apps.get_model("contenttypes", "ContentType")
    perm_model = apps.get_model("auth", "Permission")
    return {
        "contenttypes.contenttype": {
            ct.pk: list(ct.natural_key()) for ct in ct_model.objects.all()
        },
        "auth.permission": {
            p.pk: list(p.natural_key()) for p in perm_model.objects.select_related("content_type")
        },
    }


# --- Backing up --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupFile:
    name: str
    size: int
    modified: datetime


def backup_dir() -> Path:
    return Path(settings.BACKUP_DIR)


def backups_list() -> list[BackupFile]:
    """The archives in BACKUP_DIR, newest first."""
    folder = backup_dir()
    if not folder.is_dir():
        return []
    files = []
    for entry in os.scandir(folder):
        if entry.is_file() and ARCHIVE_NAME.match(entry.name):
            stat = entry.stat()
            files.append(
                BackupFile(entry.name, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))
            )
    return sorted(files, key=lambda f: f.name, reverse=True)


def backup_file(name: str) -> Path | None:
    """The archive called `name`, looked up in the directory listing (never joined blindly)."""
    for entry in backups_list():
        if entry.name == name:
            return backup_dir() / entry.name
    return None


def _applied_migrations() -> list[str]:
    recorder = MigrationRecorder(connection)
    return sorted(f"{app}.{name}" for app, name in recorder.applied_migrations())


def _chunks(iterable: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in iterable:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _dump_model(
    model: type[models.Model],
    path: Path,
    natural: dict[str, dict[Any, list]],
    exclude_pks: Iterable[Any] = (),
) -> tuple[int, str]:
    """Write `model`'s rows as JSON Lines; return (rows, sha256)."""
    digest = hashlib.sha256()
    rows = 0
    natural_fields = _natural_fields(model)
    m2m_names = [
        f.name for f in model._meta.many_to_many if f.remote_field.through._meta.auto_created
    ]
    queryset = model._base_manager.order_by("pk")
    exclude_pks = list(exclude_pks)
    if exclude_pks:
        queryset = queryset.exclude(pk__in=exclude_pks)
    with path.open("wb") as out:
        for chunk in _chunks(queryset.iterator(chunk_size=CHUNK), CHUNK):
            if m2m_names:
                models.prefetch_related_objects(chunk, *m2m_names)
            for item in serializers.serialize("python", chunk):
                fields = item["fields"]
                for name, target in natural_fields.items():
                    value = fields.get(name)
                    if isinstance(value, list):
                        fields[name] = [natural[target][v] for v in value]
                    elif value is not None:
                        fields[name] = natural[target][value]
                line = (
                    json.dumps(
                        item, cls=_Encoder, ensure_ascii=False, separators=(",", ":")
                    ).encode()
                    + b"\n"
                )
                out.write(line)
                digest.update(line)
                rows += 1
    return rows, digest.hexdigest()


class _Snapshot:
    """On PostgreSQL, read every table in one REPEATABLE READ transaction (a consistent
    snapshot). SQLite is left alone: its transactions take the write lock."""

    def __enter__(self):
        self.atomic = None
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            self.atomic = transaction.atomic()
            self.atomic.__enter__()
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return self

    def __exit__(self, *exc):
        if self.atomic is not None:
            return self.atomic.__exit__(*exc)
        return False


def _pg_dump(target: Path, say: Say) -> dict[str, Any]:
    executable = shutil.which("pg_dump")
    if executable is None:
        say("pg_dump is not installed: the archive has the portable data only")
        return {"included": False, "reason": "pg_dump not installed"}
    db = connection.settings_dict
    env = {**os.environ, "PGDATABASE": str(db["NAME"])}
    for key, var in (
        ("HOST", "PGHOST"),
        ("PORT", "PGPORT"),
        ("USER", "PGUSER"),
        ("PASSWORD", "PGPASSWORD"),
    ):
        if db.get(key):
            env[var] = str(db[key])
    command = [executable, "--format=custom", "--no-owner", "--no-privileges", f"--file={target}"]
    try:
        result = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            command,
            env=env,
            capture_output=True,
            text=True,
            timeout=settings.JOB_TIME_LIMIT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        say(f"pg_dump failed: {exc}")
        return {"included": False, "reason": str(exc)[:500]}
    if result.returncode != 0:
        reason = (result.stderr or "").strip()[:500]
        say(f"pg_dump failed (exit {result.returncode}): {reason}")
        return {"included": False, "reason": reason}
    say(f"pg_dump: {target.stat().st_size} bytes")
    return {"included": True, "file": PG_DUMP_MEMBER, "sha256": _sha256_file(target)}


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _archive_path(folder: Path) -> Path:
    stamp = timezone.now().astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"parley-backup-{stamp}.tar.gz"
    n = 1
    while path.exists():
        path = folder / f"parley-backup-{stamp}-{n}.tar.gz"
        n += 1
    return path


def backup_create(
    *,
    output_dir: Path | str | None = None,
    log: Say | None = None,
    progress: Callable[[float], None] | None = None,
    exclude_job_run_id: int | None = None,
    pg_dump: bool = True,
) -> Path:
    """Write a backup archive and return its path (see the module docstring for the format)."""
    say = log or _quiet
    folder = Path(output_dir) if output_dir else backup_dir()
    folder.mkdir(parents=True, exist_ok=True)
    chosen = backup_models()
    manifest: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "created_at": timezone.now().isoformat(),
        "vendor": connection.vendor,
        "models": [],
    }
    with tempfile.TemporaryDirectory(dir=folder, prefix=".backup-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        with _Snapshot():
            manifest["migrations"] = _applied_migrations()
            natural = _natural_maps()
            job_run_label = "analytics.jobrun"
            for index, model in enumerate(chosen):
                label = _label(model)
                path = data_dir / f"{label}.jsonl"
                excluded = (
                    [exclude_job_run_id] if label == job_run_label and exclude_job_run_id else []
                )
                rows, sha = _dump_model(model, path, natural, excluded)
                manifest["models"].append(
                    {
                        "label": label,
                        "table": model._meta.db_table,
                        "file": f"data/{path.name}",
                        "rows": rows,
                        "sha256": sha,
                        "natural_keys": _natural_fields(model),
                    }
                )
                say(f"{label}: {rows} rows")
                if progress is not None:
                    progress(90 * (index + 1) / len(chosen))
        dump_path = Path(tmp) / PG_DUMP_MEMBER
        manifest["pg_dump"] = (
            _pg_dump(dump_path, say)
            if pg_dump and connection.vendor == "postgresql"
            else {"included": False, "reason": f"database is {connection.vendor}"}
        )
        final = _archive_path(folder)
        partial = final.with_name(final.name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            payload = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(payload)
            info.mtime = int(timezone.now().timestamp())
            tar.addfile(info, io.BytesIO(payload))
            for entry in manifest["models"]:
                tar.add(Path(tmp) / entry["file"], arcname=entry["file"])
            if manifest["pg_dump"].get("included"):
                tar.add(dump_path, arcname=PG_DUMP_MEMBER)
        os.chmod(partial, 0o600)  # users' password hashes are in there
        os.replace(partial, final)
    if progress is not None:
        progress(100)
    total = sum(m["rows"] for m in manifest["models"])
    say(f"backup written: {final} ({final.stat().st_size} bytes, {total} rows)")
    logger.info("backup written to %s (%s rows)", final, total)
    return final


# --- Restoring ---------------------------------------------------------------------------------


def database_data_tables() -> list[str]:
    """Labels of the data tables that have rows (empty list: the database holds no data)."""
    return [label for label in DATA_MODELS if apps.get_model(label)._base_manager.exists()]


def _read_manifest(tar: tarfile.TarFile) -> dict[str, Any]:
    try:
        member = tar.extractfile("manifest.json")
    except KeyError:
        member = None
    if member is None:
        raise RestoreError("The archive has no manifest.json: is it a Parley backup?")
    manifest = json.load(member)
    if manifest.get("format") != FORMAT_VERSION:
        raise RestoreError(f"Unsupported backup format {manifest.get('format')!r}.")
    return manifest


def _member_lines(tar: tarfile.TarFile, name: str) -> Iterator[bytes]:
    try:
        member = tar.extractfile(name)
    except KeyError:
        member = None
    if member is None:
        raise RestoreError(f"The archive lacks {name}.")
    yield from member


def backup_verify(archive: Path | str) -> dict[str, Any]:
    """Check every file's checksum and row count against the manifest; return the manifest."""
    with tarfile.open(archive, "r:gz") as tar:
        manifest = _read_manifest(tar)
        for entry in manifest["models"]:
            digest, rows = hashlib.sha256(), 0
            for line in _member_lines(tar, entry["file"]):
                digest.update(line)
                rows += 1
            if digest.hexdigest() != entry["sha256"]:
                raise RestoreError(f"Checksum mismatch in {entry['file']}: the archive is damaged.")
            if rows != entry["rows"]:
                raise RestoreError(
                    f"{entry['file']} has {rows} rows, the manifest says {entry['rows']}."
                )
    return manifest


def _check_migrations(manifest: dict[str, Any], say: Say) -> None:
    applied = set(_applied_migrations())
    backed = set(manifest.get("migrations", []))
    missing = sorted(backed - applied)
    if missing:
        raise RestoreError(
            "This database lacks migrations the backup was made with "
            f"({', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}): run "
            "`manage.py migrate` with the same (or newer) code first."
        )
    newer = sorted(applied - backed)
    if newer:
        say(f"note: the database has {len(newer)} migrations newer than the backup")


def _reverse_natural_maps() -> dict[str, dict[tuple, Any]]:
    return {
        label: {tuple(key): pk for pk, key in mapping.items()}
        for label, mapping in _natural_maps().items()
    }


def _from_natural(value: Any, mapping: dict[tuple, Any], label: str) -> Any:
    try:
        return mapping[tuple(value)]
    except KeyError:
        raise RestoreError(
            f"{label} {value!r} does not exist in this database: run `manage.py migrate` first."
        ) from None


def _load_model(
    model: type[models.Model],
    entry: dict[str, Any],
    tar: tarfile.TarFile,
    natural: dict[str, dict[tuple, Any]],
) -> int:
    alias = connection.alias
    fields = list(model._meta.concrete_fields)
    batch_size = max(1, min(500, connection.ops.bulk_batch_size(fields, [None] * 500)))
    natural_fields: dict[str, str] = entry.get("natural_keys", {})
    loaded = 0
    for lines in _chunks(_member_lines(tar, entry["file"]), batch_size):
        items = [json.loads(line) for line in lines]
        for item in items:
            for name, label in natural_fields.items():
                value = item["fields"].get(name)
                if value is None:
                    continue
                mapping = natural[label]
                if value and isinstance(value[0], list):
                    item["fields"][name] = [_from_natural(v, mapping, label) for v in value]
                elif value:
                    item["fields"][name] = _from_natural(value, mapping, label)
        # Fields the backup has but this code no longer does are ignored (a newer release).
        objects = list(
            serializers.deserialize("python", items, using=alias, ignorenonexistent=True)
        )
        instances = [d.object for d in objects]
        # raw=True: values exactly as stored (no auto_now), no signals.
        model._base_manager.db_manager(alias)._insert(instances, fields=fields, raw=True)
        for obj in objects:
            for name, pks in (obj.m2m_data or {}).items():
                field = model._meta.get_field(name)
                through = field.remote_field.through
                source, target = field.m2m_field_name(), field.m2m_reverse_field_name()
                through._base_manager.db_manager(alias).bulk_create(
                    [through(**{f"{source}_id": obj.object.pk, f"{target}_id": pk}) for pk in pks]
                )
        loaded += len(instances)
    return loaded


def _interrupt_active_jobs() -> int:
    """Runs queued or running when the backup was made belong to the old system: never start
    them in the new one (the job sweeper would)."""

    return JobRun.objects.filter(state__in=ACTIVE_JOB_STATES).update(
        state=JobState.FAILED,
        finished_at=timezone.now(),
        error="Interrupted: the database was restored from a backup made while it ran.",
    )


def _tables_empty(chosen: list[type[models.Model]]) -> None:
    """Empty the tables a backup restores, append-only ones too (core.db_guards)."""
    quote = connection.ops.quote_name
    with append_only_maintenance(), connection.cursor() as cursor:
        for model in reversed(chosen):
            for field in model._meta.many_to_many:
                through = field.remote_field.through
                if through._meta.auto_created:
                    cursor.execute(f"DELETE FROM {quote(through._meta.db_table)}")  # noqa: S608
            cursor.execute(f"DELETE FROM {quote(model._meta.db_table)}")  # noqa: S608


def _sequence_models(chosen: list[type[models.Model]]) -> list[type[models.Model]]:
    through = [
        f.remote_field.through
        for m in chosen
        for f in m._meta.many_to_many
        if f.remote_field.through._meta.auto_created
    ]
    return [*chosen, *through]


def backup_restore(
    *, archive: Path | str, force: bool = False, log: Say | None = None
) -> dict[str, int]:
    """Restore `archive` into this (migrated) database; returns rows per model label.

    Refuses a database that holds data (users, contacts, messages, ...) unless `force`, which
    flushes every table first. Loads in one transaction: a checksum, count or constraint
    failure leaves the database as it was.
    """
    say = log or _quiet
    archive = Path(archive)
    if not archive.is_file():
        raise RestoreError(f"No such archive: {archive}")
    manifest = backup_verify(archive)
    say(f"archive verified: {len(manifest['models'])} tables, made {manifest['created_at']}")
    _check_migrations(manifest, say)
    try:
        chosen = [apps.get_model(entry["label"]) for entry in manifest["models"]]
    except LookupError as exc:
        raise RestoreError(f"The backup has a table this code does not know: {exc}") from exc
    holding = database_data_tables()
    if holding and not force:
        raise RestoreError(
            "The database already holds data (" + ", ".join(holding) + "): restore into an "
            "empty database, or pass --force to delete everything in it first."
        )
    if holding:
        say("--force: flushing the database")
        call_command("flush", interactive=False, verbosity=0)
    counts: dict[str, int] = {}
    with tarfile.open(archive, "r:gz") as tar, transaction.atomic():
        with connection.constraint_checks_disabled():
            # migrate created role groups and schedules; the backup has its own. Plain DELETEs:
            # no signals (django-celery-beat's would write a row the backup also holds).
            _tables_empty(chosen)
            natural = _reverse_natural_maps()
            for model, entry in zip(chosen, manifest["models"], strict=True):
                counts[entry["label"]] = _load_model(model, entry, tar, natural)
                say(f"{entry['label']}: {counts[entry['label']]} rows")
        connection.check_constraints(table_names=[m._meta.db_table for m in chosen])
        for model, entry in zip(chosen, manifest["models"], strict=True):
            actual = model._base_manager.count()
            if actual != entry["rows"]:
                raise RestoreError(
                    f"{entry['label']}: {actual} rows after loading, the manifest says "
                    f"{entry['rows']}; nothing was restored."
                )
        interrupted = _interrupt_active_jobs()
        if interrupted:
            say(f"{interrupted} job runs that were active at backup time marked failed")
        statements = connection.ops.sequence_reset_sql(no_style(), _sequence_models(chosen))
        if statements:
            with connection.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)
    total = sum(counts.values())
    say(f"restored {total} rows into {len(counts)} tables")
    logger.info("restored backup %s (%s rows)", archive.name, total)
    return counts
