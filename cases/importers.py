"""Arrears ledger and payment files -> validated rows.

This module only reads and checks files; it never touches the database. A file is either refused
as a whole (:class:`ImportFileError`: unreadable, wrong type, empty, broken header) or read row by
row into valid rows plus one :class:`RowError` per bad field, so that the caller can choose between
"all or nothing" and "accept the valid rows, hand back a rejects file".

Layout of the files: see "Interchange files" in ``DOMAIN.md``. CSV comes from the core system as
UTF-8 (with or without BOM) or, once an officer has opened and saved it in Excel on Chinese
Windows, as GB18030; XLSX carries the same header on its first sheet.

The public API is here; the work is done by ``cases.tabular`` (opening the file as a table of
cells), ``cases.header`` (matching the header row to the columns below), ``cases.fields`` (one
check per field) and ``cases.rows`` (the row loop and the checks across rows).
"""

from __future__ import annotations

import csv
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Generic, TypeVar

from cases.fields import (
    INSURANCES,
    KINDS,
    Check,
    check_account,
    check_amount,
    check_balance,
    check_code,
    check_date,
    check_insurance,
    check_kind,
    check_mobile,
    check_period,
    optional_text,
    required_text,
)
from cases.header import header_key
from cases.rows import (
    Read,
    Record,
    bulk_allocation,
    flag_duplicates,
    flag_employer_conflicts,
    read_rows,
    show,
)
from cases.tabular import ImportFileError

__all__ = [
    "BANK_REPLY_COLUMNS",
    "INSURANCES",
    "KINDS",
    "LEDGER_COLUMNS",
    "PAYMENT_COLUMNS",
    "BankReplyRow",
    "ImportFileError",
    "LedgerRow",
    "Parsed",
    "PaymentRow",
    "RowError",
    "read_bank_replies",
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
# The bank's answer to the agency's balance inquiries: one line per account, ``reference`` the
# bank's serial number of the line.
BANK_REPLY_COLUMNS = (
    "employer_code",
    "bank_name",
    "account_number",
    "balance",
    "inquired_on",
    "reference",
)

# A file without these columns cannot describe an employer or contact it; the contact columns may
# be absent altogether (the rows then simply have no contact details).
_LEDGER_OPTIONAL = frozenset({"contact_name", "mobile", "address"})

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

_BANK_REPLY_ALIASES: dict[str, tuple[str, ...]] = {
    "employer_code": _CODE_ALIASES,
    "bank_name": ("开户银行", "银行名称", "开户行"),
    "account_number": ("账号", "银行账号", "账户号码"),
    "balance": ("余额", "账户余额", "可用余额"),
    "inquired_on": ("查询日期", "余额日期"),
    "reference": ("流水号", "查询流水号", "回复流水号"),
}


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
            parts.append(f"value {show(self.value)}")
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


@dataclass(frozen=True)
class BankReplyRow:
    line: int
    employer_code: str
    bank_name: str
    account_number: str  # digits only
    balance: int  # fen, zero or more
    inquired_on: date
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


def _finish(read: Read, build: Callable[[Record], RowT]) -> Parsed[RowT]:
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
    with bulk_allocation():
        return _read_ledger(Path(path), progress)


def _read_ledger(path: Path, progress: Callable[[int], None] | None) -> Parsed[LedgerRow]:
    checks: dict[str, Check] = {
        "employer_code": check_code,
        "employer_name": required_text,
        "district": required_text,
        "period": check_period,
        "insurance": check_insurance,
        "amount_due": check_amount,
        "due_date": check_date,
        "kind": check_kind,
        "contact_name": optional_text,
        "mobile": check_mobile,
        "address": optional_text,
    }
    read = read_rows(path, LEDGER_COLUMNS, _LEDGER_ALIASES, _LEDGER_OPTIONAL, checks, progress)
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
    flag_duplicates(
        read, ("employer_code", "period", "insurance"), "employer_code, period and insurance"
    )
    flag_employer_conflicts(read)

    def build(record: Record) -> LedgerRow:
        return LedgerRow(record.line, *record.values)

    return _finish(read, build)


def read_payments(path: Path, progress: Callable[[int], None] | None = None) -> Parsed[PaymentRow]:
    """Read and check a bank/treasury payment file (same contract as :func:`read_ledger`)."""
    with bulk_allocation():
        return _read_payments(Path(path), progress)


def _read_payments(path: Path, progress: Callable[[int], None] | None) -> Parsed[PaymentRow]:
    checks: dict[str, Check] = {
        "employer_code": check_code,
        "amount": check_amount,
        "paid_on": check_date,
        "reference": required_text,
    }
    read = read_rows(path, PAYMENT_COLUMNS, _PAYMENT_ALIASES, frozenset(), checks, progress)
    flag_duplicates(read, ("reference",), "reference")

    def build(record: Record) -> PaymentRow:
        return PaymentRow(record.line, *record.values)

    return _finish(read, build)


def read_bank_replies(path: Path) -> Parsed[BankReplyRow]:
    """Read and check the bank's reply file to balance inquiries (same contract as
    :func:`read_ledger`); a reference repeated inside the file rejects every line carrying it."""
    with bulk_allocation():
        checks: dict[str, Check] = {
            "employer_code": check_code,
            "bank_name": required_text,
            "account_number": check_account,
            "balance": check_balance,
            "inquired_on": check_date,
            "reference": required_text,
        }
        read = read_rows(
            Path(path), BANK_REPLY_COLUMNS, _BANK_REPLY_ALIASES, frozenset(), checks, None
        )
        at = read.at("reference")
        lines: dict[str, list[int]] = {}
        for record in read.records:
            if record.values[at] is not None:
                lines.setdefault(record.values[at], []).append(record.line)
        for record in read.records:
            serial = record.values[at]
            others = [n for n in lines.get(serial, []) if n != record.line]
            if others:
                shown = ", ".join(str(n) for n in others)
                record.errors.append(
                    ("reference", serial, f"the same reference is on line(s) {shown}")
                )

        def build(record: Record) -> BankReplyRow:
            return BankReplyRow(record.line, *record.values)

        return _finish(read, build)


def write_rejects(path: Path, parsed: Parsed[RowT]) -> None:
    """Write the rejected rows as a CSV an officer can open in Excel, fix and import again.

    The original columns come first, so the fixed file has the header the importer expects; the
    ``line`` and ``reason`` columns are ignored on re-import, and replaced (not repeated) when a
    re-imported rejects file is rejected again.
    """
    path = Path(path)
    kept = [name for name in parsed.header if header_key(name) not in ("line", "reason")]
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
