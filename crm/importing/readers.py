"""Streaming readers for import files: memory stays flat however large the file is.

Each reader yields `Record`s with the line the record starts on and the byte offset and line
count just past it, so an import can checkpoint after any record and later resume by seeking
to that offset. CSV must be UTF-8 (a BOM is fine) with a header row; JSON is either one array
of objects (read object by object, never whole) or JSON Lines (one object per line).
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from django.conf import settings

from core.errors import DomainError
from crm.importing.rows import PHONE_HEADERS

BOM = codecs.BOM_UTF8
CHUNK = 64 * 1024
MAX_LINE_BYTES = 1024 * 1024
SNIFF_BYTES = 64 * 1024


class FileRefused(DomainError):
    """The file cannot be imported at all (type, encoding, header, broken JSON)."""

    code = "invalid_file"


@dataclass(slots=True)
class Record:
    line: int  # the line the record starts on (1-based)
    data: dict | None  # column (or JSON key) -> value; None when `error` says why not
    error: str | None
    end_byte: int  # offset just past the record: where a resume starts
    end_line: int  # lines completed before end_byte


class _Lines:
    """Lines of a binary file decoded as UTF-8, tracking the byte offset and line count.

    A line that is not valid UTF-8 is decoded with replacement characters and its number
    noted in `bad_lines`; a line longer than MAX_LINE_BYTES is dropped (returned empty) and
    noted in `long_lines`. Reading is chunked, so only one chunk is in memory.
    """

    def __init__(self, fh: BinaryIO, *, offset: int, lines_done: int):
        fh.seek(offset)
        self.fh = fh
        self.offset = offset
        self.lines_done = lines_done
        self.bad_lines: set[int] = set()
        self.long_lines: set[int] = set()
        self._buf = b""
        self._pos = 0
        self._eof = False
        if offset == 0:
            head = fh.read(len(BOM))
            if head == BOM:
                self.offset = len(BOM)
            else:
                self._buf = head

    def __iter__(self):
        return self

    def _fill(self) -> bool:
        chunk = self.fh.read(CHUNK)
        if not chunk:
            self._eof = True
            return False
        self._buf = self._buf[self._pos :] + chunk
        self._pos = 0
        return True

    def __next__(self) -> str:
        while True:
            end = self._buf.find(b"\n", self._pos)
            if end >= 0:
                raw = self._buf[self._pos : end + 1]
                self._pos = end + 1
                break
            if len(self._buf) - self._pos > MAX_LINE_BYTES:
                return self._skip_long_line()
            if self._eof or not self._fill():
                if self._pos >= len(self._buf):
                    raise StopIteration
                raw = self._buf[self._pos :]
                self._pos = len(self._buf)
                break
        self.offset += len(raw)
        self.lines_done += 1
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.bad_lines.add(self.lines_done)
            return raw.decode("utf-8", "replace")

    def _skip_long_line(self) -> str:
        skipped = 0
        while True:
            end = self._buf.find(b"\n", self._pos)
            if end >= 0:
                skipped += end + 1 - self._pos
                self._pos = end + 1
                break
            skipped += len(self._buf) - self._pos
            self._pos = len(self._buf)
            if not self._fill():
                break
        self.offset += skipped
        self.lines_done += 1
        self.long_lines.add(self.lines_done)
        return "\n"


def _size(n: int) -> str:
    return f"{n // 1024} KiB" if n >= 1024 else f"{n} bytes"


def _blank(values: list[str]) -> bool:
    return not any(v.strip() for v in values)


class CsvReader:
    """Records of a UTF-8 CSV file keyed by its (normalised) header."""

    def __init__(self, fh: BinaryIO):
        self.fh = fh
        self.header, self.header_end_byte, self.header_end_line = self._read_header()

    def _read_header(self) -> tuple[list[str], int, int]:
        lines = _Lines(self.fh, offset=0, lines_done=0)
        reader = csv.reader(lines)
        for row in reader:
            if lines.bad_lines:
                raise FileRefused("The CSV header is not UTF-8 text.")
            if lines.long_lines:
                raise FileRefused("The CSV header line is too long.")
            if _blank(row):
                continue
            header = [" ".join(cell.replace("\ufeff", "").split()).lower() for cell in row]
            return header, lines.offset, lines.lines_done
        raise FileRefused("The CSV file is empty: it needs a header row.")

    def records(self, *, start_byte: int = 0, start_line: int = 0) -> Iterator[Record]:
        if start_byte < self.header_end_byte:
            start_byte, start_line = self.header_end_byte, self.header_end_line
        lines = _Lines(self.fh, offset=start_byte, lines_done=start_line)
        reader = csv.reader(lines)
        width = len(self.header)
        while True:
            first_line = lines.lines_done + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Record(first_line, None, f"unreadable CSV: {exc}", lines.offset,
                             lines.lines_done)  # fmt: skip
                continue
            error = None
            span = range(first_line, lines.lines_done + 1)
            if lines.long_lines and any(n in lines.long_lines for n in span):
                error = f"line longer than {_size(MAX_LINE_BYTES)}"
            elif lines.bad_lines and any(n in lines.bad_lines for n in span):
                error = "not valid UTF-8 text"
            if error is None and _blank(row):
                continue
            if error is None and len(row) > width and not _blank(row[width:]):
                error = f"{len(row)} cells but the header has {width} columns"
            lines.bad_lines.clear()
            lines.long_lines.clear()
            data = None if error else dict(zip(self.header, row, strict=False))
            yield Record(first_line, data, error, lines.offset, lines.lines_done)


def _depth(value, limit: int) -> int:
    """Nesting depth of a decoded JSON value, giving up past `limit`."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return deepest


class JsonLinesReader:
    """One JSON object per line; a bad line is a bad record, the rest still import."""

    def __init__(self, fh: BinaryIO):
        self.fh = fh
        self.max_depth = settings.IMPORT_JSON_MAX_DEPTH
        self.max_record = settings.IMPORT_JSON_MAX_RECORD_BYTES

    def records(self, *, start_byte: int = 0, start_line: int = 0) -> Iterator[Record]:
        lines = _Lines(self.fh, offset=start_byte, lines_done=start_line)
        for text in lines:
            line = lines.lines_done
            if not text.strip():
                continue
            error, data = None, None
            if line in lines.long_lines or len(text) > self.max_record:
                error = f"record larger than {_size(self.max_record)}"
            elif line in lines.bad_lines:
                error = "not valid UTF-8 text"
            else:
                try:
                    data = json.loads(text)
                except RecursionError:
                    error = "nested too deeply"
                except ValueError as exc:
                    error = f"not valid JSON ({exc})"
                if error is None:
                    error = _record_problem(data, self.max_depth)
                    if error:
                        data = None
            lines.bad_lines.discard(line)
            lines.long_lines.discard(line)
            yield Record(line, data if error is None else None, error, lines.offset, line)


def _record_problem(data, max_depth: int) -> str | None:
    if not isinstance(data, dict):
        return "not a JSON object"
    if _depth(data, max_depth) > max_depth:
        return f"nested deeper than {max_depth} levels"
    return None


class JsonArrayReader:
    """A top-level JSON array of objects, decoded one element at a time.

    Memory is bounded by IMPORT_JSON_MAX_RECORD_BYTES: a larger element (or a nesting bomb)
    stops the import. Broken JSON syntax stops it too (the next record cannot be found), with
    everything before it imported.
    """

    _WS = " \t\r\n"

    def __init__(self, fh: BinaryIO):
        self.fh = fh
        self.max_depth = settings.IMPORT_JSON_MAX_DEPTH
        self.max_record = settings.IMPORT_JSON_MAX_RECORD_BYTES
        self.decoder = json.JSONDecoder()

    def records(self, *, start_byte: int = 0, start_line: int = 0) -> Iterator[Record]:
        fh = self.fh
        at_start = start_byte == 0
        fh.seek(start_byte)
        if at_start and fh.read(len(BOM)) != BOM:
            fh.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        # text[mark] sits at byte `base_byte` after `base_line` completed lines; everything
        # before `pos` is done with. Offsets are computed incrementally, never from the start.
        text, pos, mark = "", 0, 0
        base_byte, base_line = fh.tell(), start_line
        eof = False

        def more() -> bool:
            nonlocal text, pos, mark, base_byte, base_line, eof
            if eof:
                return False
            chunk = fh.read(CHUNK)
            consumed = text[mark:pos]
            base_byte += len(consumed.encode("utf-8"))
            base_line += consumed.count("\n")
            try:
                decoded = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError:
                raise FileRefused(
                    f"The JSON file is not UTF-8 text (near line {base_line + 1})."
                ) from None
            text, pos, mark = text[pos:] + decoded, 0, 0
            if not chunk:
                eof = True
            return True

        def skip_ws() -> None:
            nonlocal pos
            while True:
                while pos < len(text) and text[pos] in self._WS:
                    pos += 1
                if pos < len(text) or not more():
                    return

        def line_at(index: int) -> int:
            return base_line + text.count("\n", mark, index) + 1

        if at_start:
            skip_ws()
            if pos >= len(text) or text[pos] != "[":
                raise FileRefused("A JSON import must be an array of objects (or JSON Lines).")
            pos += 1
            expect_comma = False
        else:
            expect_comma = True

        while True:
            skip_ws()
            if pos >= len(text):
                raise FileRefused(f"The JSON array is not closed (line {line_at(pos)}).")
            if text[pos] == "]":
                pos += 1
                skip_ws()
                if pos < len(text):
                    raise FileRefused(f"Unexpected data after the array (line {line_at(pos)}).")
                return
            if expect_comma:
                if text[pos] != ",":
                    raise FileRefused(f"Expected ',' between records (line {line_at(pos)}).")
                pos += 1
                skip_ws()
                if pos >= len(text):
                    raise FileRefused(f"The JSON array is not closed (line {line_at(pos)}).")
            while True:
                try:
                    data, end = self.decoder.raw_decode(text, pos)
                    if end < len(text) or eof or isinstance(data, dict | list):
                        break
                    more()  # a bare number at the end of the buffer may go on
                    continue
                except RecursionError:
                    raise FileRefused(
                        f"Record on line {line_at(pos)} is nested too deeply."
                    ) from None
                except json.JSONDecodeError as exc:
                    if len(text) - pos > self.max_record:
                        raise FileRefused(
                            f"Record on line {line_at(pos)} is larger than "
                            f"{_size(self.max_record)}."
                        ) from None
                    if not more():
                        raise FileRefused(
                            f"Broken JSON in the record on line {line_at(pos)}: {exc.msg}."
                        ) from None
                except ValueError as exc:  # e.g. an integer with too many digits
                    raise FileRefused(
                        f"Record on line {line_at(pos)} cannot be read: {exc}."
                    ) from None
            line = line_at(pos)
            if end - pos > self.max_record:
                error = f"record larger than {_size(self.max_record)}"
            else:
                error = _record_problem(data, self.max_depth)
            consumed = text[mark:end]
            base_byte += len(consumed.encode("utf-8"))
            base_line += consumed.count("\n")
            pos = mark = end
            expect_comma = True
            yield Record(line, None if error else data, error, base_byte, base_line)


def reader_for(fmt: str, fh: BinaryIO):
    if fmt == "csv":
        return CsvReader(fh)
    if fmt == "jsonl":
        return JsonLinesReader(fh)
    if fmt == "json":
        return JsonArrayReader(fh)
    raise FileRefused(f"Unknown import format {fmt!r}.")


# --- Checking an upload before it is accepted -----------------------------------------------

EXTENSIONS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def upload_sniff(fh: BinaryIO, name: str) -> tuple[str, list[str]]:
    """(format, first columns) for an upload, or FileRefused saying why it is not importable.

    The extension must say CSV or JSON and the content must agree: CSV decodes as UTF-8 and
    has a header row with a `phone` column; JSON is an array of objects or JSON Lines whose
    first record is an object with a phone.
    """

    lower = name.lower()
    ext = next((e for e in EXTENSIONS if lower.endswith(e)), None)
    if ext is None:
        raise FileRefused("Upload a .csv, .json or .jsonl file.")
    fmt = EXTENSIONS[ext]
    fh.seek(0)
    head = fh.read(SNIFF_BYTES)
    fh.seek(0)
    if not head.strip():
        raise FileRefused("The file is empty.")
    if b"\x00" in head:
        raise FileRefused("The file looks binary, not text.")
    try:
        codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError:
        raise FileRefused("The file is not UTF-8 text (save it as CSV UTF-8).") from None
    stripped = head.removeprefix(BOM).lstrip()
    if fmt == "csv":
        if stripped[:1] in (b"[", b"{"):
            raise FileRefused("This looks like JSON, not CSV: use a .json extension.")
        header = CsvReader(fh).header
        fh.seek(0)
        if not PHONE_HEADERS & set(header):
            raise FileRefused("The CSV header needs a 'phone' column.")
        if len(set(header)) != len(header):
            raise FileRefused("The CSV header repeats a column name.")
        return fmt, header
    if fmt == "json" and stripped[:1] == b"{":
        fmt = "jsonl"
    if fmt == "json" and stripped[:1] != b"[":
        raise FileRefused("A JSON import must be an array of objects (or JSON Lines).")
    if fmt == "jsonl" and stripped[:1] != b"{":
        raise FileRefused("JSON Lines must have one object per line.")
    reader = reader_for(fmt, fh)
    first = next(iter(reader.records()), None)
    fh.seek(0)
    if first is None:
        raise FileRefused("The JSON file has no records.")
    if first.error:
        raise FileRefused(f"The first record (line {first.line}) is unusable: {first.error}.")
    if not PHONE_HEADERS & {str(k).strip().lower() for k in first.data}:
        raise FileRefused("JSON records need a 'phone' key.")
    return fmt, [str(k) for k in first.data]
