"""The supervisors' dashboard and the districts' targets, on SQLite and PostgreSQL.

One small store, built through the importers (so allocations are the real ones), whose figures
are computed by hand below:

    和平区  E1  I1 2026-07 pension  10,000.00 due 2026-08-15  paid 3,000.00 on 09-10
                                                              and 1,000.00 on 10-20
                I2 2026-08 pension   5,000.00 due 2026-09-15
            E2  I3 2026-10 medical   2,000.00 due 2026-11-15
                I8 2026-03 pension   1,500.00 due 2026-04-15
    南开区  E3  I4 2025-09 pension  30,000.00 due 2025-10-15  paid 10,000.00 on 11-05; disputed
            E4  I5 2026-08 pension   4,000.00 due 2026-09-15  paid 4,050.00 on 10-10 (fee 25 days
                                                              × 0.05 % × 4,000 = 50.00); closed
                                                              paid on 11-20, the import's day
            E5  I6 2026-06 pension   8,000.00 due 2026-07-15  written off on 10-05

As of 2026-11-20, days overdue: I3 5, I2 66, I5 66, I1 97, I8 219, I4 401.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlmodel import Session, col
from typer.testing import CliRunner

from arrears.cli import app
from arrears.wiring import App
from cases.access import Actor, NotAllowed
from cases.dashboard import (
    DEADLINE_PANEL_DAYS,
    AgingBucket,
    Dashboard,
    MonthFigures,
    StageCount,
    TargetError,
    dashboard,
    deadline_panel,
    set_target,
)
from cases.deadlines import service_documents
from cases.models import Case, DistrictTarget, Employer, Notice, User
from cases.states import CaseStatus, transition
from tests.factories import CODES, ledger_row, write_ledger, write_payments

runner = CliRunner()
AS_OF = date(2026, 11, 20)
A, B = "和平区", "南开区"
E1, E2, E3, E4, E5 = CODES[:5]


def arrears(db_env: dict[str, str], *args: str) -> Any:
    return runner.invoke(app, list(args), env=db_env, catch_exceptions=False)


def _user(session: Session, username: str, role: str, districts: Iterable[str] = ()) -> Actor:
    user = User(username=username, display_name=username, role=role, districts=list(districts))
    session.add(user)
    session.flush()
    return Actor.of(user)


def _case(session: Session, code: str) -> Case:
    return session.execute(
        select(Case)
        .join(Employer, col(Employer.id) == col(Case.employer_id))
        .where(col(Employer.code) == code)
    ).scalar_one()


@pytest.fixture
def books(db_env: dict[str, str], store: App, tmp_path: Path) -> App:
    def row(code: str, district: str, period: str, insurance: str, amount: str, due: str) -> Any:
        return ledger_row(
            code,
            district=district,
            period=period,
            insurance=insurance,
            amount_due=amount,
            due_date=due,
        )

    ledger = write_ledger(
        tmp_path / "ledger.csv",
        [
            row(E1, A, "2026-07", "pension", "10000.00", "2026-08-15"),
            row(E1, A, "2026-08", "pension", "5000.00", "2026-09-15"),
            row(E2, A, "2026-10", "medical", "2000.00", "2026-11-15"),
            row(E2, A, "2026-03", "pension", "1500.00", "2026-04-15"),
            row(E3, B, "2025-09", "pension", "30000.00", "2025-10-15"),
            row(E4, B, "2026-08", "pension", "4000.00", "2026-09-15"),
            row(E5, B, "2026-06", "pension", "8000.00", "2026-07-15"),
        ],
    )
    result = arrears(db_env, "import-ledger", str(ledger), "--as-of", "2026-11-01")
    assert result.exit_code == 0, result.output
    payments = write_payments(
        tmp_path / "payments.csv",
        [
            (E1, "3000.00", "2026-09-10", "SN-1"),
            (E1, "1000.00", "2026-10-20", "SN-2"),
            (E4, "4050.00", "2026-10-10", "SN-3"),
            (E3, "10000.00", "2026-11-05", "SN-4"),
        ],
    )
    result = arrears(db_env, "import-payments", str(payments), "--as-of", "2026-11-20")
    assert result.exit_code == 0, result.output
    assert "1 cases closed as paid" in result.stdout
    with store.session() as session:
        for code, level, step in ((E1, 3, "reminder_letter"), (E3, 6, "order_to_pay")):
            session.execute(
                update(Case)
                .where(col(Case.id) == _case(session, code).id)
                .values(stage=level, stage_step=step)
            )
        done = dict(on_date=date(2026, 10, 5), actor="test", reason="deregistered")
        transition(session, _case(session, E5), CaseStatus.WRITTEN_OFF, **done)
        disputed = dict(on_date=date(2026, 11, 10), actor="test", reason="contests the amount")
        transition(session, _case(session, E3), CaseStatus.DISPUTED, **disputed)
        _user(session, "admin", "admin")
        _user(session, "officer_a", "officer", [A])
        _user(session, "sup_b", "supervisor", [B])
        _user(session, "nobody", "officer", [])
    return store


def actor(app_: App, username: str) -> Actor:
    with app_.session() as session:
        user = session.execute(select(User).where(col(User.username) == username)).scalar_one()
        return Actor.of(user)


def figures(app_: App, username: str, as_of: date = AS_OF, months: int = 3) -> Dashboard:
    who = actor(app_, username)
    with app_.session() as session:
        return dashboard(session, actor=who, as_of=as_of, months=months)


def aging(d: Dashboard) -> list[int]:
    return [b.principal_fen for b in d.aging]


def test_admin_sees_every_district_with_hand_computed_figures(books: App) -> None:
    with books.session() as session:
        set_target(
            session,
            actor=actor(books, "admin"),
            district=B,
            year=2026,
            quarter=4,
            recovery=Decimal("50000.00"),
            cases_closed=4,
        )
    d = figures(books, "admin")
    assert d.districts is None and (d.year, d.quarter) == (2026, 4)
    assert d.statuses == (("open", 2), ("promised", 0), ("disputed", 1), ("on_hold", 0))
    assert d.open_cases == 3
    assert d.stages == (
        StageCount(0, None, 1),
        StageCount(3, "reminder_letter", 1),
        StageCount(6, "order_to_pay", 1),
    )
    # I3 2,000; I2 5,000 (I5 settled); I1 10,000 - 4,000; I8 1,500; I4 30,000 - 10,000.
    # I6 is left out: written off before as_of.
    assert [b.key for b in d.aging] == ["0-30", "31-90", "91-180", "181-365", "366+"]
    assert aging(d) == [200_000, 500_000, 600_000, 150_000, 2_000_000]
    assert d.owed_fen == 3_450_000
    assert d.months == (
        # 09-30: I1 7,000 + I2 5,000 + I8 1,500 + I4 30,000 + I5 4,000 + I6 8,000
        MonthFigures(date(2026, 9, 1), date(2026, 9, 30), 5_550_000, 300_000),
        # 10-31: I1 6,000 + I2 5,000 + I8 1,500 + I4 30,000; recovered 1,000 + 4,000 + 50 fee
        MonthFigures(date(2026, 10, 1), date(2026, 10, 31), 4_250_000, 505_000),
        # to as_of: the aging total; recovered I4's 10,000
        MonthFigures(date(2026, 11, 1), AS_OF, 3_450_000, 1_000_000),
    )
    by_district = {p.district: p for p in d.progress}
    assert list(by_district) == sorted([A, B])
    a, b = by_district[A], by_district[B]
    assert (a.recovered_fen, a.cases_closed) == (100_000, 0)
    assert (a.recovery_target_fen, a.recovery_share, a.cases_target, a.cases_share) == (
        None,
        None,
        None,
        None,
    )
    # Q4 so far: 4,050.00 + 10,000.00 against 50,000.00; E4 paid and E5 written off against 4.
    assert (b.recovered_fen, b.recovery_target_fen, b.recovery_share) == (
        1_405_000,
        5_000_000,
        Decimal("0.2810"),
    )
    assert (b.cases_closed, b.cases_target, b.cases_share) == (2, 4, Decimal("0.5000"))


def test_a_past_day_gives_that_days_figures(books: App) -> None:
    d = figures(books, "admin", as_of=date(2026, 10, 31), months=1)
    # I6 was written off on 10-05: gone; I3 not yet due. Twenty days earlier I2 (46 days) and
    # I1 (77, 6,000 left) are both 31-90, I8 (199) 181-365, and I4 (381) not yet paid.
    assert aging(d) == [0, 500_000 + 600_000, 0, 150_000, 3_000_000]
    assert d.months == (MonthFigures(date(2026, 10, 1), date(2026, 10, 31), 4_250_000, 505_000),)
    # Q4 up to 10-31: E5's write-off is the only closure; E4 closed later.
    assert {p.district: p.cases_closed for p in d.progress} == {A: 0, B: 1}


def test_an_officer_sees_only_the_districts_they_serve(books: App) -> None:
    with books.session() as session:
        set_target(
            session,
            actor=actor(books, "admin"),
            district=B,
            year=2026,
            quarter=4,
            recovery=Decimal("50000.00"),
            cases_closed=4,
        )
    d = figures(books, "officer_a")
    assert d.districts == (A,)
    assert d.statuses == (("open", 2), ("promised", 0), ("disputed", 0), ("on_hold", 0))
    assert d.stages == (StageCount(0, None, 1), StageCount(3, "reminder_letter", 1))
    assert aging(d) == [200_000, 500_000, 600_000, 150_000, 0]
    assert [(m.owed_fen, m.recovered_fen) for m in d.months] == [
        (1_350_000, 300_000),
        (1_250_000, 100_000),
        (1_450_000, 0),
    ]
    assert [p.district for p in d.progress] == [A]
    assert B not in repr(d)

    b = figures(books, "sup_b")
    assert aging(b) == [0, 0, 0, 0, 2_000_000]
    assert [(m.owed_fen, m.recovered_fen) for m in b.months] == [
        (4_200_000, 0),
        (3_000_000, 405_000),
        (2_000_000, 1_000_000),
    ]
    assert A not in repr(b)
    # Both districts together make the whole.
    whole = figures(books, "admin")
    assert [x + y for x, y in zip(aging(d), aging(b), strict=True)] == aging(whole)

    none = figures(books, "nobody")
    assert none.districts == () and none.open_cases == 0 and none.stages == ()
    assert aging(none) == [0] * 5 and none.progress == ()
    assert all(m.owed_fen == 0 == m.recovered_fen for m in none.months)


def test_months_reach_back_across_a_year_end(books: App) -> None:
    d = figures(books, "admin", as_of=date(2026, 2, 10), months=12)
    assert [m.month for m in d.months][:2] == [date(2025, 3, 1), date(2025, 4, 1)]
    assert d.months[-1].through == date(2026, 2, 10)
    # Only I4 had fallen due: from 2025-10-15 until the (later) payment.
    assert [m.owed_fen for m in d.months] == [0] * 7 + [3_000_000] * 5
    assert isinstance(d.aging[0], AgingBucket)


def test_who_may_set_a_target_and_what_is_refused(books: App) -> None:
    admin, officer, sup_b = (actor(books, n) for n in ("admin", "officer_a", "sup_b"))
    good: dict[str, Any] = dict(year=2026, quarter=4, recovery=Decimal("1200000.00"))
    with books.session() as session:
        with pytest.raises(NotAllowed, match="only a supervisor"):
            set_target(session, actor=officer, district=A, cases_closed=40, **good)
        with pytest.raises(NotAllowed, match="you do not serve 和平区"):
            set_target(session, actor=sup_b, district=A, cases_closed=40, **good)
        refused: list[tuple[dict[str, Any], str]] = [
            (dict(quarter=5), "quarter must be 1, 2, 3 or 4"),
            (dict(year=1999), "year must be between 2000 and 2100"),
            (dict(recovery=Decimal("1.005")), "has more than two decimals"),
            (dict(recovery=Decimal("-1")), "cannot be negative"),
            (dict(recovery=1.5), "must be an amount in yuan"),
            (dict(cases_closed=-1), "must be 0 or more"),
            (dict(recovery=Decimal(0), cases_closed=0), "needs an amount to recover or"),
        ]
        for change, message in refused:
            given = {"district": B, "cases_closed": 4, **good, **change}
            with pytest.raises(TargetError, match=message):
                set_target(session, actor=sup_b, **given)
        with pytest.raises(
            TargetError, match=r"no employer in the case store is in 南开 \(known: "
        ):
            set_target(session, actor=admin, district="南开", cases_closed=4, **good)
        first = set_target(session, actor=sup_b, district=B, cases_closed=4, **good)
        assert (first.recovery_fen, first.cases_closed, first.set_by) == (120_000_000, 4, "sup_b")
    with books.session() as session:
        again = set_target(
            session,
            actor=admin,
            district=B,
            year=2026,
            quarter=4,
            recovery=Decimal("900.5"),
            cases_closed=0,
        )
        assert (again.recovery_fen, again.cases_closed, again.set_by) == (90_050, 0, "admin")
    with books.session() as session:
        assert session.execute(select(func.count()).select_from(DistrictTarget)).scalar_one() == 1
    progress = {p.district: p for p in figures(books, "admin").progress}[B]
    # No cases target (0): no share; 14,050.00 recovered against 900.50.
    assert (progress.cases_target, progress.cases_share) == (None, None)
    assert progress.recovery_share == Decimal("15.6024")


def test_targets_cli(books: App, db_env: dict[str, str]) -> None:
    result = arrears(
        db_env,
        "targets",
        "set",
        "--district",
        B,
        "--year",
        "2026",
        "--quarter",
        "4",
        "--recovery",
        "1200000.00",
        "--cases",
        "40",
    )
    assert result.exit_code == 0, result.output
    assert "target set: 南开区 2026 Q4: recover ¥1,200,000.00, close 40 cases" in result.stdout

    bad = arrears(
        db_env,
        "targets",
        "set",
        "--district",
        B,
        "--year",
        "2026",
        "--quarter",
        "5",
        "--recovery",
        "1.00",
    )
    assert bad.exit_code == 1 and "quarter must be 1, 2, 3 or 4" in bad.stderr
    bad = arrears(
        db_env,
        "targets",
        "set",
        "--district",
        B,
        "--year",
        "2026",
        "--quarter",
        "1",
        "--recovery",
        "12k",
    )
    assert bad.exit_code == 1 and "'12k' is not a number" in bad.stderr
    as_officer = arrears(
        db_env,
        "targets",
        "set",
        "--district",
        A,
        "--year",
        "2026",
        "--quarter",
        "4",
        "--cases",
        "3",
        "--user",
        "officer_a",
    )
    assert as_officer.exit_code == 1 and "only a supervisor" in as_officer.stderr
    elsewhere = arrears(
        db_env,
        "targets",
        "set",
        "--district",
        A,
        "--year",
        "2026",
        "--quarter",
        "4",
        "--cases",
        "3",
        "--user",
        "sup_b",
    )
    assert elsewhere.exit_code == 1 and "you do not serve 和平区" in elsewhere.stderr
    unknown = arrears(db_env, "targets", "list", "--user", "ghost")
    assert unknown.exit_code == 1 and "no active user 'ghost'" in unknown.stderr
    result = arrears(
        db_env,
        "targets",
        "set",
        "--district",
        A,
        "--year",
        "2027",
        "--quarter",
        "1",
        "--recovery",
        "5,000.00",
        "--cases",
        "3",
    )
    assert result.exit_code == 0, result.output

    listed = arrears(db_env, "targets", "list", "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [(r["district"], r["year"], r["quarter"]) for r in rows] == [(A, 2027, 1), (B, 2026, 4)]
    assert rows[1]["recovery"] == "1200000.00" and rows[1]["cases_closed"] == 40
    assert rows[1]["set_by"].startswith("console:")
    mine = json.loads(arrears(db_env, "targets", "list", "--json", "--user", "sup_b").stdout)
    assert [r["district"] for r in mine] == [B]
    table = arrears(db_env, "targets", "list", "--year", "2026")
    assert table.exit_code == 0 and "¥1,200,000.00" in table.stdout and A not in table.stdout


def test_the_deadline_panel_keeps_to_the_readers_districts(books: App) -> None:
    """Orders to pay served in October: their reconsideration windows close in December, within
    the panel's 30 days of 2026-11-20; a closed case's window is left out."""
    served = {E1: date(2026, 10, 10), E3: date(2026, 10, 12), E4: date(2026, 10, 10)}
    with books.session() as session:
        ids = {code: _case(session, code).id for code in served}
        for code, day in served.items():
            session.add(
                Notice(
                    case_id=ids[code],
                    business_key=f"order:{code}",
                    step="order_to_pay",
                    level=6,
                    channel="letter",
                    document_type="order_to_pay",
                    status="served",
                    document_number=f"津社保征〔2026〕{code[-4:]}号",
                    issued_on=day,
                    served_on=day,
                )
            )

    def panel(username: str) -> list[tuple[int | None, str, date, int]]:
        with books.session() as session:
            windows = deadline_panel(
                session,
                actor=actor(books, username),
                as_of=AS_OF,
                calendar=books.policy.calendar,
                service_documents=service_documents(books.policy),
            )
        return [(w.case_id, w.kind, w.closes_on, w.days_left) for w in windows]

    e1 = (ids[E1], "reconsideration", date(2026, 12, 9), 19)
    e3 = (ids[E3], "reconsideration", date(2026, 12, 11), 21)
    assert DEADLINE_PANEL_DAYS == 30
    assert panel("admin") == [e1, e3]
    assert panel("sup_b") == [e3]
    assert panel("officer_a") == [e1]
    assert panel("nobody") == []
