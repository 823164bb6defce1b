"""Arrears ledger and payment files -> validated rows.

This module only reads and checks files; it never touches the database. A file is either refused
as a whole (:class:`ImportFileError`: unreadable, wrong type, empty, broken header) or read row by
row into valid rows plus one :class:`RowError` per bad field, so that the caller can choose between
"all or nothing" and "accept the valid rows, hand back a rejects file".

Layout of the files: see "Interchange files" in ``DOMAIN.md``. CSV comes from the core system as
UTF-8 (with or without BOM) or, once an officer has opened and saved it in Excel on Chinese
Windows, as GB18030; XLSX carries the same header on its first sheet.
"""

from __future__ import annotations

import csv
import gc
import io
import math
import os
import re
import secrets
import unicodedata
import warnings
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

import phonenumbers
from stdnum.cn import uscc
from stdnum.exceptions import InvalidChecksum, InvalidFormat, InvalidLength, ValidationError

from cases.money import MoneyError, parse_yuan

__all__ = [
    "INSURANCES",
    "KINDS",
    "LEDGER_COLUMNS",
    "PAYMENT_COLUMNS",
    "ImportFileError",
    "LedgerRow",
    "Parsed",
    "PaymentRow",
    "RowError",
    "read_ledger",
    "read_payments",
    "write_rejects",
]

LEDGER_COLUMNS = (
    "employer_code",
    "employer_name",
    "district",
    "period",
    "insurance",
    "amount_due",
    "due_date",
    "kind",
    "contact_name",
    "mobile",
    "address",
)
PAYMENT_COLUMNS = ("employer_code", "amount", "paid_on", "reference")
INSURANCES = ("pension", "medical", "work_injury", "unemployment", "maternity")
KINDS = ("declared_unpaid", "undeclared", "audit_finding")

# A file without these columns cannot describe an employer or contact it; the contact columns may
# be absent altogether (the rows then simply have no contact details).
_LEDGER_OPTIONAL = frozenset({"contact_name", "mobile", "address"})
# Employer columns repeat on every row of the ledger; rows of one employer must agree on them.
_EMPLOYER_DETAILS = ("employer_name", "district", "contact_name", "mobile", "address")

_CODE_ALIASES = ("单位编码", "统一社会信用代码", "单位统一社会信用代码", "社会信用代码", "单位代码")
_LEDGER_ALIASES: dict[str, tuple[str, ...]] = {
    "employer_code": _CODE_ALIASES,
    "employer_name": ("单位名称", "用人单位名称", "用人单位"),
    "district": ("区县", "所属区县", "区"),
    "period": ("所属期", "费款所属期", "所属期间", "费款所属期间"),
    "insurance": ("险种", "险种名称"),
    "amount_due": ("欠费金额", "应缴金额", "欠缴金额"),
    "due_date": ("缴费截止日", "缴费截止日期", "应缴日期"),
    "kind": ("欠费类型",),
    "contact_name": ("联系人", "联系人姓名"),
    "mobile": ("手机号码", "手机号", "手机", "联系人手机"),
    "address": ("地址", "单位地址", "联系地址", "通讯地址"),
}
_PAYMENT_ALIASES: dict[str, tuple[str, ...]] = {
    "employer_code": _CODE_ALIASES,
    "amount": ("金额", "缴费金额", "到账金额", "缴款金额"),
    "paid_on": ("缴费日期", "到账日期", "缴款日期"),
    "reference": ("流水号", "银行流水号", "交易流水号"),
}

_INSURANCE_NAMES: dict[str, str] = {
    **{name: name for name in INSURANCES},
    **dict.fromkeys(
        (
            "养老",
            "养老保险",
            "基本养老保险",
            "企业职工基本养老保险",
            "职工基本养老保险",
            "城镇企业职工基本养老保险",
        ),
        "pension",
    ),
    **dict.fromkeys(
        ("医疗", "医疗保险", "基本医疗保险", "职工基本医疗保险", "城镇职工基本医疗保险"),
        "medical",
    ),
    **dict.fromkeys(("工伤", "工伤保险"), "work_injury"),
    **dict.fromkeys(("失业", "失业保险"), "unemployment"),
    **dict.fromkeys(("生育", "生育保险"), "maternity"),
}
_KIND_NAMES: dict[str, str] = {
    **{name: name for name in KINDS},
    "申报未缴": "declared_unpaid",
    "已申报未缴": "declared_unpaid",
    "未申报": "undeclared",
    "稽核补缴": "audit_finding",
}

# Contributions to pooled enterprise pensions started in 1986; earlier periods are typos.
_FIRST_YEAR = 1986
# Far beyond any single arrears item or payment; catches pasted account numbers and keeps every
# amount well inside a 64-bit fen column.
_MAX_FEN = 100_000_000_000  # 1,000,000,000.00 yuan
_PROGRESS_EVERY = 1000

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


def _show(value: str, limit: int = 60) -> str:
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return repr(value)


@dataclass(frozen=True)
class RowError:
    """One bad field (or, with ``column`` None, one bad row) of one row."""

    file: str
    line: int
    column: str | None  # canonical column name
    value: str | None  # the cell as read
    reason: str
    # The column's name as the file spells it (e.g. 手机号码), for messages people act on.
    heading: str | None = field(default=None, compare=False)

    @property
    def label(self) -> str | None:
        if self.column is None:
            return None
        if self.heading is None or self.heading.casefold() == self.column:
            return self.column
        return f"{self.heading} ({self.column})"

    def __str__(self) -> str:
        parts = [self.file, f"line {self.line}"]
        if self.label is not None:
            parts.append(f"column {self.label}")
        if self.value:
            parts.append(f"value {_show(self.value)}")
        return f"{', '.join(parts)}: {self.reason}"


@dataclass(frozen=True)
class LedgerRow:
    line: int
    employer_code: str
    employer_name: str
    district: str
    period: str  # "YYYY-MM"
    insurance: str  # one of INSURANCES
    amount_due: int  # fen
    due_date: date
    kind: str  # one of KINDS
    contact_name: str | None
    mobile: str | None  # E.164, "+8613812345678"
    address: str | None


@dataclass(frozen=True)
class PaymentRow:
    line: int
    employer_code: str
    amount: int  # fen
    paid_on: date
    reference: str


RowT = TypeVar("RowT")


@dataclass
class Parsed(Generic[RowT]):
    file: str
    header: list[str]  # the file's own column names, stripped; unnamed columns left out
    rows: list[RowT] = field(default_factory=list)  # valid rows only
    errors: list[RowError] = field(default_factory=list)
    # (line, raw cells by header name, reasons) for every row with at least one error
    rejected: list[tuple[int, dict[str, str], list[str]]] = field(default_factory=list)
    total_rows: int = 0  # data rows read, blank lines not counted
    # Things worth telling the user that do not reject anything (ignored or absent columns).
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


# --------------------------------------------------------------------------------------------
# Reading the raw table
# --------------------------------------------------------------------------------------------


_Records = Generator[tuple[int, Sequence[object]], None, None]


@dataclass
class _Table:
    file: str
    is_xlsx: bool
    records: _Records  # (line number, cells) for every physical row, blank ones included


def _open_table(path: Path) -> _Table:
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
        return _Table(file, True, _xlsx_records(path, file))
    if magic.startswith(b"PK\x03\x04"):
        raise ImportFileError(
            file, f"this looks like an XLSX workbook, not CSV; name it {path.stem}.xlsx"
        )
    return _Table(file, False, _csv_records(path, file))


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


def _csv_records(path: Path, file: str) -> _Records:
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
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
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


def _xlsx_records(path: Path, file: str) -> _Records:
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


def _cell_text(value: object, *, period: bool) -> str:
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


# --------------------------------------------------------------------------------------------
# Header
# --------------------------------------------------------------------------------------------


def _header_key(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().strip("\ufeff").strip()).casefold()


@dataclass
class _Layout:
    header: list[str]  # non-blank names, in file order
    named: list[tuple[int, str]]  # (cell index, name) of the named columns
    index: dict[str, int]  # canonical column -> cell index
    heading: dict[str, str]  # canonical column -> name in the file
    width: int  # cells in the header row, blank ones included
    warnings: list[str]


def _layout(
    file: str,
    line: int,
    cells: Sequence[str],
    columns: Sequence[str],
    aliases: dict[str, tuple[str, ...]],
    optional: frozenset[str],
) -> _Layout:
    lookup: dict[str, str] = {}
    for column in columns:
        lookup[_header_key(column)] = column
        for alias in aliases.get(column, ()):
            lookup[_header_key(alias)] = column
    stripped = [cell.strip().strip("\ufeff").strip() for cell in cells]
    while stripped and not stripped[-1]:
        stripped.pop()
    seen: dict[str, str] = {}
    index: dict[str, int] = {}
    heading: dict[str, str] = {}
    named: list[tuple[int, str]] = []
    ignored: list[str] = []
    for position, name in enumerate(stripped):
        if not name:
            continue
        key = _header_key(name)
        if key in seen:
            raise ImportFileError(
                file,
                f"duplicate column name {name!r} (also {seen[key]!r})",
                line=line,
                column=name,
            )
        seen[key] = name
        named.append((position, name))
        canonical = lookup.get(key)
        if canonical is None:
            ignored.append(name)
            continue
        if canonical in index:
            raise ImportFileError(
                file,
                f"columns {heading[canonical]!r} and {name!r} both mean {canonical}",
                line=line,
                column=name,
            )
        index[canonical] = position
        heading[canonical] = name
    missing = [c for c in columns if c not in index and c not in optional]
    if missing:
        hint = ""
        if len(named) == 1 and any(sep in named[0][1] for sep in "\t;|"):
            hint = " (the header is one cell: is the file separated by tabs or semicolons?)"
        raise ImportFileError(
            file, f"missing required column(s): {', '.join(missing)}{hint}", line=line
        )
    notes: list[str] = []
    if ignored:
        notes.append(f"{file}: ignored unknown column(s): {', '.join(ignored)}")
    absent = [c for c in columns if c not in index]
    if absent:
        notes.append(f"{file}: no {', '.join(absent)} column; those values are taken as blank")
    return _Layout([name for _, name in named], named, index, heading, len(cells), notes)


# --------------------------------------------------------------------------------------------
# Field checks. Each takes the stripped cell and returns (value, None) or (None, reason); the
# row loop memoises them by cell text, so each distinct value is checked once per file.
# --------------------------------------------------------------------------------------------

_FORMAT_REASON = (
    "bad format: a USCC is 8 digits followed by 10 digits or capital letters (not I, O, S, V, Z)"
)


def _check_code(raw: str) -> tuple[str | None, str | None]:
    if not raw:
        return None, "required"
    code = uscc.compact(unicodedata.normalize("NFKC", raw))
    try:
        return str(uscc.validate(code)), None
    except InvalidLength:
        return None, f"wrong length: {len(code)} characters, a USCC has 18"
    except InvalidFormat:
        return None, _FORMAT_REASON
    except InvalidChecksum:
        return None, "wrong check digit (the last character does not match; mistyped code?)"
    except ValidationError:
        return None, "not a valid USCC"


_PERIOD_RE = re.compile(r"(\d{4})(?:[-/.](\d{1,2})|(\d{2}))")
_DATE_RE = re.compile(
    r"(\d{4})(?:([-/.])(\d{1,2})\2(\d{1,2})|(\d{2})(\d{2}))(?:[ T]00:00(?::00)?)?"
)


def _check_period(raw: str) -> tuple[str | None, str | None]:
    if not raw:
        return None, "required"
    match = _PERIOD_RE.fullmatch(raw)
    if match is None:
        return None, "not a period; expected YYYY-MM (or YYYYMM, YYYY/MM)"
    year = int(match[1])
    month = int(match[2] or match[3])
    if not 1 <= month <= 12:
        return None, "month must be 01-12"
    if year < _FIRST_YEAR:
        return None, f"year before {_FIRST_YEAR}"
    return f"{year:04d}-{month:02d}", None


def _check_date(raw: str) -> tuple[date | None, str | None]:
    if not raw:
        return None, "required"
    match = _DATE_RE.fullmatch(raw)
    if match is None:
        return None, "not a date; expected YYYY-MM-DD (or YYYY/MM/DD, YYYYMMDD)"
    year = int(match[1])
    month = int(match[3] or match[5])
    day = int(match[4] or match[6])
    try:
        value = date(year, month, day)
    except ValueError:
        return None, "no such date"
    if year < _FIRST_YEAR:
        return None, f"year before {_FIRST_YEAR}"
    return value, None


_AMOUNT_RE = re.compile(r"(?P<neg>-)?\s*[¥￥]?\s*(?P<num>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)")


def _check_amount(raw: str) -> tuple[int | None, str | None]:
    if not raw:
        return None, "required"
    match = _AMOUNT_RE.fullmatch(raw)
    if match is None:
        return None, "not an amount; expected yuan such as 12345.67 (thousands commas allowed)"
    try:
        fen = parse_yuan(match["num"])
    except MoneyError:
        return None, "more than two decimals"
    if match["neg"]:
        fen = -fen
    if fen <= 0:
        return None, "must be positive"
    if fen > _MAX_FEN:
        return None, "implausibly large (over 1,000,000,000.00 yuan)"
    return fen, None


def _word_key(raw: str) -> str:
    return re.sub(r"[\s\-]+", "_", raw).casefold()


_INSURANCE_LOOKUP = {_word_key(k): v for k, v in _INSURANCE_NAMES.items()}
_KIND_LOOKUP = {_word_key(k): v for k, v in _KIND_NAMES.items()}
_INSURANCE_REASON = (
    f"unknown insurance; expected one of {', '.join(INSURANCES)} or 养老, 医疗, 工伤, 失业, 生育"
)
_KIND_REASON = f"unknown kind; expected one of {', '.join(KINDS)} or 申报未缴, 未申报, 稽核补缴"


def _check_insurance(raw: str) -> tuple[str | None, str | None]:
    if not raw:
        return None, "required"
    found = _INSURANCE_LOOKUP.get(_word_key(raw))
    return (found, None) if found else (None, _INSURANCE_REASON)


def _check_kind(raw: str) -> tuple[str | None, str | None]:
    if not raw:
        return None, "required"
    found = _KIND_LOOKUP.get(_word_key(raw))
    return (found, None) if found else (None, _KIND_REASON)


# phonenumbers ignores trailing letters ("13812345678x" parses fine); only phone-like text may pass.
_PHONE_CHARS_RE = re.compile(r"\+?[\d\s\-().]{5,25}")


def _check_mobile(raw: str) -> tuple[str | None, str | None]:
    if not raw:
        return None, None
    text = unicodedata.normalize("NFKC", raw)
    if _PHONE_CHARS_RE.fullmatch(text) is None:
        return None, "not a valid Chinese mobile number"
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return None, "not a valid Chinese mobile number"
    if number.country_code != 86:
        return None, "not a Chinese number"
    if number.extension or not phonenumbers.is_valid_number(number):
        return None, "not a valid Chinese mobile number"
    kind = phonenumbers.number_type(number)
    if kind != phonenumbers.PhoneNumberType.MOBILE:
        if kind in (
            phonenumbers.PhoneNumberType.FIXED_LINE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        ):
            return None, "not a mobile number (a landline)"
        return None, "not a mobile number"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


_Check = Callable[[str], tuple[Any, str | None]]


def _required_text(raw: str) -> tuple[Any, str | None]:
    return (raw, None) if raw else (None, "required")


def _optional_text(raw: str) -> tuple[Any, str | None]:
    return (raw or None), None


# --------------------------------------------------------------------------------------------
# The row loop shared by ledgers and payments
# --------------------------------------------------------------------------------------------

_Problem = tuple[str | None, str | None, str]  # (column, cell as read, reason)


@dataclass(slots=True)
class _Record:
    line: int
    cells: list[str]  # padded to the header's width
    values: list[Any]  # parsed values in column order; None where blank or invalid
    errors: list[_Problem]


@dataclass
class _Read:
    file: str
    layout: _Layout
    columns: Sequence[str]
    records: list[_Record]

    def at(self, column: str) -> int:
        return self.columns.index(column)


@contextmanager
def _bulk_allocation() -> Iterator[None]:
    """Pause the cyclic garbage collector while reading a file.

    A 100,000-row file allocates about a million lists, tuples and records, none of them in
    reference cycles; the collector would otherwise rescan the growing heap again and again,
    which more than doubles the parse time. Reference counting still frees everything.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


_Plan = list[tuple[str, int, _Check, dict[str, tuple[Any, str | None]]]]


def _read_rows(
    path: Path,
    columns: Sequence[str],
    aliases: dict[str, tuple[str, ...]],
    optional: frozenset[str],
    checks: dict[str, _Check],
    progress: Callable[[int], None] | None,
) -> _Read:
    """Read and check every row field by field; cross-row checks are left to the caller."""
    table = _open_table(path)
    file = table.file
    layout: _Layout | None = None
    period_at = -1
    width = 0
    records: list[_Record] = []
    # (column, cell index, check, memo). Every check is memoised by raw text: employers, periods,
    # dates and kinds repeat from row to row, and the USCC and mobile checks are slow.
    plan: _Plan = []
    with closing(table.records) as table_records:  # closes the workbook on an early error
        for line, raw_cells in table_records:
            if table.is_xlsx:
                cells = [_cell_text(v, period=(i == period_at)) for i, v in enumerate(raw_cells)]
            else:
                cells = cast(list[str], raw_cells)  # csv.reader yields lists of str
            if not cells:
                continue
            first = cells[0]
            if (not first or first.isspace()) and not "".join(cells).strip():
                continue
            if layout is None:
                layout = _layout(file, line, cells, columns, aliases, optional)
                period_at = layout.index.get("period", -1)
                width = layout.width
                # An absent optional column reads the blank cell padded on after the header's width.
                plan = [(c, layout.index.get(c, width), checks[c], {}) for c in columns]
                continue
            errors: list[_Problem] = []
            if len(cells) > width and any(c.strip() for c in cells[width:]):
                errors.append(
                    (
                        None,
                        None,
                        f"{len(cells)} cells but the header has {width}: "
                        "an unquoted comma in a field?",
                    )
                )
            missing = width + 1 - len(cells)
            if missing > 0:
                cells = [*cells, *([""] * missing)]
            values: list[Any] = []
            for column, position, check, memo in plan:
                raw = cells[position].strip()
                found = memo.get(raw)
                if found is None:
                    found = memo[raw] = check(raw)
                values.append(found[0])
                if found[1] is not None:
                    errors.append((column, raw, found[1]))
            records.append(_Record(line, cells, values, errors))
            if progress is not None and len(records) % _PROGRESS_EVERY == 0:
                progress(len(records))
    if layout is None:
        raise ImportFileError(file, "the file is empty")
    if not records:
        raise ImportFileError(file, "the file has a header but no data rows")
    if progress is not None and len(records) % _PROGRESS_EVERY:
        progress(len(records))
    return _Read(file, layout, columns, records)


def _lines(lines: Sequence[int], limit: int = 8) -> str:
    shown = ", ".join(str(n) for n in lines[:limit])
    if len(lines) > limit:
        shown += f" and {len(lines) - limit} more"
    return ("line " if len(lines) == 1 else "lines ") + shown


def _flag_duplicates(read: _Read, key_columns: Sequence[str], describe: str) -> None:
    positions = [read.at(c) for c in key_columns]
    groups: dict[tuple[Any, ...], list[_Record]] = {}
    for record in read.records:
        key = tuple(record.values[i] for i in positions)
        if None not in key:
            groups.setdefault(key, []).append(record)
    for key, group in groups.items():
        if len(group) < 2:
            continue
        shown = ", ".join(str(part) for part in key)
        for record in group:
            others = [r.line for r in group if r is not record]
            record.errors.append(
                (None, None, f"duplicate of {_lines(others)} (same {describe}: {shown})")
            )


def _flag_employer_conflicts(read: _Read) -> None:
    index = read.layout.index
    details = [c for c in _EMPLOYER_DETAILS if c in index]
    if not details:
        return
    code_at = read.at("employer_code")
    pick = itemgetter(*(index[c] for c in details))
    by_code: dict[Any, list[_Record]] = {}
    variants: dict[Any, set[Any]] = {}
    for record in read.records:
        code = record.values[code_at]
        if code is not None:
            by_code.setdefault(code, []).append(record)
            variants.setdefault(code, set()).add(pick(record.cells))
    for code, group in by_code.items():
        if len(variants[code]) < 2:
            continue  # every row carries the very same employer cells
        for column in details:
            position, value_at = index[column], read.at(column)
            seen: dict[str, list[int]] = {}
            for record in group:
                parsed = record.values[value_at]
                # Compare what will be stored, so "138 1234 5678" agrees with "13812345678".
                comparable = parsed if isinstance(parsed, str) else record.cells[position].strip()
                seen.setdefault(comparable, []).append(record.line)
            if len(seen) < 2:
                continue
            listed = " vs ".join(
                f"{_show(value) if value else '(blank)'} ({_lines(lines, 5)})"
                for value, lines in list(seen.items())[:5]
            )
            if len(seen) > 5:
                listed += f" vs {len(seen) - 5} more values"
            reason = f"rows of employer {code} disagree on {column}: {listed}"
            for record in group:
                record.errors.append((column, record.cells[position].strip(), reason))


def _finish(read: _Read, build: Callable[[_Record], RowT]) -> Parsed[RowT]:
    layout = read.layout
    parsed: Parsed[RowT] = Parsed(
        file=read.file,
        header=list(layout.header),
        total_rows=len(read.records),
        warnings=list(layout.warnings),
    )
    # Field errors in interchange column order, then the ones about the whole row.
    rank = {column: i for i, column in enumerate(read.columns)}
    last = len(rank)
    for record in read.records:
        if not record.errors:
            parsed.rows.append(build(record))
            continue
        reasons: list[str] = []
        ordered = sorted(record.errors, key=lambda problem: rank.get(problem[0] or "", last))
        for column, value, reason in ordered:
            heading = layout.heading.get(column) if column is not None else None
            parsed.errors.append(
                RowError(read.file, record.line, column, value, reason, heading=heading)
            )
            reasons.append(f"{heading}: {reason}" if heading is not None else reason)
        raw = {name: record.cells[i] for i, name in layout.named}
        parsed.rejected.append((record.line, raw, reasons))
    return parsed


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def read_ledger(path: Path, progress: Callable[[int], None] | None = None) -> Parsed[LedgerRow]:
    """Read and check an arrears ledger.

    Raises :class:`ImportFileError` when the file as a whole is unusable; otherwise every row is
    either in ``rows`` or in ``rejected`` with its errors in ``errors``.
    """
    with _bulk_allocation():
        return _read_ledger(Path(path), progress)


def _read_ledger(path: Path, progress: Callable[[int], None] | None) -> Parsed[LedgerRow]:
    checks: dict[str, _Check] = {
        "employer_code": _check_code,
        "employer_name": _required_text,
        "district": _required_text,
        "period": _check_period,
        "insurance": _check_insurance,
        "amount_due": _check_amount,
        "due_date": _check_date,
        "kind": _check_kind,
        "contact_name": _optional_text,
        "mobile": _check_mobile,
        "address": _optional_text,
    }
    read = _read_rows(path, LEDGER_COLUMNS, _LEDGER_ALIASES, _LEDGER_OPTIONAL, checks, progress)
    due_at, period_at = read.at("due_date"), read.at("period")
    period_starts: dict[str, date] = {}
    for record in read.records:
        due, period = record.values[due_at], record.values[period_at]
        if due is None or period is None:
            continue
        start = period_starts.get(period)
        if start is None:
            start = period_starts[period] = date(int(period[:4]), int(period[5:]), 1)
        if due < start:
            raw = record.cells[read.layout.index["due_date"]].strip()
            record.errors.append(("due_date", raw, f"before the period {period} begins"))
    _flag_duplicates(
        read, ("employer_code", "period", "insurance"), "employer_code, period and insurance"
    )
    _flag_employer_conflicts(read)

    def build(record: _Record) -> LedgerRow:
        return LedgerRow(record.line, *record.values)

    return _finish(read, build)


def read_payments(path: Path, progress: Callable[[int], None] | None = None) -> Parsed[PaymentRow]:
    """Read and check a bank/treasury payment file (same contract as :func:`read_ledger`)."""
    with _bulk_allocation():
        return _read_payments(Path(path), progress)


def _read_payments(path: Path, progress: Callable[[int], None] | None) -> Parsed[PaymentRow]:
    checks: dict[str, _Check] = {
        "employer_code": _check_code,
        "amount": _check_amount,
        "paid_on": _check_date,
        "reference": _required_text,
    }
    read = _read_rows(path, PAYMENT_COLUMNS, _PAYMENT_ALIASES, frozenset(), checks, progress)
    _flag_duplicates(read, ("reference",), "reference")

    def build(record: _Record) -> PaymentRow:
        return PaymentRow(record.line, *record.values)

    return _finish(read, build)


def write_rejects(path: Path, parsed: Parsed[RowT]) -> None:
    """Write the rejected rows as a CSV an officer can open in Excel, fix and import again.

    The original columns come first, so the fixed file has the header the importer expects; the
    ``line`` and ``reason`` columns are ignored on re-import, and replaced (not repeated) when a
    re-imported rejects file is rejected again.
    """
    path = Path(path)
    kept = [name for name in parsed.header if _header_key(name) not in ("line", "reason")]
    # Same directory, so the final rename is atomic; "x" mode creates the file with the normal
    # umask permissions (mkstemp would leave it readable by its owner only).
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        # utf-8-sig: Excel on Chinese Windows reads BOM-less UTF-8 as GBK and garbles it.
        with temp.open("x", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out)
            writer.writerow([*kept, "line", "reason"])
            for line, raw, reasons in sorted(parsed.rejected, key=lambda item: item[0]):
                writer.writerow([*(raw.get(name, "") for name in kept), line, "; ".join(reasons)])
            out.flush()
            os.fsync(out.fileno())
        temp.replace(path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
