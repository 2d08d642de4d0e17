"""CSV cells that spreadsheets will not run as formulas (CSV/formula injection).

Excel, LibreOffice and Google Sheets treat a cell starting with `=`, `+`, `-` or `@` (and,
in some versions, a tab or carriage return) as a formula, even in a .csv file. Every cell we
export from data other people typed goes through `csv_safe_cell`, which prefixes such a cell
with `'` (shown as text, never evaluated). A phone column may keep valid E.164 numbers
(`+919812345678`) as they are, because they cannot be formulas and people paste them back.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def csv_safe_cell(value: Any, *, phone: bool = False) -> str:
    """The text of `value` for a CSV cell, neutralised against formula injection.

    `phone=True` lets a valid E.164 number through unchanged (only in a phone column).
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    if phone and E164.match(text):
        return text
    if text.startswith(FORMULA_STARTS) or text.lstrip(" ").startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_safe_row(values: Iterable[Any], *, phone_columns: Iterable[int] = ()) -> list[str]:
    phones = set(phone_columns)
    return [csv_safe_cell(v, phone=i in phones) for i, v in enumerate(values)]


class _Echo:
    """A file-like object whose write returns what it was given (for streaming)."""

    def write(self, value: str) -> str:
        return value


def csv_stream(
    header: list[str], rows: Iterable[Iterable[Any]], *, phone_columns: Iterable[int] = ()
) -> Iterator[str]:
    """CSV text, one line at a time, every cell made safe: for StreamingHttpResponse."""
    writer = csv.writer(_Echo())
    phones = list(phone_columns)
    yield "\ufeff" + writer.writerow(csv_safe_row(header))  # BOM: Excel reads UTF-8
    for row in rows:
        yield writer.writerow(csv_safe_row(row, phone_columns=phones))
