"""Ledger and payment imports through the `arrears` CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from arrears.cli import app
from arrears.wiring import App
from cases.models import ArrearsItem, Case, CaseEvent, Employer, Payment
from tests.factories import CODES, ledger_row, write_ledger, write_payments

runner = CliRunner()
TABLES = ("employer", "arrears_item", "case", "case_event", "payment", "allocation", "import_batch")


def arrears(db_env: dict[str, str], *args: str) -> Any:
    result = runner.invoke(app, list(args), env=db_env, catch_exceptions=False)
    return result


def show(db_env: dict[str, str], code: str, as_of: str) -> dict[str, Any]:
    result = arrears(db_env, "cases", "show", code, "--as-of", as_of, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def counts(store: App) -> dict[str, int]:
    with store.engine.connect() as connection:
        return {
            t: connection.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in TABLES
        }


def test_import_opens_a_case_with_hand_computed_figures(
    db_env: dict[str, str], tmp_path: Path, store: App
) -> None:
    ledger = write_ledger(
        tmp_path / "ledger.csv",
        [
            ledger_row(),  # 10000.00 due 2026-09-15
            ledger_row(insurance="medical", amount_due="2000.50"),
            ledger_row(
                CODES[1], employer_name="天津某某物流有限公司", district="南开区", mobile=""
            ),
        ],
    )
    result = arrears(db_env, "import-ledger", str(ledger), "--as-of", "2026-10-01")
    assert result.exit_code == 0, result.output
    assert "3 rows imported" in result.stdout and "2 cases opened" in result.stdout

    case = show(db_env, CODES[0], "2026-10-15")
    # 30 days late: 0.0005 × 1,000,000 fen × 30 = 15,000 fen; 0.0005 × 200,050 × 30 = 3,000.75
    # fen, half-up → 3,001 fen. Principal 12,000.50; fees 150.00 + 30.01 = 180.01.
    assert case["status"] == "open"
    assert case["stage"] == "none"
    assert case["principal_outstanding"] == "12000.50"
    assert case["late_fee"] == "180.01"
    assert case["total_due"] == "12180.51"
    assert case["first_overdue_on"] == "2026-09-16"
    assert [(i["insurance"], i["late_fee"]) for i in case["items"]] == [
        ("pension", "150.00"),
        ("medical", "30.01"),
    ]
    assert case["mobile"] == "+8613812345678"
    assert [e["kind"] for e in case["events"]] == ["case_opened"]

    listed = arrears(db_env, "cases", "list", "--as-of", "2026-10-15", "--json")
    rows = json.loads(listed.stdout)
    assert [r["employer_code"] for r in rows] == [CODES[0], CODES[1]]  # largest total first
    assert {
        "employer_code",
        "status",
        "stage",
        "principal_outstanding",
        "late_fee",
        "total_due",
    } <= set(rows[0])


def test_reimport_changes_nothing_and_a_changed_amount_is_a_correction(
    db_env: dict[str, str], tmp_path: Path, store: App
) -> None:
    ledger = write_ledger(tmp_path / "ledger.csv", [ledger_row(), ledger_row(insurance="medical")])
    assert arrears(db_env, "import-ledger", str(ledger), "--as-of", "2026-10-01").exit_code == 0
    before = counts(store)
    again = arrears(db_env, "import-ledger", str(ledger), "--as-of", "2026-10-02")
    assert again.exit_code == 0
    assert "nothing changed" in again.stdout
    assert counts(store) == before

    corrected = write_ledger(
        tmp_path / "ledger2.csv",
        [ledger_row(amount_due="9500.00"), ledger_row(insurance="medical")],
    )
    result = arrears(db_env, "import-ledger", str(corrected), "--as-of", "2026-10-03")
    assert "1 corrected" in result.stdout
    case = show(db_env, CODES[0], "2026-10-03")
    assert case["items"][0]["amount_due"] == "9500.00"
    corrections = [e for e in case["events"] if e["kind"] == "item_corrected"]
    assert len(corrections) == 1
    assert "10000.00 → 9500.00" in corrections[0]["message"]
    after = counts(store)
    assert after["arrears_item"] == before["arrears_item"]
    assert after["case"] == before["case"]


def test_bad_file_writes_nothing_and_lists_every_error(
    db_env: dict[str, str], tmp_path: Path, store: App
) -> None:
    ledger = write_ledger(
        tmp_path / "bad.csv",
        [
            ledger_row(),
            ledger_row(insurance="medical", amount_due="-5"),
            ledger_row(CODES[2], period="2026-13"),
        ],
    )
    before = counts(store)
    result = arrears(db_env, "import-ledger", str(ledger), "--as-of", "2026-10-01")
    assert result.exit_code == 1
    assert "bad.csv, line 3, column amount_due" in result.stderr
    assert "bad.csv, line 4, column period" in result.stderr
    assert "nothing was imported" in result.stderr
    assert counts(store) == before


def test_accept_valid_imports_good_rows_and_writes_rejects(
    db_env: dict[str, str], tmp_path: Path
) -> None:
    ledger = write_ledger(
        tmp_path / "mixed.csv",
        [ledger_row(), ledger_row(CODES[1], mobile="022-2345678"), ledger_row(CODES[2])],
    )
    rejects = tmp_path / "rejects.csv"
    result = arrears(
        db_env,
        "import-ledger",
        str(ledger),
        "--accept-valid",
        "--rejects",
        str(rejects),
        "--as-of",
        "2026-10-01",
    )
    assert result.exit_code == 0, result.output
    assert "2 rows imported" in result.stdout
    with rejects.open(encoding="utf-8-sig", newline="") as handle:
        rejected = list(csv.DictReader(handle))
    assert len(rejected) == 1
    assert rejected[0]["employer_code"] == CODES[1]
    assert "mobile" in rejected[0]["reason"]
    missing = arrears(db_env, "cases", "show", CODES[1], "--as-of", "2026-10-01")
    assert missing.exit_code == 1 and "no employer" in missing.stderr


def test_gb18030_file_imports_with_chinese_names(db_env: dict[str, str], tmp_path: Path) -> None:
    ledger = write_ledger(
        tmp_path / "excel.csv",
        [
            ledger_row(
                insurance="养老保险",
                kind="申报未缴",
                employer_name="天津市滨海新区泰达物流有限公司",
            )
        ],
        encoding="gb18030",
    )
    result = arrears(db_env, "import-ledger", str(ledger), "--as-of", "2026-10-01")
    assert result.exit_code == 0, result.output
    case = show(db_env, CODES[0], "2026-10-01")
    assert case["employer_name"] == "天津市滨海新区泰达物流有限公司"
    assert case["items"][0]["insurance"] == "pension"


def test_payments_are_allocated_and_a_settled_case_closes(
    db_env: dict[str, str], tmp_path: Path, store: App
) -> None:
    ledger = write_ledger(tmp_path / "ledger.csv", [ledger_row()])  # 10000.00 due 2026-09-15
    arrears(db_env, "import-ledger", str(ledger), "--as-of", "2026-09-20")
    first = write_payments(tmp_path / "p1.csv", [(CODES[0], "5000.00", "2026-09-25", "B001")])
    result = arrears(db_env, "import-payments", str(first), "--as-of", "2026-10-15")
    assert result.exit_code == 0, result.output
    case = show(db_env, CODES[0], "2026-10-15")
    # 5,000 paid 10 days late: 0.0005 × 500,000 × 10 = 2,500 fen; 5,000 still unpaid after
    # 30 days: 0.0005 × 500,000 × 30 = 7,500 fen. Fee 100.00, principal left 5,000.00.
    assert case["status"] == "open"
    assert (case["principal_outstanding"], case["late_fee"], case["total_due"]) == (
        "5000.00",
        "100.00",
        "5100.00",
    )
    received = [e for e in case["events"] if e["kind"] == "payment_received"]
    assert len(received) == 1 and "principal ¥5000.00" in received[0]["message"]

    before = counts(store)
    again = arrears(db_env, "import-payments", str(first), "--as-of", "2026-10-15")
    assert again.exit_code == 0 and "nothing changed" in again.stdout
    assert counts(store) == before

    second = write_payments(tmp_path / "p2.csv", [(CODES[0], "5100.00", "2026-10-15", "B002")])
    result = arrears(db_env, "import-payments", str(second), "--as-of", "2026-10-15")
    assert "1 cases closed as paid" in result.stdout
    case = show(db_env, CODES[0], "2026-10-15")
    assert case["status"] == "closed_paid"
    assert case["closed_on"] == "2026-10-15"
    assert (case["principal_outstanding"], case["late_fee"], case["credit"]) == (
        "0.00",
        "0.00",
        "0.00",
    )
    assert case["events"][-1]["kind"] == "status_changed"
    # Once settled the fee stops growing: a month later nothing more is owed.
    assert show(db_env, CODES[0], "2026-11-15")["total_due"] == "0.00"


def test_payment_file_contradicting_the_store_is_refused(
    db_env: dict[str, str], tmp_path: Path, store: App
) -> None:
    arrears(
        db_env,
        "import-ledger",
        str(write_ledger(tmp_path / "l.csv", [ledger_row()])),
        "--as-of",
        "2026-09-20",
    )
    arrears(
        db_env,
        "import-payments",
        str(write_payments(tmp_path / "p1.csv", [(CODES[0], "100.00", "2026-09-25", "B001")])),
        "--as-of",
        "2026-10-01",
    )
    before = counts(store)
    bad = write_payments(
        tmp_path / "p2.csv",
        [
            (CODES[0], "200.00", "2026-09-26", "B001"),  # same reference, other amount
            (CODES[5], "50.00", "2026-09-26", "B003"),  # no such employer
            (CODES[0], "70.00", "2026-12-01", "B004"),  # after the import date
            (CODES[0], "80.00", "2026-09-27", "B005"),  # fine on its own
        ],
    )
    result = arrears(db_env, "import-payments", str(bad), "--as-of", "2026-10-01")
    assert result.exit_code == 1
    assert "line 2, column reference" in result.stderr
    assert "line 3, column employer_code" in result.stderr
    assert "line 4, column paid_on" in result.stderr
    assert counts(store) == before

    accepted = arrears(
        db_env, "import-payments", str(bad), "--accept-valid", "--as-of", "2026-10-01"
    )
    assert accepted.exit_code == 0, accepted.output
    assert "1 payments imported" in accepted.stdout
    with (tmp_path / "p2.csv.rejects.csv").open(encoding="utf-8-sig", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 3
    with store.session() as session:
        assert session.execute(select(func.count()).select_from(Payment)).scalar_one() == 2


def test_an_older_item_moves_the_first_overdue_date_and_paid_cases_stay_closed(
    db_env: dict[str, str], tmp_path: Path, store: App
) -> None:
    arrears(
        db_env,
        "import-ledger",
        str(write_ledger(tmp_path / "a.csv", [ledger_row()])),
        "--as-of",
        "2026-09-20",
    )
    older = ledger_row(period="2026-06", due_date="2026-07-15", amount_due="300.00")
    arrears(
        db_env,
        "import-ledger",
        str(write_ledger(tmp_path / "b.csv", [ledger_row(), older])),
        "--as-of",
        "2026-09-21",
    )
    case = show(db_env, CODES[0], "2026-09-21")
    assert case["first_overdue_on"] == "2026-07-16"
    assert [e["kind"] for e in case["events"]] == [
        "case_opened",
        "items_added",
        "first_overdue_changed",
    ]

    # Pay everything (fees included) on 2026-09-21, then a new month's arrears arrive.
    total = case["total_due"]
    arrears(
        db_env,
        "import-payments",
        str(write_payments(tmp_path / "p.csv", [(CODES[0], total, "2026-09-21", "B9")])),
        "--as-of",
        "2026-09-21",
    )
    assert show(db_env, CODES[0], "2026-09-21")["status"] == "closed_paid"
    new_month = ledger_row(period="2026-09", due_date="2026-10-15", amount_due="700.00")
    arrears(
        db_env,
        "import-ledger",
        str(write_ledger(tmp_path / "c.csv", [ledger_row(), older, new_month])),
        "--as-of",
        "2026-10-20",
    )
    current = show(db_env, CODES[0], "2026-10-20")
    assert current["status"] == "open" and current["case_id"] != case["case_id"]
    assert current["principal_outstanding"] == "700.00"
    assert [i["period"] for i in current["items"]] == ["2026-09"]
    with store.session() as session:
        statuses = session.execute(select(Case.status).order_by(Case.id)).scalars().all()
        items = session.execute(select(func.count()).select_from(ArrearsItem)).scalar_one()
        employers = session.execute(select(func.count()).select_from(Employer)).scalar_one()
        events = session.execute(select(func.count()).select_from(CaseEvent)).scalar_one()
    assert statuses == ["closed_paid", "open"]
    assert (items, employers) == (3, 1)
    assert events >= 6


def test_cli_refuses_a_store_that_was_never_set_up(tmp_path: Path) -> None:
    env = {"ARREARS_DATA_DIR": str(tmp_path / "fresh")}
    result = runner.invoke(app, ["cases", "list"], env=env)
    assert result.exit_code == 1
    assert "not set up: run `arrears init`" in result.stderr


@pytest.mark.parametrize("bad", ["2026-02-30", "yesterday"])
def test_bad_as_of_is_a_usage_error(db_env: dict[str, str], bad: str) -> None:
    result = arrears(db_env, "cases", "list", "--as-of", bad)
    assert result.exit_code == 2
    assert "--as-of" in result.stderr
