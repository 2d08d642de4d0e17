"""What WhatsApp takes as media, and how a file is checked before anyone keeps or sends it.

The one home of these limits (WHATSAPP.md 2.1): the media library and the inbox's reply box
both check uploads here. The MIME type comes from the file name's extension and must agree
with the file's first bytes where those are recognisable; the browser's or client's declared
type is never trusted. Nothing here touches the database.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePath

from core.errors import DomainError

MB = 1024 * 1024


@dataclass(frozen=True)
class MediaKind:
    kind: str  # WhatsApp's message type: image, video, audio, document, sticker
    max_bytes: int


IMAGE = MediaKind("image", 5 * MB)
VIDEO = MediaKind("video", 16 * MB)
AUDIO = MediaKind("audio", 16 * MB)
DOCUMENT = MediaKind("document", 100 * MB)
# Animated stickers may be 500 KB, static ones 100 KB; WebP does not say which cheaply, so
# the larger bound applies and WhatsApp refuses an oversized static sticker itself.
STICKER = MediaKind("sticker", 500 * 1024)

# MIME type -> kind, for every type WhatsApp documents.
MEDIA_TYPES: dict[str, MediaKind] = {
    "image/jpeg": IMAGE,
    "image/png": IMAGE,
    "video/mp4": VIDEO,
    "video/3gpp": VIDEO,
    "audio/aac": AUDIO,
    "audio/mp4": AUDIO,
    "audio/mpeg": AUDIO,
    "audio/amr": AUDIO,
    "audio/ogg": AUDIO,
    "image/webp": STICKER,
    "application/pdf": DOCUMENT,
    "text/plain": DOCUMENT,
    "application/msword": DOCUMENT,
    "application/vnd.ms-excel": DOCUMENT,
    "application/vnd.ms-powerpoint": DOCUMENT,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": DOCUMENT,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": DOCUMENT,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": DOCUMENT,
}
# Extensions Python's table may not know, or knows differently on some systems.
_EXTENSIONS = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
    ".mp4": "video/mp4", ".3gp": "video/3gpp", ".aac": "audio/aac", ".m4a": "audio/mp4",
    ".mp3": "audio/mpeg", ".amr": "audio/amr", ".ogg": "audio/ogg", ".opus": "audio/ogg",
    ".pdf": "application/pdf", ".txt": "text/plain",
}  # fmt: skip
ALLOWED_EXTENSIONS = [
    ".jpg",
    ".jpeg",
    ".png",
    ".webp",
    ".mp4",
    ".3gp",
    ".aac",
    ".m4a",
    ".mp3",
    ".amr",
    ".ogg",
    ".pdf",
    ".txt",
    ".doc",
    ".docx",
    ".xls",
    ".xlsx",
    ".ppt",
    ".pptx",
]

# The first bytes of the formats whose content can be recognised cheaply. A file named .png
# that is really HTML is refused here, before it is kept or shown to anyone.
MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "application/pdf": (b"%PDF-",),
    "audio/ogg": (b"OggS",),
    "audio/amr": (b"#!AMR",),
}
HEAD_BYTES = 16

# Served inline (thumbnails, players) only for these; everything else is a download.
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})


class MediaRefused(DomainError):
    """A file WhatsApp would not take (type, size, content), with the reason and a stable code:
    `upload_type_refused`, `upload_too_large`, `upload_empty`."""

    code = "upload_refused"
    status_code = 422


@dataclass(frozen=True)
class CheckedFile:
    name: str
    mime_type: str
    kind: str


def media_name_clean(name: str | None, *, max_length: int = 100) -> str:
    """A safe display and download name: the last path part, no control or path characters,
    at most `max_length` characters with the extension kept."""
    base = PurePath((name or "").replace("\\", "/")).name
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = re.sub(r'[<>:"/\\|?*;]+', "_", base).strip(" .")
    if not base:
        return "upload"
    stem, dot, ext = base.rpartition(".")
    if dot and len(ext) <= 10 and stem:
        return stem[: max_length - len(ext) - 1] + "." + ext
    return base[:max_length]


def media_type_of(name: str) -> str:
    suffix = PurePath(name).suffix.lower()
    return _EXTENSIONS.get(suffix) or (mimetypes.guess_type(name)[0] or "").lower()


def media_file_check(
    *, name: str | None, size: int, head: bytes, max_bytes: int | None = None
) -> CheckedFile:
    """The clean name, MIME type and WhatsApp kind of a file, or MediaRefused saying why.
    `max_bytes` lowers WhatsApp's per-type limit (a setting's cap)."""
    clean = media_name_clean(name)
    mime_type = media_type_of(clean)
    if mime_type not in MEDIA_TYPES:
        raise MediaRefused(
            f"Files of this type cannot be sent on WhatsApp (allowed: "
            f"{', '.join(ALLOWED_EXTENSIONS)}).",
            code="upload_type_refused",
            details={"file": [f"type {PurePath(clean).suffix or '(none)'} is not allowed"]},
        )
    kind = MEDIA_TYPES[mime_type]
    limit = min(kind.max_bytes, max_bytes) if max_bytes else kind.max_bytes
    if size <= 0:
        raise MediaRefused("The file is empty.", code="upload_empty", details={"file": ["empty"]})
    if size > limit:
        shown = f"{limit / MB:.0f} MB" if limit >= MB else f"{limit // 1024} KB"
        raise MediaRefused(
            f"The file is {size / MB:.1f} MB; at most {shown} for {kind.kind}.",
            code="upload_too_large",
            details={"file": [f"at most {limit} bytes for {kind.kind}"]},
        )
    signatures = MAGIC.get(mime_type)
    if mime_type == "image/webp":
        matches = head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    elif mime_type in ("video/mp4", "video/3gpp", "audio/mp4"):
        matches = head[4:8] == b"ftyp"
    else:
        matches = not signatures or head.startswith(signatures)
    if not matches:
        raise MediaRefused(
            f"The file's content is not {mime_type}.",
            code="upload_type_refused",
            details={"file": [f"content is not {mime_type}"]},
        )
    return CheckedFile(name=clean, mime_type=mime_type, kind=kind.kind)


def sha256_of(upload) -> str:
    """The SHA-256 of an uploaded file, read in chunks (files may be 100 MB)."""
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in (
        upload.chunks() if hasattr(upload, "chunks") else iter(lambda: upload.read(1 << 16), b"")
    ):
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()
