"""Tables written as files for Excel: CSV (UTF-8 with a byte-order mark) or an XLSX workbook.

A :class:`Sheet` is what every export writes: an optional title line, a header row and rows of
cells. Amounts are ``Decimal`` yuan (``fen_to_yuan``), written ``1234.50`` in CSV and as numbers
shown ``#,##0.00`` in XLSX; dates are ``date``, written ``2026-10-31`` either way. Text that a
spreadsheet would read as a formula (``=``, ``+``, ``-``, ``@`` first) is kept as text.

A file is written beside its final name and renamed into place once complete, so a failed run
leaves nothing half-written and never a truncated copy of the previous file.
"""

from __future__ import annotations

import csv
import io
import os
import secrets
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

__all__ = [
    "FORMATS",
    "Sheet",
    "file_format",
    "replacing",
    "sheet_bytes",
    "spreadsheet_safe",
    "write_sheet",
]

FORMATS = ("csv", "xlsx")
MONEY_FORMAT = "#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Sheet:
    name: str  # the XLSX sheet's name (31 characters at most)
    headings: Sequence[str]
    rows: Iterable[Sequence[object]]  # str, int, Decimal yuan, date, bool or None cells
    title: str | None = None  # a line above the header
    widths: Sequence[int] = ()  # column widths in characters, first columns first
    title_alert: bool = False  # the title in red: a draft, say


def spreadsheet_safe(text: str) -> str:
    """Keep a spreadsheet from reading text as a formula (=, +, -, @ first)."""
    return "'" + text if text[:1] in _FORMULA_STARTS else text


def file_format(path: Path) -> str:
    """``csv`` or ``xlsx`` from the file's extension; ``ValueError`` naming the file otherwise."""
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise ValueError(
            f"{path}: write a .csv or an .xlsx file, not {path.suffix or 'no extension'}"
        )
    return suffix


def write_sheet(path: Path, sheet: Sheet) -> None:
    """Write ``sheet`` to ``path``, CSV or XLSX by its extension, replacing it once complete."""
    kind = file_format(path)
    with replacing(path) as temp, temp.open("xb") as out:
        _write(out, sheet, kind)


def sheet_bytes(sheet: Sheet, kind: str) -> bytes:
    """The file's content, for a download."""
    if kind not in FORMATS:
        raise ValueError(f"a sheet is written as csv or xlsx, not {kind!r}")
    buffer = io.BytesIO()
    _write(buffer, sheet, kind)
    return buffer.getvalue()


def _write(out: IO[bytes], sheet: Sheet, kind: str) -> None:
    if kind == "csv":
        _write_csv(out, sheet)
    else:
        _write_xlsx(out, sheet)


def _csv_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        return spreadsheet_safe(value)
    return str(value)


def _write_csv(out: IO[bytes], sheet: Sheet) -> None:
    # Excel on Chinese Windows reads a CSV file as UTF-8 only with the byte-order mark.
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    try:
        writer = csv.writer(text)
        if sheet.title is not None:
            writer.writerow([sheet.title])
        writer.writerow(sheet.headings)
        for row in sheet.rows:
            writer.writerow([_csv_text(v) for v in row])
        text.flush()
    finally:
        text.detach()  # the caller closes ``out``


def _write_xlsx(out: IO[bytes], sheet: Sheet) -> None:
    import openpyxl  # imported here: costs ~0.2 s and CSV exports never need it
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    # Write-only: rows go to the file as they come, so a long log is never held whole.
    book = openpyxl.Workbook(write_only=True)
    ws = book.create_sheet(sheet.name[:31])
    for i, width in enumerate(sheet.widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width

    def cell(value: object) -> Any:
        if isinstance(value, Decimal):
            c = WriteOnlyCell(ws, value=value)
            c.number_format = MONEY_FORMAT
            return c
        if isinstance(value, date) and not isinstance(value, datetime):
            c = WriteOnlyCell(ws, value=value)
            c.number_format = DATE_FORMAT
            return c
        if isinstance(value, str) and value[:1] in _FORMULA_STARTS:
            c = WriteOnlyCell(ws, value=value)
            c.data_type = "s"  # text, never a formula
            return c
        return value

    if sheet.title is not None:
        title = WriteOnlyCell(ws, value=sheet.title)
        title.font = Font(bold=True, color="C00000") if sheet.title_alert else Font(bold=True)
        ws.append([title])
    heads = []
    for heading in sheet.headings:
        head = WriteOnlyCell(ws, value=heading)
        head.font = Font(bold=True)
        heads.append(head)
    ws.append(heads)
    for row in sheet.rows:
        ws.append([cell(v) for v in row])
    book.save(out)


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path`` that replaces it once written (nothing half-written)."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        yield temp
        temp.replace(path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
