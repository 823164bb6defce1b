"""Ledger and payment files opened as a raw table: rows of cells, whatever the file type.

A CSV file is decoded as UTF-8 (with or without BOM) or, failing that, GB18030, refusing mixed or
binary content; an XLSX workbook is read from its first sheet. Either way the result is a
:class:`Table` whose records are (line number, cells) for every physical row, and
:func:`cell_text` turns a typed XLSX cell into the text a CSV file would have held. Anything that
makes the file unusable as a whole raises :class:`ImportFileError`.
"""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

__all__ = ["ImportFileError", "Records", "Table", "cell_text", "open_table"]

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK"
_UTF8_BOM = b"\xef\xbb\xbf"


class ImportFileError(Exception):
    """The file as a whole cannot be imported; nothing in it was read as rows."""

    def __init__(
        self, file: str, reason: str, *, line: int | None = None, column: str | None = None
    ) -> None:
        self.file = file
        self.reason = reason
        self.line = line
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [self.file]
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.reason}"


Records = Generator[tuple[int, Sequence[object]], None, None]


@dataclass
class Table:
    file: str
    is_xlsx: bool
    records: Records  # (line number, cells) for every physical row, blank ones included


def open_table(path: Path) -> Table:
    file = path.name
    try:
        with path.open("rb") as fh:
            magic = fh.read(8)
    except OSError as exc:
        raise ImportFileError(file, f"cannot read the file: {exc.strerror or exc}") from None
    suffix = path.suffix.lower()
    if magic.startswith(_OLE_MAGIC) or suffix == ".xls":
        raise ImportFileError(
            file,
            "this is a legacy Excel .xls (or password-protected) workbook; save it as .xlsx or CSV",
        )
    if suffix in (".xlsx", ".xlsm"):
        if not magic:
            raise ImportFileError(file, "the file is empty")
        if not magic.startswith(_ZIP_MAGIC):
            raise ImportFileError(file, "not an XLSX workbook (it does not start with 'PK')")
        return Table(file, True, _xlsx_records(path, file))
    if magic.startswith(b"PK\x03\x04"):
        raise ImportFileError(
            file, f"this looks like an XLSX workbook, not CSV; name it {path.stem}.xlsx"
        )
    return Table(file, False, _csv_records(path, file))


def _decode(data: bytes, file: str) -> str:
    if data.startswith(_UTF8_BOM):
        try:
            return data[len(_UTF8_BOM) :].decode("utf-8")
        except UnicodeDecodeError as exc:
            offset = exc.start + len(_UTF8_BOM)
            raise ImportFileError(
                file,
                f"starts with a UTF-8 byte-order mark but is not valid UTF-8 "
                f"(bad byte at offset {offset})",
                line=data.count(b"\n", 0, offset) + 1,
            ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as utf8_error:
        bad_utf8 = utf8_error.start
    # A UTF-8 file with a later stretch of GBK would decode as GB18030 into silent mojibake; if
    # the part before the first bad byte is genuine UTF-8 Chinese, refuse instead of guessing.
    prefix = data[:bad_utf8].decode("utf-8")
    if sum(1 for ch in prefix if "\u4e00" <= ch <= "\u9fff") >= 2:
        raise ImportFileError(
            file,
            f"mixed encodings: valid UTF-8 up to byte offset {bad_utf8}, then not; "
            "save the whole file in one encoding",
            line=data.count(b"\n", 0, bad_utf8) + 1,
        )
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as gb_error:
        raise ImportFileError(
            file,
            f"neither UTF-8 (bad byte at offset {bad_utf8}) nor GB18030 "
            f"(bad byte at offset {gb_error.start}); not a text file?",
            line=data.count(b"\n", 0, bad_utf8) + 1,
        ) from None


def _lines(text: str) -> Iterator[str]:
    """The text's lines with their endings, cut one at a time rather than copied whole."""
    newline = "\n" if "\n" in text or "\r" not in text else "\r"  # "\r" alone: classic Mac
    start, size = 0, len(text)
    while start < size:
        end = text.find(newline, start)
        if end < 0:
            yield text[start:]
            return
        yield text[start : end + 1]
        start = end + 1


def _csv_records(path: Path, file: str) -> Records:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFileError(file, f"cannot read the file: {exc.strerror or exc}") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportFileError(
            file, "UTF-16 text is not supported; save the file as CSV (UTF-8 or GB18030)"
        )
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ImportFileError(
            file, f"contains a NUL byte at offset {nul}: a binary file, not CSV text"
        )
    text = _decode(data, file)
    del data  # a large ledger would otherwise sit in memory twice, as bytes and as text
    reader = csv.reader(_lines(text), strict=True)
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportFileError(
                file, f"malformed CSV ({exc}); an unclosed quote?", line=start
            ) from None
        yield start, cells
        # line_num counts physical lines consumed, so quoted multi-line fields keep numbering.
        start = reader.line_num + 1


def _xlsx_records(path: Path, file: str) -> Records:
    import openpyxl  # imported here: costs ~0.2 s and CSV imports never need it

    try:
        with warnings.catch_warnings():
            # openpyxl warns about styles and data validation it ignores; none of it matters here.
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # any parser failure on a damaged archive means "unreadable"
        raise ImportFileError(file, f"not a readable XLSX workbook ({exc})") from None
    try:
        if not workbook.worksheets:
            raise ImportFileError(file, "the workbook has no worksheet")
        sheet = workbook.worksheets[0]
        # Some writers store a wrong <dimension>; read_only mode would trust it and cut rows off.
        sheet.reset_dimensions()
        rows = sheet.iter_rows(min_row=1, values_only=True)
        number = 0
        while True:
            try:
                values = next(rows)
            except StopIteration:
                return
            except Exception as exc:  # damaged sheet XML
                raise ImportFileError(
                    file, f"not a readable XLSX worksheet ({exc})", line=number + 1
                ) from None
            number += 1
            yield number, values
    finally:
        workbook.close()


def _decimal_text(value: float) -> str:
    # repr gives the shortest string that round-trips, i.e. what Excel displayed; from there on
    # the arithmetic is Decimal, never binary floating point.
    number = Decimal(repr(value))
    if number == number.to_integral_value():
        return str(int(number))
    return format(number, "f")


def cell_text(value: object, *, period: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, datetime):
        return value.strftime("%Y-%m") if period else value.date().isoformat()
    if isinstance(value, date):
        return value.strftime("%Y-%m") if period else value.isoformat()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _decimal_text(value) if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)
