"""120 nights with a fixed clock: what each case does, day by day, matches a golden file.

The cases cover the ladder's turns: an SMS reminder and one by letter (no mobile), a broken
promise, a partial payment, a dispute that holds escalation, a malicious employer whose forced
transfer waits for the officer's record that it made no statement and for a supervisor's
approval, and whose court application waits for the appeal periods against the order to pay. To
accept a deliberate change of behaviour, run with UPDATE_GOLDEN=1 and review the diff of the
golden file.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlmodel import col
from typer.testing import CliRunner

from arrears.cli import app
from arrears.simulation import serve_by_post
from arrears.wiring import App
from cases.models import (
    ApprovalRequest,
    BankInquiry,
    Case,
    CaseEvent,
    Employer,
    EmployerStatement,
    PromiseToPay,
)
from cases.states import CaseStatus, transition
from tests.factories import CODES, ledger_row, write_ledger, write_payments

GOLDEN = Path(__file__).parent.parent / "golden" / "ladder-120-days.txt"
START = date(2026, 9, 16)  # day 1 of arrears due 2026-09-15
SHOWN = {
    "step_taken",
    "approval_requested",
    "status_changed",
    "step_deferred",
    "payment_received",
    "promise_kept",
    "fallback_planned",
}
NAMES = ["A sms", "B no-mobile", "C promise", "D partial", "E dispute", "F malicious"]


@pytest.mark.parametrize("full", [False, True], ids=["due-for-review", "every-case"])
def test_120_nights_match_the_golden_file(
    db_env: dict[str, str], store: App, tmp_path: Path, full: bool
) -> None:
    """Deciding only the cases due for review takes exactly the steps deciding all of them does."""
    rows = [
        ledger_row(
            code,
            employer_name=f"天津{name.split()[0]}公司",
            mobile="" if name.startswith("B") else f"1380000010{i}",
        )
        for i, (code, name) in enumerate(zip(CODES[:6], NAMES, strict=True))
    ]
    runner = CliRunner()
    imported = runner.invoke(
        app,
        ["import-ledger", str(write_ledger(tmp_path / "l.csv", rows)), "--as-of", str(START)],
        env=db_env,
    )
    assert imported.exit_code == 0, imported.output
    with store.session() as session:
        case_of = {
            code: case_id
            for code, case_id in session.execute(
                select(Employer.code, Case.id).join(Case, col(Case.employer_id) == col(Employer.id))
            )
        }
    escalation = store.escalation()
    for n in range(120):
        day = START + timedelta(days=n)
        _happenings(store, db_env, runner, case_of, day, tmp_path)
        with store.session() as session:
            serve_by_post(session, day=day, after_days=3, policy=store.policy)
        escalation.run(day, full=full)

    with store.session() as session:
        events = session.execute(
            select(
                CaseEvent.on_date,
                CaseEvent.case_id,
                CaseEvent.kind,
                CaseEvent.step,
                CaseEvent.message,
            )
            .where(col(CaseEvent.kind).in_(sorted(SHOWN)))
            .order_by(col(CaseEvent.on_date), col(CaseEvent.case_id), col(CaseEvent.id))
        ).all()
    label = {case_of[code]: name for code, name in zip(CODES[:6], NAMES, strict=True)}
    lines = []
    for on, case_id, kind, step, message in sorted(events, key=lambda e: (e[0], label[e[1]])):
        what = step or ""
        if kind == "status_changed":
            what = message.split(":")[0]
        elif kind == "step_deferred":
            what = message[message.index("rung") :].split(":")[0] if "rung" in message else ""
        lines.append(
            f"day {(on - START).days + 1:>3}  {label[case_id]:<12} {kind:<19} {what}".rstrip()
        )
    text = "\n".join(lines) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def _happenings(
    store: App,
    env: dict[str, str],
    runner: CliRunner,
    case_of: dict[str, int],
    day: date,
    tmp_path: Path,
) -> None:
    """What officers, employers and the bank do on given days of the span."""
    n = (day - START).days + 1
    c, e, f = (case_of[CODES[i]] for i in (2, 4, 5))
    with store.session() as session:
        if n == 10:  # C promises to pay everything by day 20, then does not
            session.add(
                PromiseToPay(
                    case_id=c,
                    amount_fen=1_000_000,
                    due_on=day + timedelta(10),
                    made_on=day,
                    recorded_by="officer1",
                )
            )
            session.add(
                CaseEvent(
                    case_id=c,
                    on_date=day,
                    kind="promise_made",
                    actor="officer1",
                    message="promise to pay",
                )
            )
            case = session.get(Case, c)
            assert case is not None
            transition(
                session,
                case,
                CaseStatus.PROMISED,
                on_date=day,
                actor="officer1",
                reason="promised to pay by day 20",
            )
        if n == 8:  # E disputes the debt; a supervisor resolves it on day 40
            case = session.get(Case, e)
            assert case is not None
            transition(
                session,
                case,
                CaseStatus.DISPUTED,
                on_date=day,
                actor="officer1",
                reason="employer disputes the amount",
            )
        if n == 40:
            case = session.get(Case, e)
            assert case is not None
            transition(
                session,
                case,
                CaseStatus.OPEN,
                on_date=day,
                actor="supervisor1",
                reason="dispute resolved: the amount stands",
            )
        if n == 3:  # F is marked malicious; its bank balance covers the debt
            session.execute(update(Case).where(col(Case.id) == f).values(malicious=True))
            session.add(
                BankInquiry(
                    case_id=f,
                    bank_name="中国银行天津和平支行",
                    account_number="62166012345",
                    balance_fen=50_000_000,
                    inquired_on=day,
                    recorded_by="officer1",
                )
            )
        if n == 95:  # F's demand deadline (day 94) passed with nothing said: the officer records it
            session.add(
                EmployerStatement(
                    case_id=f,
                    kind="none_made",
                    received_on=day,
                    summary="no statement or defence received by the demand's deadline",
                    recorded_by="officer1",
                )
            )
        if n == 100:  # the supervisor approves F's forced transfer
            session.execute(
                update(ApprovalRequest)
                .where(col(ApprovalRequest.case_id) == f, col(ApprovalRequest.status) == "pending")
                .values(status="approved", decided_by="supervisor1", decided_on=day)
            )
    if n == 20:  # D pays half its principal
        payments = write_payments(tmp_path / "p.csv", [(CODES[3], "5000.00", str(day), "BANK-D1")])
        result = runner.invoke(
            app, ["import-payments", str(payments), "--as-of", str(day)], env=env
        )
        assert result.exit_code == 0, result.output
