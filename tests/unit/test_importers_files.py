"""Ledger file import, the file as a whole: header, encodings, XLSX, rejects files, progress."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from cases.importers import INSURANCES, LEDGER_COLUMNS, ImportFileError, read_ledger, write_rejects
from tests.unit.ledger_files import CODE_A, CODE_B, ledger, ledger_row, only_error, write_csv

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
