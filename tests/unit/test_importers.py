"""Ledger and payment file import: valid files to domain rows, cross-row checks, payments."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest

from cases.importers import (
    LEDGER_COLUMNS,
    PAYMENT_COLUMNS,
    ImportFileError,
    LedgerRow,
    PaymentRow,
    read_ledger,
    read_payments,
)
from tests.unit.ledger_files import CODE_A, CODE_B, CODE_C, ledger, ledger_row, write_csv

# ---------------------------------------------------------------------------------------------
# A valid file
# ---------------------------------------------------------------------------------------------


def test_valid_row_becomes_domain_values(tmp_path: Path) -> None:
    parsed = ledger(
        tmp_path,
        ledger_row(),
        ledger_row(
            period="202607",
            insurance="养老保险",
            amount_due="1,234,567.8",
            due_date="2026/08/15",
            kind="未申报",
        ),
        ledger_row(period="2026/06", insurance="医疗", amount_due="7", due_date="20260715"),
    )
    assert parsed.errors == []
    assert parsed.total_rows == 3
    assert parsed.header == list(LEDGER_COLUMNS)
    first, second, third = parsed.rows
    assert first == LedgerRow(
        line=2,
        employer_code=CODE_A,
        employer_name="天津华泰商贸有限公司",
        district="和平区",
        period="2026-08",
        insurance="pension",
        amount_due=1234567,
        due_date=date(2026, 9, 15),
        kind="declared_unpaid",
        contact_name="张伟",
        mobile="+8613812345678",
        address="天津市和平区南京路1号",
    )
    assert (second.period, second.insurance, second.amount_due, second.kind) == (
        "2026-07",
        "pension",
        123456780,
        "undeclared",
    )
    assert second.due_date == date(2026, 8, 15)
    assert (third.period, third.insurance, third.amount_due, third.line) == (
        "2026-06",
        "medical",
        700,
        4,
    )
    assert third.due_date == date(2026, 7, 15)


def test_row_dataclasses_follow_the_interchange_column_order() -> None:
    # The importer builds rows positionally from the column order.
    assert [f.name for f in dataclasses.fields(LedgerRow)] == ["line", *LEDGER_COLUMNS]
    assert [f.name for f in dataclasses.fields(PaymentRow)] == ["line", *PAYMENT_COLUMNS]


def test_optional_fields_blank_become_none(tmp_path: Path) -> None:
    parsed = ledger(tmp_path, ledger_row(contact_name=" ", mobile="", address=""))
    row = parsed.rows[0]
    assert (row.contact_name, row.mobile, row.address) == (None, None, None)


def test_cells_are_stripped_and_code_compacted(tmp_path: Path) -> None:
    parsed = ledger(
        tmp_path,
        ledger_row(employer_code=" 9112 0101-ma05j8xy12 ", employer_name=" 天津华泰商贸有限公司 "),
    )
    assert parsed.errors == []
    assert parsed.rows[0].employer_code == CODE_A
    assert parsed.rows[0].employer_name == "天津华泰商贸有限公司"


def test_header_matching_ignores_case_and_spaces_and_extra_columns(tmp_path: Path) -> None:
    header = [" Employer_Code ", *(c.upper() for c in LEDGER_COLUMNS[1:]), "备注"]
    path = write_csv(tmp_path / "l.csv", [[*ledger_row().values(), "whatever"]], header=header)
    parsed = read_ledger(path)
    assert parsed.errors == []
    assert parsed.rows[0].employer_code == CODE_A
    assert any("备注" in w for w in parsed.warnings)


def test_chinese_header_aliases(tmp_path: Path) -> None:
    header = [
        "统一社会信用代码", "单位名称", "区县", "费款所属期", "险种", "欠费金额",
        "缴费截止日", "欠费类型", "联系人", "手机号码", "地址",
    ]  # fmt: skip
    path = write_csv(tmp_path / "l.csv", [list(ledger_row().values())], header=header)
    parsed = read_ledger(path)
    assert parsed.errors == []
    assert parsed.rows[0].mobile == "+8613812345678"
    assert parsed.header == header


def test_absent_contact_columns_read_as_none(tmp_path: Path) -> None:
    header = LEDGER_COLUMNS[:8]
    path = write_csv(tmp_path / "l.csv", [ledger_row()], header=header)
    parsed = read_ledger(path)
    assert parsed.errors == []
    assert parsed.rows[0].mobile is None
    assert any("mobile" in w for w in parsed.warnings)


# ---------------------------------------------------------------------------------------------
# Cross-row checks
# ---------------------------------------------------------------------------------------------


def test_duplicate_key_flags_every_row_of_the_key(tmp_path: Path) -> None:
    parsed = ledger(
        tmp_path,
        ledger_row(),  # line 2
        ledger_row(insurance="medical"),  # line 3: another key
        ledger_row(insurance="养老", amount_due="1.00"),  # line 4: same key as line 2
        ledger_row(period="202608"),  # line 5: same key again, other spelling of the period
    )
    duplicates = {e.line: e.reason for e in parsed.errors}
    assert set(duplicates) == {2, 4, 5}
    assert duplicates[2].startswith("duplicate of lines 4, 5")
    assert duplicates[4].startswith("duplicate of lines 2, 5")
    assert duplicates[5].startswith("duplicate of lines 2, 4")
    assert [r.line for r in parsed.rows] == [3]
    assert sorted(line for line, _, _ in parsed.rejected) == [2, 4, 5]


def test_conflicting_employer_details(tmp_path: Path) -> None:
    parsed = ledger(
        tmp_path,
        ledger_row(),
        ledger_row(insurance="medical", employer_name="天津华泰商贸股份有限公司"),
        ledger_row(insurance="maternity"),
        ledger_row(employer_code=CODE_B, employer_name="天津另一家有限公司"),
    )
    assert {e.line for e in parsed.errors} == {2, 3, 4}
    assert {e.column for e in parsed.errors} == {"employer_name"}
    reason = parsed.errors[0].reason
    assert CODE_A in reason
    assert "employer_name" in reason
    assert "lines 2, 4" in reason and "line 3" in reason
    assert [r.employer_code for r in parsed.rows] == [CODE_B]


@pytest.mark.parametrize(
    ("column", "other"),
    [("district", "河西区"), ("contact_name", "李娜"), ("mobile", "13912345678"), ("address", "")],
)
def test_each_employer_detail_must_agree(tmp_path: Path, column: str, other: str) -> None:
    parsed = ledger(tmp_path, ledger_row(), ledger_row(insurance="medical", **{column: other}))
    assert [(e.line, e.column) for e in parsed.errors] == [(2, column), (3, column)]
    assert parsed.rows == []


def test_same_mobile_spelled_differently_is_no_conflict(tmp_path: Path) -> None:
    parsed = ledger(
        tmp_path, ledger_row(), ledger_row(insurance="medical", mobile="+86 138-1234-5678")
    )
    assert parsed.errors == []


# ---------------------------------------------------------------------------------------------
# Payments
# ---------------------------------------------------------------------------------------------


def payments(tmp_path: Path, rows: list[list[str]], header: list[str] | None = None) -> Path:
    return write_csv(tmp_path / "pay.csv", rows, header=header or list(PAYMENT_COLUMNS))


def test_valid_payments(tmp_path: Path) -> None:
    path = payments(
        tmp_path,
        [
            [CODE_A, "1,000.50", "2026-09-20", " ICBC2026092000001 "],
            [CODE_B, "3", "20260921", "B2"],
        ],
        header=["统一社会信用代码", "金额", "到账日期", "银行流水号"],
    )
    parsed = read_payments(path)
    assert parsed.errors == []
    assert parsed.rows == [
        PaymentRow(2, CODE_A, 100050, date(2026, 9, 20), "ICBC2026092000001"),
        PaymentRow(3, CODE_B, 300, date(2026, 9, 21), "B2"),
    ]


def test_payment_field_errors(tmp_path: Path) -> None:
    parsed = read_payments(
        payments(
            tmp_path,
            [
                ["91120101MA05J8XY13", "100", "2026-09-20", "R1"],
                [CODE_A, "0", "2026-09-20", "R2"],
                [CODE_A, "-5", "2026-09-20", "R3"],
                [CODE_A, "5.001", "2026-09-20", "R4"],
                [CODE_A, "5", "2026-09-31", "R5"],
                [CODE_A, "5", "2026-09-20", "  "],
            ],
        )
    )
    assert [(e.line, e.column) for e in parsed.errors] == [
        (2, "employer_code"),
        (3, "amount"),
        (4, "amount"),
        (5, "amount"),
        (6, "paid_on"),
        (7, "reference"),
    ]
    assert "wrong check digit" in parsed.errors[0].reason
    assert parsed.errors[-1].reason == "required"
    assert parsed.rows == []


def test_duplicate_payment_reference(tmp_path: Path) -> None:
    parsed = read_payments(
        payments(
            tmp_path,
            [
                [CODE_A, "100", "2026-09-20", "R1"],
                [CODE_B, "200", "2026-09-20", "R2"],
                [CODE_C, "300", "2026-09-21", "R1"],
            ],
        )
    )
    assert [(e.line, e.reason) for e in parsed.errors] == [
        (2, "duplicate of line 4 (same reference: R1)"),
        (4, "duplicate of line 2 (same reference: R1)"),
    ]
    assert [r.reference for r in parsed.rows] == ["R2"]


def test_payments_missing_column(tmp_path: Path) -> None:
    path = payments(tmp_path, [[CODE_A, "1", "2026-09-20"]], header=list(PAYMENT_COLUMNS[:3]))
    with pytest.raises(ImportFileError, match=r"missing required column.*reference"):
        read_payments(path)
