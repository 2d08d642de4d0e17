"""CSV cells that spreadsheets will not run as formulas (CSV/formula injection).

Excel, LibreOffice and Google Sheets treat a cell starting with `=`, `+`, `-` or `@` (and,
in some versions, a tab or carriage return) as a formula, even in a .csv file. Every cell we
export from data other people typed goes through `csv_safe_cell`.

The rule, in full:

1. A cell whose text (after leading spaces or double quotes) starts with a trigger gets a
   `'` in front: shown as text, never evaluated.
2. A trigger that follows a field separator anywhere inside the cell gets a `'` in front
   too. We write comma-separated files and quote a cell only when it holds a comma, so a
   cell like `x;=1+1` is written bare; a spreadsheet that splits on `;` (Excel in most of
   Europe, LibreOffice's import dialog, "Text to columns") or on tabs reads it as two
   cells, `x` and `=1+1`, and runs the second. The separators are `,`, `;`, tab and `|`
   (the ones import dialogs offer), optionally followed by spaces or a double quote, which
   the spreadsheet strips before it looks for a formula. So `x;=1+1` becomes `x;'=1+1`.
   Space is not treated as a separator: splitting free text on spaces is not a real import,
   and it would mangle every `a - b`.

A phone column may keep valid E.164 numbers (`+919812345678`) as they are, because they
cannot be formulas and people paste them back.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
SEPARATORS = ",;\t|"
# A separator, then optional spaces or double quotes, then a trigger: the trigger is the first
# character of a cell in a spreadsheet that splits on that separator.
_SPLIT_FORMULA = re.compile(r'([,;\t|][ "\t]*)(?=[=+\-@\r])')


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
    text = _SPLIT_FORMULA.sub(r"\1'", text)
    if text.startswith(FORMULA_STARTS) or text.lstrip(' "').startswith(FORMULA_STARTS):
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
