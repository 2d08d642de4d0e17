"""Backups of every Parley table (and the uploaded media) in a portable archive, and restoring
one so that it either completes or leaves the database exactly as it was.

An archive (`parley-backup-<UTC time>.tar.gz` in BACKUP_DIR) holds:

- `manifest.json`: format version, time, database vendor, the applied migrations, per model
  its file, row count and SHA-256, the pg_dump's and every media file's SHA-256;
- `data/<app_label>.<model>.jsonl`: one object per line in Django's serialization format
  (`{"model", "pk", "fields"}`), written in chunks so memory stays flat whatever the size.
  Links to permissions and content types are stored by natural key (their ids differ between
  databases); everything else keeps its primary key;
- `database.pgdump` on PostgreSQL when `pg_dump` is installed: a `pg_dump --format=custom`
  of the whole database, read from the same snapshot as the JSON Lines (same rows);
- `media/...`: every file under MEDIA_ROOT (BACKUP_INCLUDE_MEDIA).

Included: the apps core, crm, messaging, analytics, django_celery_beat and the second factors
(otp_totp, otp_static), and auth users and
groups. Not in the portable files: worker heartbeats (process state), sessions, sign-in
lock-outs and secrets (they live in the environment, never in the database).

Files on disk: BACKUP_DIR is 0700 and archives 0600 (they hold password hashes and every
contact). An archive is written as `<name>.partial`, created owner-only, and renamed when
complete; any failure (a full disk included) removes the partial file.

Restoring (`manage.py restore`, `backup_restore`) verifies every checksum first, then:

- on PostgreSQL with the archive's pg_dump and the same migrations: loads the dump into a new
  `public` schema and swaps it in, in one transaction (`analytics.ops.backup_pg`);
- otherwise (SQLite, another vendor, other migrations): deletes the rows of every backed-up
  table and loads the JSON Lines in one transaction, compares row counts with the manifest and
  resets sequences. Nothing is deleted outside that transaction.

Either way a failure anywhere, or a killed process, rolls everything back. A database that
holds data is replaced only with `force`. Leftovers of an interrupted run (temporary folders,
partial files, an old schema) are removed by the next run.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import logging
import os
import re
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any, BinaryIO

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import serializers
from django.core.management.color import no_style
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, connection, models, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from analytics.ops.backup_media import (
    MediaError,
    media_add,
    media_inventory,
    media_restore,
    media_verify,
)
from analytics.ops.backup_pg import (
    PG_DUMP_MEMBER,
    PgRestoreFailed,
    count_check_sql,
    pg_dump_write,
    pg_env,
    pg_leftovers_drop,
    pg_restore_swap,
    pg_schema_info,
    pg_tools_missing,
)
from analytics.ops.models import ACTIVE_JOB_STATES, JobRun, JobState
from core.db_guards import append_only_maintenance
from core.errors import DomainError

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
CHUNK = 2000
BACKUP_APPS = (
    "core",
    "crm",
    "messaging",
    "analytics",
    "django_celery_beat",
    # Staff's second factors: without them a restore would make every Admin enrol again.
    "otp_totp",
    "otp_static",
)
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
ARCHIVE_NAME = re.compile(r"^parley-backup-(\d{8}T\d{6}Z)(?:-(\d+))?\.tar\.gz$")
BACKUP_JOB = "backup"

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


@dataclass(frozen=True)
class WrittenBackup:
    """What `backup_write` wrote: the record a scheduled backup keeps on its JobRun."""

    path: Path
    size: int
    sha256: str
    rows: int
    media_files: int
    media_bytes: int


def backup_dir() -> Path:
    return Path(settings.BACKUP_DIR)


def _prepare_dir(folder: Path, *, owner_only: bool) -> None:
    """Create `folder` owner-only (0700); BACKUP_DIR itself is made 0700 if it is not, but an
    existing folder given with --output is left as the operator made it."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if owner_only and (folder.stat().st_mode & 0o777) != 0o700:
        os.chmod(folder, 0o700)


@contextmanager
def _folder_lock(folder: Path, name: str, *, blocking: bool = True) -> Iterator[bool]:
    """An advisory lock file in `folder` (the kernel frees it when the process dies), so that
    whatever temporary files a run finds under the lock belong to a run that is gone."""
    fd = os.open(folder / name, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _leftovers_remove(folder: Path, *, prefix: str, partials: bool, say: Say) -> None:
    """Remove what an interrupted run left (called under the folder's lock)."""
    for entry in os.scandir(folder):
        stale = entry.name.startswith(prefix) or (
            partials and entry.name.endswith(".partial") and entry.is_file(follow_symlinks=False)
        )
        if not stale:
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            Path(entry.path).unlink(missing_ok=True)
        say(f"removed {entry.name}, left by an interrupted run")


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
    return sorted(files, key=_archive_order, reverse=True)


def _archive_order(entry: BackupFile) -> tuple[str, int]:
    """Time, then the -N suffix of archives written in the same second."""
    match = ARCHIVE_NAME.match(entry.name)
    return (match.group(1), int(match.group(2) or 0)) if match else ("", 0)


def backup_file(name: str) -> Path | None:
    """The archive called `name`, looked up in the directory listing (never joined blindly)."""
    for entry in backups_list():
        if entry.name == name:
            return backup_dir() / entry.name
    return None


def backups_rotate(*, keep: int | None = None, log: Say | None = None) -> list[str]:
    """Delete all but the newest `keep` (BACKUP_KEEP) archives in BACKUP_DIR; return their
    names. Only files named like archives are ever touched."""
    keep = settings.BACKUP_KEEP if keep is None else keep
    if keep < 1:
        raise ValueError("BACKUP_KEEP must be at least 1: rotation never deletes every backup")
    removed = []
    for old in backups_list()[keep:]:
        (backup_dir() / old.name).unlink(missing_ok=True)
        removed.append(old.name)
        (log or _quiet)(f"rotated out {old.name}")
    return removed


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
    snapshot) and export it, so that pg_dump reads the very same rows. SQLite is left alone:
    its transactions take the write lock."""

    def __enter__(self):
        self.atomic = None
        self.exported: str | None = None
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            self.atomic = transaction.atomic()
            self.atomic.__enter__()
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                cursor.execute("SELECT pg_export_snapshot()")
                self.exported = cursor.fetchone()[0]
        return self

    def __exit__(self, *exc):
        if self.atomic is not None:
            return self.atomic.__exit__(*exc)
        return False


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


def _open_partial(path: Path) -> BinaryIO:
    """Create `path` owner-only from its first byte (never world-readable, whatever the umask),
    and refuse to reuse an existing file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(fd, "wb")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def backup_write(
    *,
    output_dir: Path | str | None = None,
    log: Say | None = None,
    progress: Callable[[float], None] | None = None,
    exclude_job_run_id: int | None = None,
    pg_dump: bool = True,
    media: bool | None = None,
) -> WrittenBackup:
    """Write a backup archive (see the module docstring for the format and the file safety)."""
    say = log or _quiet
    folder = Path(output_dir) if output_dir else backup_dir()
    _prepare_dir(folder, owner_only=not output_dir)
    include_media = settings.BACKUP_INCLUDE_MEDIA if media is None else media
    chosen = backup_models()
    manifest: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "created_at": timezone.now().isoformat(),
        "vendor": connection.vendor,
        "excluded_job_run": exclude_job_run_id,
        "models": [],
    }
    with _folder_lock(folder, ".backup.lock"):
        _leftovers_remove(folder, prefix=".backup-", partials=True, say=say)
        with tempfile.TemporaryDirectory(dir=folder, prefix=".backup-") as tmp:
            data_dir = Path(tmp) / "data"
            data_dir.mkdir()
            dump_path = Path(tmp) / PG_DUMP_MEMBER
            with _Snapshot() as snapshot:
                manifest["migrations"] = _applied_migrations()
                natural = _natural_maps()
                for index, model in enumerate(chosen):
                    label = _label(model)
                    path = data_dir / f"{label}.jsonl"
                    excluded = (
                        [exclude_job_run_id]
                        if label == "analytics.jobrun" and exclude_job_run_id
                        else []
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
                        progress(80 * (index + 1) / len(chosen))
                manifest["pg_dump"] = _pg_dump(dump_path, snapshot.exported, say, enabled=pg_dump)
            media_files = media_inventory(Path(settings.MEDIA_ROOT)) if include_media else []
            manifest["media"] = {
                "included": include_media,
                "files": media_files,
                "bytes": sum(f["size"] for f in media_files),
            }
            if include_media:
                say(f"media: {len(media_files)} files, {manifest['media']['bytes']} bytes")
            final = _archive_path(folder)
            partial = final.with_name(final.name + ".partial")
            try:
                with _open_partial(partial) as raw:
                    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
                        payload = json.dumps(manifest, indent=2).encode()
                        info = tarfile.TarInfo("manifest.json")
                        info.size = len(payload)
                        info.mode = 0o600
                        info.mtime = int(timezone.now().timestamp())
                        tar.addfile(info, io.BytesIO(payload))
                        for entry in manifest["models"]:
                            tar.add(Path(tmp) / entry["file"], arcname=entry["file"])
                        if manifest["pg_dump"].get("included"):
                            tar.add(dump_path, arcname=PG_DUMP_MEMBER)
                        media_add(tar, Path(settings.MEDIA_ROOT), media_files)
                    raw.flush()
                    os.fsync(raw.fileno())
                size, sha256 = partial.stat().st_size, _sha256_file(partial)
                os.replace(partial, final)
                _fsync_dir(folder)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
    if progress is not None:
        progress(100)
    total = sum(m["rows"] for m in manifest["models"])
    say(f"backup written: {final} ({size} bytes, {total} rows, sha256 {sha256})")
    logger.info("backup written to %s (%s rows, %s bytes)", final, total, size)
    return WrittenBackup(
        path=final,
        size=size,
        sha256=sha256,
        rows=total,
        media_files=len(media_files),
        media_bytes=manifest["media"]["bytes"],
    )


def backup_create(**options: Any) -> Path:
    """`backup_write`, returning only the archive's path."""
    return backup_write(**options).path


def _pg_dump(target: Path, snapshot: str | None, say: Say, *, enabled: bool) -> dict[str, Any]:
    if not enabled or connection.vendor != "postgresql":
        reason = "not asked for" if enabled is False else f"database is {connection.vendor}"
        return {"included": False, "reason": reason}
    entry = pg_dump_write(
        target=target,
        env=pg_env(connection.settings_dict),
        snapshot=snapshot,
        timeout=settings.JOB_TIME_LIMIT,
    )
    if not entry["included"]:
        say(f"pg_dump skipped: {entry['reason']}; the archive has the portable data only")
        return entry
    say(f"pg_dump: {target.stat().st_size} bytes")
    return {**entry, "sha256": _sha256_file(target)}


def backup_runs(limit: int = 20):
    """The latest recorded backups (runs of the `backup` job), newest first."""
    return JobRun.objects.filter(name=BACKUP_JOB).select_related("started_by").defer("log")[:limit]


def backup_latest() -> dict[str, JobRun | None]:
    """The last backup run whatever its outcome, and the last successful one."""
    runs = JobRun.objects.filter(name=BACKUP_JOB).defer("log")
    last = runs.order_by("-created_at", "-id").first()
    if last is None or last.state == JobState.SUCCEEDED:
        return {"last": last, "last_success": last}  # the usual case: one query
    success = runs.filter(state=JobState.SUCCEEDED).order_by("-finished_at", "-id").first()
    return {"last": last, "last_success": success}


# --- Restoring ---------------------------------------------------------------------------------

RESTORE_METHODS = ("auto", "postgresql", "portable")
INTERRUPTED = "Interrupted: the database was restored from a backup made while it ran."


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


def _member(tar: tarfile.TarFile, name: str):
    try:
        member = tar.extractfile(name)
    except KeyError:
        member = None
    if member is None:
        raise RestoreError(f"The archive lacks {name}.")
    return member


def _member_lines(tar: tarfile.TarFile, name: str) -> Iterator[bytes]:
    yield from _member(tar, name)


def _member_sha256(tar: tarfile.TarFile, name: str) -> str:
    member = _member(tar, name)
    digest = hashlib.sha256()
    for block in iter(lambda: member.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def backup_verify(archive: Path | str) -> dict[str, Any]:
    """Check every file's checksum and row count against the manifest (the data files, the
    pg_dump and the media); return the manifest. A truncated or corrupt archive is refused."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            manifest = _read_manifest(tar)
            for entry in manifest["models"]:
                digest, rows = hashlib.sha256(), 0
                for line in _member_lines(tar, entry["file"]):
                    digest.update(line)
                    rows += 1
                if digest.hexdigest() != entry["sha256"]:
                    raise RestoreError(
                        f"Checksum mismatch in {entry['file']}: the archive is damaged."
                    )
                if rows != entry["rows"]:
                    raise RestoreError(
                        f"{entry['file']} has {rows} rows, the manifest says {entry['rows']}."
                    )
            dump = manifest.get("pg_dump") or {}
            if dump.get("included") and _member_sha256(tar, PG_DUMP_MEMBER) != dump.get("sha256"):
                raise RestoreError(
                    f"Checksum mismatch in {PG_DUMP_MEMBER}: the archive is damaged."
                )
            media_verify(tar, (manifest.get("media") or {}).get("files", []))
    except MediaError as exc:
        raise RestoreError(str(exc)) from exc
    except (tarfile.TarError, EOFError, zlib.error, OSError, ValueError) as exc:
        raise RestoreError(f"The archive is damaged or truncated ({exc}).") from exc
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
        state=JobState.FAILED, finished_at=timezone.now(), error=INTERRUPTED
    )


def _session_model() -> type[models.Model] | None:
    try:
        return apps.get_model("sessions", "Session")
    except LookupError:
        return None


def _tables_to_empty(chosen: list[type[models.Model]]) -> list[str]:
    """Tables whose rows a portable restore deletes, children before parents: every backed-up
    table with its many-to-many tables, sessions (everyone signs in again), and any other table
    whose rows point at those (an admin log entry's user, ...), as `flush` would have.
    Content types and permissions stay: the backup refers to them by natural key."""
    backed = list(chosen)
    tables = {m._meta.db_table for m in backed}
    ordered: list[str] = []
    for model in reversed(backed):
        for field in model._meta.many_to_many:
            through = field.remote_field.through
            if through._meta.auto_created and through._meta.db_table not in tables:
                tables.add(through._meta.db_table)
                ordered.append(through._meta.db_table)
        ordered.append(model._meta.db_table)
    keep = {apps.get_model(label)._meta.db_table for label in NATURAL_KEY_MODELS}
    dependents: list[str] = []
    session = _session_model()
    if session is not None:
        tables.add(session._meta.db_table)
        dependents.append(session._meta.db_table)
    grew = True
    while grew:
        grew = False
        for model in apps.get_models(include_auto_created=True):
            table = model._meta.db_table
            if table in tables or table in keep or not model._meta.managed or model._meta.proxy:
                continue
            if any(
                f.is_relation and f.related_model and f.related_model._meta.db_table in tables
                for f in model._meta.concrete_fields
            ):
                tables.add(table)
                dependents.insert(0, table)
                grew = True
    return [*dependents, *ordered]


def _tables_empty(chosen: list[type[models.Model]]) -> None:
    """Empty the tables a backup restores, append-only ones too (core.db_guards)."""
    quote = connection.ops.quote_name
    with append_only_maintenance(), connection.cursor() as cursor:
        for table in _tables_to_empty(chosen):
            cursor.execute(f"DELETE FROM {quote(table)}")  # noqa: S608 - names from the models


def _sequence_models(chosen: list[type[models.Model]]) -> list[type[models.Model]]:
    through = [
        f.remote_field.through
        for m in chosen
        for f in m._meta.many_to_many
        if f.remote_field.through._meta.auto_created
    ]
    return [*chosen, *through]


def _restore_portable(
    archive: Path, manifest: dict[str, Any], chosen: list[type[models.Model]], say: Say
) -> dict[str, int]:
    """Delete and load in ONE transaction: a failure at any point, or a killed process (the
    database rolls back an uncommitted transaction; SQLite its journal), leaves every row."""
    try:
        return _load_all(archive, manifest, chosen, say)
    except DatabaseError as exc:
        raise RestoreError(f"Nothing was restored: {exc}") from exc


def _load_all(
    archive: Path, manifest: dict[str, Any], chosen: list[type[models.Model]], say: Say
) -> dict[str, int]:
    counts: dict[str, int] = {}
    with tarfile.open(archive, "r:gz") as tar, transaction.atomic():
        with connection.constraint_checks_disabled():
            # Plain DELETEs: no signals (django-celery-beat's would write a row the backup
            # also holds), and migrate's own rows (role groups, schedules) make way for the
            # backup's.
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
    return counts


def _postgresql_unusable(manifest: dict[str, Any]) -> str:
    """Why the archive's pg_dump cannot be restored here ("" when it can)."""
    if connection.vendor != "postgresql":
        return f"the database is {connection.vendor}"
    if not (manifest.get("pg_dump") or {}).get("included"):
        return "the archive has no pg_dump"
    missing = pg_tools_missing("pg_restore", "psql")
    if missing:
        return f"{', '.join(missing)} not installed"
    if set(manifest.get("migrations", [])) != set(_applied_migrations()):
        return "the database's migrations differ from the backup's"
    return ""


def _restore_postgresql(
    archive: Path, manifest: dict[str, Any], folder: Path, say: Say
) -> dict[str, int]:
    """Restore the archive's pg_dump into a new schema swapped in by one transaction."""
    quote = connection.ops.quote_name
    jobrun = JobRun._meta
    after: list[str] = []
    excluded = manifest.get("excluded_job_run")
    if excluded:
        # The backup's own run: left out of the portable files, and out of this restore.
        after.append(
            connection.ops.compose_sql(
                f"DELETE FROM {quote(jobrun.db_table)} WHERE {quote(jobrun.pk.column)} = %s;",  # noqa: S608
                [int(excluded)],
            )
        )
    if manifest["pg_dump"].get("snapshot"):
        # Table names from this code's models, never from the archive.
        expected = {
            apps.get_model(m["label"])._meta.db_table: m["rows"] for m in manifest["models"]
        }
        after.append(count_check_sql(expected))
    state, finished, error = (
        quote(jobrun.get_field(name).column) for name in ("state", "finished_at", "error")
    )
    interrupt = (
        f"UPDATE {quote(jobrun.db_table)} SET {state} = %s, {finished} = now(), "  # noqa: S608
        f"{error} = %s WHERE {state} IN (%s, %s);"
    )
    after.append(
        connection.ops.compose_sql(interrupt, [JobState.FAILED, INTERRUPTED, *ACTIVE_JOB_STATES])
    )
    runtime = [apps.get_model(label)._meta.db_table for label in RUNTIME_MODELS]
    session = _session_model()
    if session is not None:
        runtime.append(session._meta.db_table)
    after += [f"DELETE FROM {quote(table)};" for table in runtime]  # noqa: S608
    with tempfile.TemporaryDirectory(dir=folder, prefix=".restore-") as tmp:
        dump = Path(tmp) / PG_DUMP_MEMBER
        with tarfile.open(archive, "r:gz") as tar, dump.open("wb") as out:
            shutil.copyfileobj(_member(tar, PG_DUMP_MEMBER), out, 1 << 20)
        if _sha256_file(dump) != manifest["pg_dump"]["sha256"]:
            raise RestoreError(f"Checksum mismatch in {PG_DUMP_MEMBER}: the archive is damaged.")
        with connection.cursor() as cursor:
            owner, acl = pg_schema_info(cursor)
        stamp = timezone.now().astimezone(UTC).strftime("%Y%m%d%H%M%S%f")
        say("loading the pg_dump into a new schema (one transaction)")
        try:
            pg_restore_swap(
                dump=dump,
                env=pg_env(connection.settings_dict),
                stamp=stamp,
                schema_owner=owner,
                schema_acl=acl,
                after_sql=after,
                say=say,
                timeout=settings.JOB_TIME_LIMIT,
            )
        except PgRestoreFailed as exc:
            raise RestoreError(f"Nothing was restored: {exc}") from exc
    say("committed: the restored schema is in place")
    # Committed. Dropping the old schema is housekeeping: if this dies, the next run does it.
    connection.close()
    apps.get_model("contenttypes", "ContentType").objects.clear_cache()
    with connection.cursor() as cursor:
        for name in pg_leftovers_drop(cursor):
            say(f"dropped {name} (the data before the restore)")
    return {m["label"]: m["rows"] for m in manifest["models"]}


def backup_restore(
    *,
    archive: Path | str,
    force: bool = False,
    method: str = "auto",
    media: bool = True,
    log: Say | None = None,
) -> dict[str, int]:
    """Restore `archive` into this (migrated) database; returns rows per model label.

    Refuses a database that holds data (users, contacts, messages, ...) unless `force`. The
    database ends up exactly as the backup, or, on any failure or kill, exactly as it was
    (see the module docstring). `method`: "auto" (PostgreSQL's own tools when the archive
    and the database allow it, else portable), "postgresql" or "portable". Media files are
    restored after the database committed (`media=False` skips them).
    """
    say = log or _quiet
    archive = Path(archive)
    if method not in RESTORE_METHODS:
        raise RestoreError(f"Unknown restore method {method!r} ({', '.join(RESTORE_METHODS)}).")
    if not archive.is_file():
        raise RestoreError(f"No such archive: {archive}")
    folder = backup_dir()
    _prepare_dir(folder, owner_only=True)
    with _folder_lock(folder, ".restore.lock", blocking=False) as locked:
        if not locked:
            raise RestoreError("Another restore is running.")
        _leftovers_remove(folder, prefix=".restore-", partials=False, say=say)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for name in pg_leftovers_drop(cursor):
                    say(f"dropped {name}, left by an interrupted restore")
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
                "The database already holds data (" + ", ".join(holding) + "): restore into "
                "an empty database, or pass --force to replace everything in it."
            )
        unusable = _postgresql_unusable(manifest)
        if method == "postgresql" and unusable:
            raise RestoreError(f"Cannot restore with PostgreSQL's tools: {unusable}.")
        if method != "portable" and not unusable:
            counts = _restore_postgresql(archive, manifest, folder, say)
        else:
            if method == "auto" and connection.vendor == "postgresql":
                say(f"portable restore: {unusable}")
            counts = _restore_portable(archive, manifest, chosen, say)
    total = sum(counts.values())
    say(f"restored {total} rows into {len(counts)} tables")
    logger.info("restored backup %s (%s rows)", archive.name, total)
    files = (manifest.get("media") or {}).get("files", [])
    if media and files:
        mode = settings.FILE_UPLOAD_PERMISSIONS or 0o644
        with tarfile.open(archive, "r:gz") as tar:
            written = media_restore(tar, Path(settings.MEDIA_ROOT), files, mode=mode)
        say(f"media: {written} files restored into MEDIA_ROOT")
    return counts
