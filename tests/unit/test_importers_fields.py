"""Ledger file import: the check of each field, and how its errors are reported."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cases.importers import INSURANCES, KINDS, LEDGER_COLUMNS, read_ledger
from tests.unit.ledger_files import CODE_B, ledger, ledger_row, only_error, write_csv


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("9112010", "wrong length: 7 characters"),
        ("91120101MA05J8XY1234", "wrong length: 20 characters"),
        ("91120101MA05J8XYI2", "bad format"),  # I is not in the USCC alphabet
        ("9112010AMA05J8XY12", "bad format"),  # the first 8 characters are digits
        ("91120101MA05J8XY13", "wrong check digit"),
        ("", "required"),
    ],
)
def test_bad_employer_code(tmp_path: Path, code: str, reason: str) -> None:
    error = only_error(ledger(tmp_path, ledger_row(employer_code=code)))
    assert error.column == "employer_code"
    assert error.value == code
    assert error.line == 2
    assert reason in error.reason


def test_uscc_reasons_are_distinct(tmp_path: Path) -> None:
    reasons = {
        only_error(ledger(tmp_path, ledger_row(employer_code=code))).reason
        for code in ("9112010", "91120101MA05J8XYI2", "91120101MA05J8XY13")
    }
    assert len(reasons) == 3


@pytest.mark.parametrize(
    ("mobile", "reason"),
    [
        ("1381234", "not a valid Chinese mobile number"),
        ("15412345678", "not a valid Chinese mobile number"),  # unallocated range
        ("13812345678x", "not a valid Chinese mobile number"),  # phonenumbers would drop the x
        ("022-23456789", "not a mobile number (a landline)"),
        ("02223456789", "not a mobile number (a landline)"),
        ("+85291234567", "not a Chinese number"),
        ("电话", "not a valid Chinese mobile number"),
    ],
)
def test_bad_mobile(tmp_path: Path, mobile: str, reason: str) -> None:
    error = only_error(ledger(tmp_path, ledger_row(mobile=mobile)))
    assert (error.column, error.value, error.reason) == ("mobile", mobile, reason)


@pytest.mark.parametrize("mobile", ["+86 138 1234 5678", "138-1234-5678", "8613812345678"])
def test_mobile_spellings_normalised_to_e164(tmp_path: Path, mobile: str) -> None:
    assert ledger(tmp_path, ledger_row(mobile=mobile)).rows[0].mobile == "+8613812345678"


@pytest.mark.parametrize(
    ("period", "reason"),
    [
        ("2026-13", "month must be 01-12"),
        ("202600", "month must be 01-12"),
        ("1985-12", "year before 1986"),
        ("26-08", "not a period"),
        ("2026-08-01", "not a period"),
        ("August", "not a period"),
        ("", "required"),
    ],
)
def test_bad_period(tmp_path: Path, period: str, reason: str) -> None:
    error = only_error(ledger(tmp_path, ledger_row(period=period, due_date="2026-09-15")))
    assert error.column == "period"
    assert reason in error.reason


@pytest.mark.parametrize(
    ("insurance", "reason"),
    [
        ("养老金", "unknown insurance"),
        ("pension insurance", "unknown insurance"),
        ("社保", "unknown insurance"),
        ("", "required"),
    ],
)
def test_unknown_insurance(tmp_path: Path, insurance: str, reason: str) -> None:
    error = only_error(ledger(tmp_path, ledger_row(insurance=insurance)))
    assert error.column == "insurance"
    assert error.reason.startswith(reason)


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("养老", "pension"),
        ("养老保险", "pension"),
        ("基本养老保险", "pension"),
        ("企业职工基本养老保险", "pension"),
        ("医疗", "medical"),
        ("医疗保险", "medical"),
        ("基本医疗保险", "medical"),
        ("职工基本医疗保险", "medical"),
        ("工伤", "work_injury"),
        ("工伤保险", "work_injury"),
        ("失业", "unemployment"),
        ("失业保险", "unemployment"),
        ("生育", "maternity"),
        ("生育保险", "maternity"),
        ("Work Injury", "work_injury"),
        ("MATERNITY", "maternity"),
    ],
)
def test_insurance_names_accepted(tmp_path: Path, name: str, canonical: str) -> None:
    parsed = ledger(tmp_path, ledger_row(insurance=name))
    assert parsed.errors == []
    assert parsed.rows[0].insurance == canonical
    assert canonical in INSURANCES


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ("-100.00", "must be positive"),
        ("0", "must be positive"),
        ("0.00", "must be positive"),
        ("12.345", "more than two decimals"),
        ("abc", "not an amount"),
        ("1e3", "not an amount"),
        ("1,23.00", "not an amount"),
        ("12.34.5", "not an amount"),
        ("", "required"),
        ("2000000000", "implausibly large"),
    ],
)
def test_bad_amount(tmp_path: Path, amount: str, reason: str) -> None:
    error = only_error(ledger(tmp_path, ledger_row(amount_due=amount)))
    assert error.column == "amount_due"
    assert error.reason.startswith(reason)


@pytest.mark.parametrize(
    ("amount", "fen"),
    [("12,345.67", 1234567), ("0.01", 1), ("100", 10000), ("¥88.5", 8850), ("1,000", 100000)],
)
def test_amounts_become_exact_fen(tmp_path: Path, amount: str, fen: int) -> None:
    assert ledger(tmp_path, ledger_row(amount_due=amount)).rows[0].amount_due == fen


@pytest.mark.parametrize(
    ("due", "reason"),
    [
        ("2026-09-31", "no such date"),
        ("2026-02-29", "no such date"),
        ("15/09/2026", "not a date"),
        ("2026-9", "not a date"),
        ("next week", "not a date"),
        ("", "required"),
    ],
)
def test_bad_due_date(tmp_path: Path, due: str, reason: str) -> None:
    error = only_error(ledger(tmp_path, ledger_row(due_date=due)))
    assert error.column == "due_date"
    assert error.reason.startswith(reason)


@pytest.mark.parametrize("due", ["2026-09-05", "2026/9/5", "20260905", "2026-09-05 00:00:00"])
def test_due_date_spellings(tmp_path: Path, due: str) -> None:
    assert ledger(tmp_path, ledger_row(due_date=due)).rows[0].due_date == date(2026, 9, 5)


def test_due_date_before_period(tmp_path: Path) -> None:
    parsed = ledger(
        tmp_path,
        ledger_row(period="2026-08", due_date="2026-07-31"),
        ledger_row(period="2026-07", due_date="2026-07-01"),  # first day of the period is fine
    )
    error = only_error(parsed)
    assert (error.line, error.column, error.value) == (2, "due_date", "2026-07-31")
    assert error.reason == "before the period 2026-08 begins"
    assert [r.line for r in parsed.rows] == [3]


@pytest.mark.parametrize(
    ("kind", "reason"), [("欠费", "unknown kind"), ("unpaid", "unknown kind"), ("", "required")]
)
def test_bad_kind(tmp_path: Path, kind: str, reason: str) -> None:
    error = only_error(ledger(tmp_path, ledger_row(kind=kind)))
    assert error.column == "kind"
    assert error.reason.startswith(reason)


@pytest.mark.parametrize(
    ("kind", "canonical"),
    [("申报未缴", "declared_unpaid"), ("未申报", "undeclared"), ("稽核补缴", "audit_finding")],
)
def test_chinese_kinds(tmp_path: Path, kind: str, canonical: str) -> None:
    assert ledger(tmp_path, ledger_row(kind=kind)).rows[0].kind == canonical
    assert canonical in KINDS


@pytest.mark.parametrize("column", ["employer_name", "district"])
def test_required_text(tmp_path: Path, column: str) -> None:
    error = only_error(ledger(tmp_path, ledger_row(**{column: "  "})))
    assert (error.column, error.reason) == (column, "required")


def test_one_error_per_bad_field(tmp_path: Path) -> None:
    parsed = ledger(
        tmp_path,
        ledger_row(employer_code="9112010", period="2026-13", amount_due="x", mobile="1381234"),
    )
    assert [e.column for e in parsed.errors] == ["employer_code", "period", "amount_due", "mobile"]
    assert {e.line for e in parsed.errors} == {2}
    assert parsed.rows == []
    assert len(parsed.rejected) == 1


def test_row_error_message(tmp_path: Path) -> None:
    error = only_error(ledger(tmp_path, ledger_row(mobile="1381234")))
    assert str(error) == (
        "ledger.csv, line 2, column mobile, value '1381234': not a valid Chinese mobile number"
    )


def test_row_error_message_names_the_files_own_heading(tmp_path: Path) -> None:
    header = [*LEDGER_COLUMNS[:9], "手机号码", "address"]
    path = write_csv(tmp_path / "l.csv", [list(ledger_row(mobile="1381234").values())], header)
    parsed = read_ledger(path)
    assert only_error(parsed).column == "mobile"
    assert "column 手机号码 (mobile)" in str(parsed.errors[0])
    assert parsed.rejected[0][2] == ["手机号码: not a valid Chinese mobile number"]


def test_extra_cells_beyond_the_header(tmp_path: Path) -> None:
    # An unquoted comma inside a name shifts every later cell by one.
    shifted = list(ledger_row().values())
    shifted[1:2] = ["天津华泰", "商贸有限公司"]
    trailing_blank = [*ledger_row(employer_code=CODE_B).values(), ""]  # Excel likes those
    parsed = read_ledger(write_csv(tmp_path / "l.csv", [shifted, trailing_blank]))
    whole_row = [e for e in parsed.errors if e.column is None]
    assert [e.line for e in whole_row] == [2]
    assert whole_row[0].reason.startswith("12 cells but the header has 11")
    assert [r.line for r in parsed.rows] == [3]
