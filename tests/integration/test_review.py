"""A night decides the cases due for review; every new fact brings a case back to the next night.

If a change to something ``decide`` reads left the case's review date standing, the case could
sleep through a step that became due: these tests make each kind of change and check that the
case is decided at the next run, and that changes decide does not read leave it alone.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlmodel import col
from typer.testing import CliRunner

from arrears.cli import app
from arrears.wiring import App
from cases import review
from cases.deliveries import record_inbound
from cases.models import (
    ApprovalRequest,
    BankInquiry,
    Case,
    CaseEvent,
    Employer,
    EscalationRun,
    Notice,
    PromiseToPay,
)
from cases.states import CaseStatus, transition
from tests.factories import CODES, ledger_row, write_ledger, write_payments

DAY1 = date(2026, 9, 16)  # Wednesday; the first overdue day of arrears due 2026-09-15
FAR = date(2027, 6, 30)


@pytest.fixture
def cases(db_env: dict[str, str], store: App, tmp_path: Path) -> list[int]:
    rows = [
        ledger_row(code, employer_name=f"天津第{i}商贸有限公司", mobile=f"1380000002{i}")
        for i, code in enumerate(CODES[:4])
    ]
    result = CliRunner().invoke(
        app,
        ["import-ledger", str(write_ledger(tmp_path / "l.csv", rows)), "--as-of", str(DAY1)],
        env=db_env,
    )
    assert result.exit_code == 0, result.output
    with store.session() as session:
        return list(session.execute(select(Case.id).order_by(Case.id)).scalars())


def review_dates(store: App) -> dict[int, date | None]:
    with store.session() as session:
        return {i: d for i, d in session.execute(select(Case.id, Case.next_review_on))}


def case_of(store: App, code: str) -> int:
    with store.session() as session:
        return session.execute(
            select(Case.id)
            .join(Employer, col(Employer.id) == col(Case.employer_id))
            .where(col(Employer.code) == code)
        ).scalar_one()


def park(store: App) -> None:
    """Every case reviewed far ahead: only a change of facts can bring one back."""
    with store.session() as session:
        session.connection().execute(update(Case).values(next_review_on=FAR))


def test_a_night_decides_only_the_cases_due(store: App, cases: list[int]) -> None:
    escalation = store.escalation()
    first = escalation.run(DAY1)
    assert first.examined == 4 and first.steps["sms_reminder"] == 4
    # The SMS rung is taken; the next, the call, falls due on day 7.
    assert set(review_dates(store).values()) == {DAY1 + timedelta(days=6)}
    for n in range(1, 6):
        night = escalation.run(DAY1 + timedelta(days=n))
        assert night.examined == 0 and not night.steps
    seventh = escalation.run(DAY1 + timedelta(days=6))
    assert seventh.examined == 4 and seventh.steps["phone_reminder"] == 4
    # A full review decides every open case, due or not, and takes nothing more.
    full = escalation.run(DAY1 + timedelta(days=7), full=True)
    assert full.examined == 4 and not full.steps
    for day, step in ((15, "reminder_letter"), (30, "interview"), (60, "order_to_pay")):
        assert escalation.run(DAY1 + timedelta(days=day - 1)).steps[step] == 4
    # The enforcement demand waits for the order's service: only a service date brings these
    # cases back.
    assert set(review_dates(store).values()) == {review.UNTIL_CHANGED}
    assert escalation.run(DAY1 + timedelta(days=70)).examined == 0
    with store.session() as session:
        order = session.execute(
            select(Notice).where(col(Notice.step) == "order_to_pay").limit(1)
        ).scalar_one()
        order.served_on = DAY1 + timedelta(days=63)
        session.add(order)
    night = escalation.run(DAY1 + timedelta(days=71))
    assert night.examined == 1 and not night.steps
    # Decided again the day after the order's ten working days have run out.
    assert review_dates(store)[order.case_id] == date(2026, 12, 3)


def test_changes_decide_reads_bring_the_case_back(
    db_env: dict[str, str], store: App, cases: list[int], tmp_path: Path
) -> None:
    store.escalation().run(DAY1)
    a, b, c, d = cases
    park(store)
    with store.session() as session:
        session.add(
            PromiseToPay(
                case_id=a,
                amount_fen=100_000,
                due_on=DAY1 + timedelta(9),
                made_on=DAY1,
                recorded_by="officer1",
            )
        )
        session.add(
            BankInquiry(
                case_id=b,
                bank_name="中国银行",
                account_number="6216",
                balance_fen=1,
                inquired_on=DAY1,
                recorded_by="officer1",
            )
        )
        session.add(
            CaseEvent(case_id=c, on_date=DAY1, kind="call_answered", actor="officer1", message="")
        )
    assert review_dates(store) == {a: None, b: None, c: None, d: FAR}

    park(store)
    with store.session() as session:  # an officer's status change, through the ORM
        case = session.get(Case, d)
        assert case is not None
        transition(session, case, CaseStatus.ON_HOLD, on_date=DAY1, actor="officer1", reason="x")
    assert review_dates(store)[d] is None

    park(store)
    with store.session() as session:  # statements through the session, not objects
        session.execute(update(Case).where(col(Case.id) == a).values(malicious=True))
        session.execute(
            update(Notice).where(col(Notice.case_id) == b).values(served_on=DAY1 + timedelta(2))
        )
        session.execute(
            update(ApprovalRequest).where(col(ApprovalRequest.case_id) == c).values(status="x")
        )
    dates = review_dates(store)
    assert dates[a] is None and dates[b] is None
    assert dates[c] == FAR  # no approval request matched: nothing changed for c

    park(store)
    with store.session() as session:  # STOP from the employer's number
        record_inbound(session, from_number="+8613800000021", body="退订", on_date=DAY1)
    assert [v for v in review_dates(store).values()].count(None) == 1

    park(store)
    payments = write_payments(tmp_path / "p.csv", [(CODES[3], "100.00", str(DAY1), "BANK-1")])
    result = CliRunner().invoke(
        app, ["import-payments", str(payments), "--as-of", str(DAY1)], env=db_env
    )
    assert result.exit_code == 0, result.output
    assert review_dates(store)[case_of(store, CODES[3])] is None


def test_changes_decide_does_not_read_leave_the_date(store: App, cases: list[int]) -> None:
    store.escalation().run(DAY1)
    park(store)
    with store.session() as session:
        for notice in session.execute(select(Notice)).scalars():
            notice.status = "delivered"  # a delivery report
            session.add(notice)
        session.add(
            CaseEvent(case_id=cases[0], on_date=DAY1, kind="note", actor="officer1", message="")
        )
        employer = session.execute(select(Employer).limit(1)).scalar_one()
        employer.address = "天津市和平区新址"
        session.add(employer)
    assert set(review_dates(store).values()) == {FAR}


def test_a_new_mobile_number_from_the_ledger_brings_the_case_back(
    db_env: dict[str, str], store: App, cases: list[int], tmp_path: Path
) -> None:
    park(store)
    rows = [ledger_row(CODES[0], employer_name="天津第0商贸有限公司", mobile="13900000099")]
    result = CliRunner().invoke(
        app,
        ["import-ledger", str(write_ledger(tmp_path / "l2.csv", rows)), "--as-of", str(DAY1)],
        env=db_env,
    )
    assert result.exit_code == 0, result.output
    assert review_dates(store)[case_of(store, CODES[0])] is None


def test_the_night_scope(store: App) -> None:
    basis = store.review_basis
    thursday, sunday = date(2026, 11, 26), date(2026, 11, 29)
    with store.session() as session:
        assert review.night_scope(session, thursday, basis, 6)[0]  # no night before
        session.add(
            EscalationRun(
                as_of=thursday - timedelta(1),
                status="completed",
                worker="w",
                counts={"review": {"basis": basis}},
            )
        )
    with store.session() as session:
        assert review.night_scope(session, thursday, basis, 6) == (
            False,
            "the cases due for review",
        )
        full, why = review.night_scope(session, thursday, "another policy", 6)
        assert full and "changed" in why
        assert review.night_scope(session, sunday, basis, 6)[0]
        assert not review.night_scope(session, sunday, basis, None)[0]


def test_the_basis_follows_the_policy_and_the_calendar(store: App, tmp_path: Path) -> None:
    holidays = tmp_path / "holidays.toml"
    holidays.write_text("", encoding="utf-8")
    before = review.basis(store.policy, holidays)
    assert review.basis(store.policy, holidays) == before
    holidays.write_text("[2027]\nholidays = []\nworkdays = []\n", encoding="utf-8")
    assert review.basis(store.policy, holidays) != before
