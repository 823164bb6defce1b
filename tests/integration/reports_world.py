"""A small fixed store for the reports' tests, its figures computed by hand in the tests.

Built through the importers, so the allocations of payments are the real ones (principal first,
late fee 0.05 % a day on the principal unpaid, counted from the day after the due date up to and
including the day paid). Cases are opened on the days given (set after the import).

    和平区 A  E1  I1 2026-08 pension 10,000.00 due 09-15; opened 09-20;
                  paid 4,000.00 on 10-10 (all principal) and 6,218.00 on 11-10 (6,000.00
                  principal, 218.00 fee); closed paid by the import of 11-20.
                  Rungs: sms_reminder 09-21, phone_reminder 10-05, reminder_letter 11-03.
              E2  I2 2026-09 medical 2,000.00 due 10-15; opened 10-16; paid 2,010.00 on
                  10-25 (10 days × 0.05 % × 2,000 = 10.00 fee); closed paid by the import of 10-26.
              E3  I3 2026-06 pension 3,000.00 due 07-15; opened 07-20; written off 10-20.
    南开区 B  E4  I4 2026-07 pension 8,000.00 due 08-15; opened 08-20; paid 1,000.00 on 11-05.
                  Rungs: sms_reminder 08-21, phone_reminder 08-28, reminder_letter 09-10,
                  order_to_pay 10-12.
              E5  I5 2026-09 pension 5,000.00 due 10-15; opened 10-20; no rung, no payment.

Users: officer_a and officer_a2 (和平区), officer_b (南开区), sup_a (supervisor, 和平区),
sup_b (supervisor, 南开区), admin. Their recorded work (case events, besides the imports' and
the nightly run's own) is listed in ``ACTIVITY``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session, col
from typer.testing import CliRunner

from arrears.cli import app
from arrears.wiring import App
from cases.access import Actor
from cases.models import Case, CaseEvent, Employer, User
from cases.states import CaseStatus, transition
from tests.factories import CODES, add_user, ledger_row, write_ledger, write_payments

A, B = "和平区", "南开区"
E1, E2, E3, E4, E5 = CODES[:5]
runner = CliRunner()

OPENED = {
    E1: date(2026, 9, 20),
    E2: date(2026, 10, 16),
    E3: date(2026, 7, 20),
    E4: date(2026, 8, 20),
    E5: date(2026, 10, 20),
}
RUNGS = {
    E1: [
        ("sms_reminder", 1, "09-21"),
        ("phone_reminder", 2, "10-05"),
        ("reminder_letter", 3, "11-03"),
    ],
    E4: [
        ("sms_reminder", 1, "08-21"),
        ("phone_reminder", 2, "08-28"),
        ("reminder_letter", 3, "09-10"),
        ("order_to_pay", 6, "10-12"),
    ],
}
# (employer, actor, kind, day in 2026, step)
ACTIVITY = [
    (E1, "officer_a", "case_claimed", "10-01", None),
    (E1, "officer_a", "call_answered", "10-02", None),
    (E1, "officer_a", "call_attempted", "10-03", None),
    (E1, "officer_a", "promise_made", "10-03", None),
    (E1, "officer_a", "note", "10-04", None),
    (E1, "officer_a", "interview_attended", "10-08", None),
    (E1, "officer_a", "notice_served", "10-09", "reminder_letter"),
    (E1, "officer_a", "payment_received", "10-10", None),
    (E1, "officer_a", "approval_requested", "10-11", "forced_transfer"),
    (E1, "sup_a", "approval_granted", "10-12", "forced_transfer"),
    (E3, "sup_a", "approval_requested", "10-15", "write_off"),
    (E3, "sup_a", "approval_granted", "10-19", "write_off"),
    (E1, "officer_a", "call_attempted", "11-02", None),  # after October
    (E1, "officer_a", "status_changed", "10-06", None),  # no activity counted
    (E4, "officer_b", "case_claimed", "10-01", None),
    (E4, "officer_b", "call_answered", "10-05", None),
    (E4, "officer_b", "note", "10-06", None),
    (E4, "officer_b", "interview_missed", "10-07", None),
    (E4, "officer_a", "note", "10-20", None),  # on a case of 南开区
    (E4, "system:nightly", "call_attempted", "10-21", None),  # the system is nobody's activity
]


@dataclass
class World:
    app: App
    cases: dict[str, int]  # employer code -> case id


def arrears(db_env: dict[str, str], *args: str) -> Any:
    return runner.invoke(app, list(args), env=db_env, catch_exceptions=False)


def _day(text: str) -> date:
    return date.fromisoformat(f"2026-{text}")


def build(db_env: dict[str, str], store: App, tmp_path: Path) -> World:
    """The store above; its input files are written under ``tmp_path / "inputs"``."""
    tmp_path = tmp_path / "inputs"
    tmp_path.mkdir()

    def row(code: str, district: str, period: str, insurance: str, amount: str, due: str) -> Any:
        return ledger_row(
            code,
            district=district,
            period=period,
            insurance=insurance,
            amount_due=amount,
            due_date=due,
        )

    batches = [
        (
            "2026-09-20",
            [
                row(E1, A, "2026-08", "pension", "10000.00", "2026-09-15"),
                row(E3, A, "2026-06", "pension", "3000.00", "2026-07-15"),
                row(E4, B, "2026-07", "pension", "8000.00", "2026-08-15"),
            ],
        ),
        (
            "2026-10-20",
            [
                row(E2, A, "2026-09", "medical", "2000.00", "2026-10-15"),
                row(E5, B, "2026-09", "pension", "5000.00", "2026-10-15"),
            ],
        ),
    ]
    for i, (as_of, rows) in enumerate(batches):
        ledger = write_ledger(tmp_path / f"ledger{i}.csv", rows)
        result = arrears(db_env, "import-ledger", str(ledger), "--as-of", as_of)
        assert result.exit_code == 0, result.output
    payments = [
        (
            "2026-10-26",
            [(E1, "4000.00", "2026-10-10", "SN-1"), (E2, "2010.00", "2026-10-25", "SN-2")],
        ),
        (
            "2026-11-20",
            [(E4, "1000.00", "2026-11-05", "SN-3"), (E1, "6218.00", "2026-11-10", "SN-4")],
        ),
    ]
    for i, (as_of, rows) in enumerate(payments):
        file = write_payments(tmp_path / f"payments{i}.csv", rows)
        result = arrears(db_env, "import-payments", str(file), "--as-of", as_of)
        assert result.exit_code == 0, result.output

    with store.session() as session:
        cases = {
            code: case_id
            for code, case_id in session.execute(
                select(col(Employer.code), col(Case.id)).join(
                    Case, col(Case.employer_id) == col(Employer.id)
                )
            )
        }
        assert set(cases) == set(OPENED)
        # Each import of payments closed the case it settled, on the import's day.
        assert status_of(session, cases[E2]) == ("closed_paid", date(2026, 10, 26))
        assert status_of(session, cases[E1]) == ("closed_paid", date(2026, 11, 20))
        for code, day in OPENED.items():
            session.execute(update(Case).where(col(Case.id) == cases[code]).values(opened_on=day))
        e3 = session.get(Case, cases[E3])
        assert e3 is not None
        transition(
            session,
            e3,
            CaseStatus.WRITTEN_OFF,
            on_date=date(2026, 10, 20),
            actor="sup_a",
            reason="deregistered",
        )
        for code, rungs in RUNGS.items():
            for step, level, day in rungs:
                session.add(
                    CaseEvent(
                        case_id=cases[code],
                        on_date=_day(day),
                        kind="step_taken",
                        actor="system:nightly",
                        step=step,
                        message=f"took {step}",
                        data={"level": level},
                    )
                )
        for code, who, kind, day, step in ACTIVITY:
            session.add(
                CaseEvent(
                    case_id=cases[code],
                    on_date=_day(day),
                    kind=kind,
                    actor=who,
                    step=step,
                    message=f"{who} {kind}",
                )
            )
        for name, role, districts in (
            ("officer_a", "officer", [A]),
            ("officer_a2", "officer", [A]),
            ("officer_b", "officer", [B]),
            ("sup_a", "supervisor", [A]),
            ("sup_b", "supervisor", [B]),
            ("admin", "admin", []),
        ):
            add_user(session, name, role, districts)
    return World(store, cases)


def actor(app_: App, username: str) -> Actor:
    with app_.session() as session:
        user = session.execute(select(User).where(col(User.username) == username)).scalar_one()
        return Actor.of(user)


def status_of(session: Session, case_id: int) -> tuple[str, date | None]:
    case = session.get(Case, case_id)
    assert case is not None
    return case.status, case.closed_on
