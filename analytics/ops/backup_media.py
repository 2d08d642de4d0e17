"""Uploaded and downloaded media (MEDIA_ROOT) in a backup archive, and back.

The archive holds each file under `media/<path relative to MEDIA_ROOT>`; the manifest lists
every one with its size and SHA-256. Restoring writes each file to a temporary name in its
folder and renames it over the target (`os.replace`), so a reader sees the old file or the new
one, never half of one. Files under MEDIA_ROOT that the archive does not name are left alone
(an orphan file costs disk, a deleted one loses data). Media are restored after the database
committed; a media restore interrupted part-way is completed by running the restore again.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

MEDIA_PREFIX = "media/"
# A restore writes each file under this prefix first, then renames it into place.
RESTORE_TEMPORARY_PREFIX = ".restore-"


class MediaError(Exception):
    pass


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def media_inventory(root: Path) -> list[dict[str, Any]]:
    """Every regular file under `root` (symbolic links are not followed), sorted by path.

    A restore's half-written temporary files are not media, and a file deleted while the walk
    runs (an upload purged, a temporary file renamed) is simply not there: neither fails the
    backup."""
    if not root.is_dir():
        return []
    found = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            if name.startswith(RESTORE_TEMPORARY_PREFIX):
                continue
            if path.is_symlink() or not path.is_file():
                continue
            relative = path.relative_to(root).as_posix()
            try:
                entry = {"path": relative, "size": path.stat().st_size, "sha256": _sha256(path)}
            except FileNotFoundError:
                continue
            found.append(entry)
    return found


def media_add(tar: tarfile.TarFile, root: Path, files: list[dict[str, Any]]) -> None:
    """Add the inventoried files; a file that changed since it was inventoried fails the backup
    (its checksum in the manifest would be wrong)."""
    for entry in files:
        path = root / entry["path"]
        info = tarfile.TarInfo(MEDIA_PREFIX + entry["path"])
        info.size = entry["size"]
        info.mode = 0o600
        info.mtime = int(path.stat().st_mtime)
        digest = hashlib.sha256()
        with path.open("rb") as f:
            data = _HashingReader(f, digest)
            tar.addfile(info, data)
        if digest.hexdigest() != entry["sha256"]:
            raise MediaError(f"media file {entry['path']} changed while it was backed up")


class _HashingReader:
    def __init__(self, f, digest):
        self.f, self.digest = f, digest

    def read(self, size: int = -1) -> bytes:
        data = self.f.read(size)
        self.digest.update(data)
        return data


def _safe_relative(path: str) -> PurePosixPath:
    relative = PurePosixPath(path)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise MediaError(f"unsafe media path in the archive: {path!r}")
    return relative


def media_verify(tar: tarfile.TarFile, files: list[dict[str, Any]]) -> None:
    for entry in files:
        _safe_relative(entry["path"])
        member = _extract(tar, entry["path"])
        digest = hashlib.sha256()
        for block in iter(lambda: member.read(1 << 20), b""):  # noqa: B023 - used at once
            digest.update(block)
        if digest.hexdigest() != entry["sha256"]:
            raise MediaError(f"Checksum mismatch in media/{entry['path']}: the archive is damaged.")


def _extract(tar: tarfile.TarFile, path: str):
    try:
        member = tar.extractfile(MEDIA_PREFIX + path)
    except KeyError:
        member = None
    if member is None:
        raise MediaError(f"The archive lacks media/{path}.")
    return member


def media_restore(
    tar: tarfile.TarFile, root: Path, files: list[dict[str, Any]], *, mode: int = 0o644
) -> int:
    """Write every listed file under `root`, each atomically, with `mode`; return how many."""
    root.mkdir(parents=True, exist_ok=True)
    resolved_root = root.resolve()
    written = 0
    for entry in files:
        target = resolved_root.joinpath(*_safe_relative(entry["path"]).parts)
        if resolved_root not in target.resolve().parents:
            raise MediaError(f"media path leaves MEDIA_ROOT: {entry['path']!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        member = _extract(tar, entry["path"])
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=RESTORE_TEMPORARY_PREFIX)
        try:
            with os.fdopen(fd, "wb") as out:
                for block in iter(lambda: member.read(1 << 20), b""):  # noqa: B023
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, mode)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        written += 1
    return written
