"""The bank's reply file to balance inquiries: checked whole, imported once, read by the ladder."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select, update
from sqlmodel import col
from typer.testing import CliRunner

from arrears.cli import app
from arrears.wiring import App
from cases.importers import BANK_REPLY_COLUMNS
from cases.models import BankInquiry, Case, CaseEvent, ImportBatch
from tests.factories import CODES
from tests.integration.casework_world import World, make_world

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "bank_replies.csv"
TODAY = "2026-11-12"
runner = CliRunner()


def run(env: dict[str, str], *args: str) -> Any:
    return runner.invoke(app, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def world(store: App, tmp_path: Path) -> World:
    return make_world(store, tmp_path)


def _inquiries(store: App) -> list[BankInquiry]:
    with store.session() as session:
        return list(
            session.execute(select(BankInquiry).order_by(col(BankInquiry.reference))).scalars()
        )


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(BANK_REPLY_COLUMNS)
        writer.writerows(rows)
    return path


def test_sample_file_becomes_bank_inquiries_once(
    db_env: dict[str, str], store: App, world: World
) -> None:
    world.park(world.a, world.b)
    result = run(db_env, "import-bank-replies", str(SAMPLE), "--as-of", TODAY)
    assert result.exit_code == 0, result.output
    assert "3 bank replies imported for 2 cases, 0 already imported" in result.stdout
    found = _inquiries(store)
    assert [(i.case_id, i.account_number, i.balance_fen, i.inquired_on) for i in found] == [
        (world.a, "6216601234567890", 2_500_000, date(2026, 11, 10)),
        (world.b, "0302001109300099887", 123_456, date(2026, 11, 10)),
        (world.a, "12010188000012345678", 0, date(2026, 11, 9)),
    ]
    assert {i.source for i in found} == {"bank_file"}
    assert [i.reference for i in found] == [
        "BOC-20261110-0001",
        "BOC-20261110-0002",
        "BOC-20261110-0003",
    ]
    with store.session() as session:
        (batch,) = session.execute(
            select(ImportBatch).where(col(ImportBatch.kind) == "bank_replies")
        ).scalars()
        assert batch.kind == "bank_replies" and batch.file_name == "bank_replies.csv"
        assert {i.import_id for i in found} == {batch.id}
        events = session.execute(
            select(CaseEvent).where(col(CaseEvent.kind) == "bank_inquiry_recorded")
        ).scalars()
        assert sorted(e.data["reference"] for e in events) == [i.reference for i in found]
    # Both cases are decided again at the next night.
    assert world.case(world.a).next_review_on is None
    assert world.case(world.b).next_review_on is None

    world.park(world.a, world.b)
    again = run(db_env, "import-bank-replies", str(SAMPLE), "--as-of", TODAY)
    assert again.exit_code == 0, again.output
    assert "3 rows, nothing changed (3 already imported)" in again.stdout
    assert len(_inquiries(store)) == 3
    assert world.case(world.a).next_review_on is not None
    with store.session() as session:
        kinds = session.execute(select(col(ImportBatch.kind))).scalars()
        assert sorted(kinds) == ["bank_replies", "ledger"]


def test_every_bad_line_is_reported_and_nothing_is_written(
    db_env: dict[str, str], store: App, world: World, tmp_path: Path
) -> None:
    with store.session() as session:
        session.execute(
            update(Case)
            .where(col(Case.id) == world.b)
            .values(status="closed_paid", closed_on=date(2026, 11, 1))
        )
    bad = _write(
        tmp_path / "reply.csv",
        [
            [CODES[0], "中国银行", "6216601234567890", "100.00", "2026-11-10", "R1"],
            [CODES[5], "中国银行", "6216601234567890", "100.00", "2026-11-10", "R2"],
            [CODES[1], "中国银行", "6216601234567890", "100.00", "2026-11-10", "R3"],
            [CODES[0], "中国银行", "6216-AB", "100.00", "2026-11-10", "R4"],
            [CODES[0], "中国银行", "6216601234567890", "-5.00", "2026-11-10", "R5"],
            [CODES[0], "中国银行", "6216601234567890", "lots", "2026-11-10", "R6"],
            [CODES[0], "中国银行", "6216601234567890", "100.00", "2026-11-13", "R7"],
            [CODES[0], "中国银行", "6216601234567890", "100.00", "2026-02-30", "R8"],
            [CODES[0], "中国银行", "6216601234567890", "100.00", "2026-11-10", "R1"],
        ],
    )
    result = run(db_env, "import-bank-replies", str(bad), "--as-of", TODAY)
    assert result.exit_code == 1
    err = result.stderr
    for line, column, reason in (
        (3, "employer_code", "no employer with this code"),
        (4, "employer_code", "the employer has no open case"),
        (5, "account_number", "an account number is 8 to 30 digits"),
        (6, "balance", "must be zero or more"),
        (7, "balance", "not an amount"),
        (8, "inquired_on", "dated after today (2026-11-12)"),
        (9, "inquired_on", "no such date"),
        (2, "reference", "the same reference is on line(s) 10"),
        (10, "reference", "the same reference is on line(s) 2"),
    ):
        assert f"reply.csv, line {line}, column {column}" in err and reason in err, (line, err)
    assert "9 error(s); nothing was imported" in err
    assert _inquiries(store) == []


def test_a_reference_imported_with_other_figures_is_refused(
    db_env: dict[str, str], store: App, world: World, tmp_path: Path
) -> None:
    assert run(db_env, "import-bank-replies", str(SAMPLE), "--as-of", TODAY).exit_code == 0
    changed = _write(
        tmp_path / "changed.csv",
        [
            [
                CODES[0],
                "中国银行天津和平支行",
                "6216601234567890",
                "99.00",
                "2026-11-10",
                "BOC-20261110-0001",
            ]
        ],
    )
    result = run(db_env, "import-bank-replies", str(changed), "--as-of", TODAY)
    assert result.exit_code == 1
    assert "line 2, column reference" in result.stderr
    assert "already imported for case" in result.stderr
    assert {i.balance_fen for i in _inquiries(store) if i.reference == "BOC-20261110-0001"} == {
        2_500_000
    }


def test_xlsx_reply_with_the_same_header(
    db_env: dict[str, str], store: App, world: World, tmp_path: Path
) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(BANK_REPLY_COLUMNS))
    sheet.append(
        [CODES[0], "中国银行天津和平支行", "6216601234567890", 18000.5, date(2026, 11, 11), "X-1"]
    )
    path = tmp_path / "reply.xlsx"
    book.save(path)
    result = run(db_env, "import-bank-replies", str(path), "--as-of", TODAY)
    assert result.exit_code == 0, result.output
    (inquiry,) = _inquiries(store)
    assert (inquiry.case_id, inquiry.balance_fen, inquiry.inquired_on) == (
        world.a,
        1_800_050,
        date(2026, 11, 11),
    )
