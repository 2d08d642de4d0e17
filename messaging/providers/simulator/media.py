"""Media the simulator serves: a generated PNG for inbound images, plus whatever is uploaded."""

from __future__ import annotations

import dataclasses
import hashlib
import struct
import zlib


def png_bytes(width: int = 64, height: int = 64, seed: int = 0) -> bytes:
    """A valid RGB PNG with a gradient (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            rows += bytes(((x * 4 + seed) % 256, (y * 4 + seed * 3) % 256, (seed * 7) % 256))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 6))
        + chunk(b"IEND", b"")
    )


@dataclasses.dataclass(frozen=True)
class MediaItem:
    media_id: str
    content: bytes = dataclasses.field(repr=False)
    mime_type: str
    filename: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def file_size(self) -> int:
        return len(self.content)
