"""A case carries its employer's district: set when the case is made, moved with the employer.

The store keeps it (database triggers), whoever writes: bulk inserts, the ORM, the ledger import.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import select, update
from sqlmodel import col
from typer.testing import CliRunner

from arrears.cli import app
from arrears.wiring import App
from cases.models import Case, Employer
from tests.factories import CODES, add_open_cases, ledger_row, write_ledger


def districts(store: App) -> dict[int, str | None]:
    with store.session() as session:
        return {i: d for i, d in session.execute(select(col(Case.id), col(Case.district)))}


def test_a_new_case_takes_its_employers_district(store: App) -> None:
    with store.session() as session:
        first, second = add_open_cases(
            session, [("和平区", 100, date(2026, 10, 1)), ("南开区", 200, date(2026, 10, 1))]
        )
    assert districts(store) == {first: "和平区", second: "南开区"}


def test_cases_move_with_their_employer(store: App) -> None:
    with store.session() as session:
        first, second = add_open_cases(
            session, [("和平区", 100, date(2026, 10, 1)), ("和平区", 200, date(2026, 10, 1))]
        )
        employer_id = session.get(Case, first).employer_id  # type: ignore[union-attr]
    with store.session() as session:  # a bulk statement, as the ledger import writes
        session.execute(
            update(Employer).where(col(Employer.id) == employer_id).values(district="河西区")
        )
    assert districts(store) == {first: "河西区", second: "和平区"}
    with store.session() as session:  # and through the ORM
        employer = session.get(Employer, employer_id)
        assert employer is not None
        employer.district = "河北区"
    assert districts(store)[first] == "河北区"


def test_the_ledger_import_files_cases_under_the_ledgers_district(
    db_env: dict[str, str], store: App, tmp_path: Path
) -> None:
    runner = CliRunner()
    for name, district in (("a.csv", "红桥区"), ("b.csv", "河东区")):
        ledger = write_ledger(tmp_path / name, [ledger_row(CODES[0], district=district)])
        result = runner.invoke(
            app, ["import-ledger", str(ledger), "--as-of", "2026-10-20"], env=db_env
        )
        assert result.exit_code == 0, result.output
        assert set(districts(store).values()) == {district}
