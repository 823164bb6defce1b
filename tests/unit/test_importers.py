"""Ledger and payment file import: parsing, field checks, cross-row checks, rejects files."""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from cases.importers import (
    INSURANCES,
    KINDS,
    LEDGER_COLUMNS,
    PAYMENT_COLUMNS,
    ImportFileError,
    LedgerRow,
    Parsed,
    PaymentRow,
    RowError,
    read_ledger,
    read_payments,
    write_rejects,
)

# Valid USCCs (check digits computed per GB 32100-2015).
CODE_A = "91120101MA05J8XY12"
CODE_B = "91120116MA06XMN17C"
CODE_C = "91120104600037341P"


def ledger_row(**overrides: str) -> dict[str, str]:
    row = {
        "employer_code": CODE_A,
        "employer_name": "天津华泰商贸有限公司",
        "district": "和平区",
        "period": "2026-08",
        "insurance": "pension",
        "amount_due": "12345.67",
        "due_date": "2026-09-15",
        "kind": "declared_unpaid",
        "contact_name": "张伟",
        "mobile": "13812345678",
        "address": "天津市和平区南京路1号",
    }
    row.update(overrides)
    return row


def write_csv(
    path: Path,
    rows: Sequence[dict[str, str] | list[str]],
    header: tuple[str, ...] | list[str] = LEDGER_COLUMNS,
    encoding: str = "utf-8",
) -> Path:
    with path.open("w", encoding=encoding, newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(c, "") for c in header] if isinstance(row, dict) else row)
    return path


def ledger(tmp_path: Path, *rows: dict[str, str], name: str = "ledger.csv") -> Parsed[LedgerRow]:
    return read_ledger(write_csv(tmp_path / name, list(rows)))


def only_error(parsed: Parsed[LedgerRow] | Parsed[PaymentRow]) -> RowError:
    assert len(parsed.errors) == 1, [str(e) for e in parsed.errors]
    return parsed.errors[0]


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
# Field checks
# ---------------------------------------------------------------------------------------------


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
# Whole-file problems and encodings
# ---------------------------------------------------------------------------------------------


def test_missing_column_is_a_file_error(tmp_path: Path) -> None:
    header = [c for c in LEDGER_COLUMNS if c not in ("kind", "due_date")]
    path = write_csv(tmp_path / "l.csv", [ledger_row()], header=header)
    with pytest.raises(ImportFileError) as caught:
        read_ledger(path)
    message = str(caught.value)
    assert message.startswith("l.csv, line 1: missing required column(s)")
    assert "due_date" in message and "kind" in message


def test_duplicate_header_is_a_file_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "l.csv", [], header=[*LEDGER_COLUMNS, "District"])
    with pytest.raises(ImportFileError, match="duplicate column name 'District'"):
        read_ledger(path)


def test_two_aliases_of_one_column_is_a_file_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "l.csv", [], header=[*LEDGER_COLUMNS, "单位编码"])
    with pytest.raises(ImportFileError, match="both mean employer_code"):
        read_ledger(path)


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\r\n\r\n  \r\n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "l.csv"
    path.write_bytes(content)
    with pytest.raises(ImportFileError, match=r"^l\.csv: the file is empty$"):
        read_ledger(path)


def test_header_without_rows(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "l.csv", [])
    with pytest.raises(ImportFileError, match="header but no data rows"):
        read_ledger(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match=r"^nope\.csv: cannot read the file"):
        read_ledger(tmp_path / "nope.csv")


def test_gb18030_file(tmp_path: Path) -> None:
    header = ["单位编码", *LEDGER_COLUMNS[1:]]
    row = ledger_row(insurance="工伤保险", kind="稽核补缴", address="天津市河西区友谊路𠀀号")
    path = write_csv(tmp_path / "l.csv", [list(row.values())], header=header, encoding="gb18030")
    raw = path.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # the test really is about a non-UTF-8 file
    parsed = read_ledger(path)
    assert parsed.errors == []
    only = parsed.rows[0]
    assert (only.employer_name, only.insurance, only.kind) == (
        "天津华泰商贸有限公司",
        "work_injury",
        "audit_finding",
    )
    assert only.address == "天津市河西区友谊路𠀀号"  # a four-byte GB18030 character


def test_utf8_bom_file(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "l.csv", [ledger_row()], encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    parsed = read_ledger(path)
    assert parsed.errors == []
    assert parsed.header[0] == "employer_code"
    assert parsed.rows[0].employer_code == CODE_A


def test_undecodable_file_names_the_byte_offset(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    head = (",".join(LEDGER_COLUMNS) + "\n").encode()
    path.write_bytes(head + b"abc\xff\xfe\xfd\n")
    with pytest.raises(ImportFileError) as caught:
        read_ledger(path)
    assert f"offset {len(head) + 3}" in str(caught.value)
    assert caught.value.line == 2


def test_mixed_encodings_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    good = ",".join(ledger_row().values()) + "\n"
    head = (",".join(LEDGER_COLUMNS) + "\n" + good).encode("utf-8")
    path.write_bytes(head + good.encode("gb18030"))
    with pytest.raises(ImportFileError, match="mixed encodings") as caught:
        read_ledger(path)
    assert caught.value.line == 3


def test_utf16_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_bytes((",".join(LEDGER_COLUMNS) + "\n").encode("utf-16"))
    with pytest.raises(ImportFileError, match="UTF-16"):
        read_ledger(path)


def test_unclosed_quote_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    good = ",".join(ledger_row().values())
    path.write_text(f'{",".join(LEDGER_COLUMNS)}\n{good}\n"{good}\n{good}\n', encoding="utf-8")
    with pytest.raises(ImportFileError, match="malformed CSV") as caught:
        read_ledger(path)
    assert caught.value.line == 3


def test_multiline_quoted_field_keeps_physical_line_numbers(tmp_path: Path) -> None:
    rows: list[dict[str, str] | list[str]] = [
        ledger_row(address="天津市和平区\n南京路1号\n3楼"),  # lines 2-4
        ledger_row(insurance="medical", address="天津市和平区\n南京路1号\n3楼"),  # lines 5-7
        [],  # line 8: blank
        ledger_row(employer_code=CODE_B, employer_name="天津乙公司", mobile="12345"),  # line 9
    ]
    path = write_csv(tmp_path / "l.csv", rows)
    parsed = read_ledger(path)
    assert [r.line for r in parsed.rows] == [2, 5]
    assert parsed.rows[0].address == "天津市和平区\n南京路1号\n3楼"
    error = only_error(parsed)
    assert (error.line, error.column) == (9, "mobile")
    assert parsed.total_rows == 3


def test_legacy_xls_refused(tmp_path: Path) -> None:
    path = tmp_path / "l.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    with pytest.raises(ImportFileError, match=r"\.xls"):
        read_ledger(path)


def test_text_named_xlsx_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "l.xlsx", [ledger_row()])
    with pytest.raises(ImportFileError, match="not an XLSX workbook"):
        read_ledger(path)


def test_broken_zip_named_xlsx_refused(tmp_path: Path) -> None:
    path = tmp_path / "l.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"garbage" * 10)
    with pytest.raises(ImportFileError, match="not a readable XLSX"):
        read_ledger(path)


def test_workbook_named_csv_refused(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    workbook.active.append(list(LEDGER_COLUMNS))
    path = tmp_path / "l.csv"
    workbook.save(path)
    with pytest.raises(ImportFileError, match=r"name it l\.xlsx"):
        read_ledger(path)


# ---------------------------------------------------------------------------------------------
# XLSX
# ---------------------------------------------------------------------------------------------


def test_xlsx_file_with_typed_cells(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append([*LEDGER_COLUMNS, "备注"])
    sheet.append(
        [
            CODE_A, "天津华泰商贸有限公司", "和平区",
            datetime(2026, 8, 1),  # Excel turned the period into a date
            "pension",
            12345.67,  # a float, and 12345.67 * 100 == 1234566.9999999998 in float arithmetic
            datetime(2026, 9, 15),
            "申报未缴", "张伟",
            13812345678,  # mobile stored as a number
            "天津市和平区南京路1号", "note",
        ]
    )  # fmt: skip
    sheet.append([])  # row 3: blank
    sheet.append(
        [
            CODE_A, "天津华泰商贸有限公司", "和平区", "2026-08", "medical", 12.345,
            date(2026, 9, 15), "申报未缴", "张伟", 13812345678, "天津市和平区南京路1号",
        ]
    )  # fmt: skip
    sheet.append(
        [
            CODE_A, "天津华泰商贸有限公司", "和平区", 202608, "unemployment", 100,
            20260915, "申报未缴", "张伟", "13812345678", "天津市和平区南京路1号",
        ]
    )  # fmt: skip
    path = tmp_path / "ledger.xlsx"
    workbook.save(path)

    parsed = read_ledger(path)
    assert [r.line for r in parsed.rows] == [2, 5]
    first, third = parsed.rows
    assert first.period == "2026-08"
    assert first.amount_due == 1234567
    assert first.due_date == date(2026, 9, 15)
    assert first.mobile == "+8613812345678"
    assert (third.amount_due, third.due_date, third.period) == (10000, date(2026, 9, 15), "2026-08")
    error = only_error(parsed)
    assert (error.line, error.column, error.value) == (4, "amount_due", "12.345")
    assert error.reason == "more than two decimals"
    assert parsed.total_rows == 3


def test_xlsx_missing_column(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    workbook.active.append(list(LEDGER_COLUMNS[:5]))
    path = tmp_path / "ledger.xlsx"
    workbook.save(path)
    with pytest.raises(ImportFileError, match="missing required column"):
        read_ledger(path)


# ---------------------------------------------------------------------------------------------
# Rejects file and progress
# ---------------------------------------------------------------------------------------------


def test_rejects_file(tmp_path: Path) -> None:
    header = ["单位编码", *LEDGER_COLUMNS[1:], "备注"]
    rows = [
        [*ledger_row().values(), "ok"],  # line 2
        [*ledger_row(insurance="medical", amount_due="12.345", mobile="1381234").values(), "x"],
        [*ledger_row(insurance="unemployment", period="2026-13").values(), "y"],  # line 4
    ]
    parsed = read_ledger(write_csv(tmp_path / "in.csv", rows, header=header))
    # line 3's bad mobile also makes the employer's rows disagree on the mobile
    assert {line for line, _, _ in parsed.rejected} == {2, 3, 4}
    out = tmp_path / "rejects.csv"
    write_rejects(out, parsed)

    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    with out.open(encoding="utf-8-sig", newline="") as fh:
        lines = list(csv.reader(fh))
    assert lines[0] == [*header, "line", "reason"]
    assert [row[-2] for row in lines[1:]] == ["2", "3", "4"]
    line3 = lines[2]
    assert line3[: len(header)] == rows[1]  # the cells exactly as read
    assert line3[-1].split("; ") == [
        "amount_due: more than two decimals",
        "mobile: not a valid Chinese mobile number",
        line3[-1].split("; ")[2],
    ]
    assert line3[-1].split("; ")[2].startswith("mobile: rows of employer")
    assert "period: month must be 01-12" in lines[3][-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "rejects.csv"]


def test_rejects_file_can_be_fixed_and_read_again(tmp_path: Path) -> None:
    parsed = ledger(tmp_path, ledger_row(period="2026-13", due_date="2026-09-15"))
    out = tmp_path / "rejects.csv"
    write_rejects(out, parsed)
    text = out.read_text(encoding="utf-8-sig").replace("2026-13", "2026-08")
    out.write_text(text, encoding="utf-8-sig")
    again = read_ledger(out)
    assert again.errors == []
    assert again.rows[0].period == "2026-08"


def test_rejects_of_a_rejects_file_keep_one_line_and_reason_column(tmp_path: Path) -> None:
    first = tmp_path / "rejects1.csv"
    write_rejects(first, ledger(tmp_path, ledger_row(kind="?")))
    again = read_ledger(first)
    assert [e.column for e in again.errors] == ["kind"]
    second = tmp_path / "rejects2.csv"
    write_rejects(second, again)
    with second.open(encoding="utf-8-sig", newline="") as fh:
        header, row = list(csv.reader(fh))
    assert header == [*LEDGER_COLUMNS, "line", "reason"]
    assert row[-2:] == ["2", "kind: " + again.errors[0].reason]


def test_rejects_file_gets_ordinary_permissions(tmp_path: Path) -> None:
    plain = tmp_path / "plain.csv"
    plain.write_text("x", encoding="utf-8")
    out = tmp_path / "rejects.csv"
    write_rejects(out, ledger(tmp_path, ledger_row(kind="?")))
    assert out.stat().st_mode == plain.stat().st_mode


def test_rejects_replaces_an_existing_file(tmp_path: Path) -> None:
    out = tmp_path / "rejects.csv"
    out.write_text("old content\n", encoding="utf-8")
    write_rejects(out, ledger(tmp_path, ledger_row(kind="?")))
    assert "old content" not in out.read_text(encoding="utf-8-sig")


def test_progress_reports_every_thousand_rows(tmp_path: Path) -> None:
    rows = [
        ledger_row(
            period=f"{1990 + month // 12}-{month % 12 + 1:02d}",
            insurance=insurance,
            due_date="2099-12-31",
        )
        for month in range(500)
        for insurance in INSURANCES
    ]
    seen: list[int] = []
    parsed = read_ledger(write_csv(tmp_path / "l.csv", rows), progress=seen.append)
    assert parsed.errors == []
    assert seen == [1000, 2000, 2500]


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
