"""`arrears policy check` and `arrears escalate --dry-run` against a real case store."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from typer.testing import CliRunner

from arrears.cli import app
from arrears.settings import REPO_ROOT
from arrears.wiring import App
from cases.models import (
    ApprovalRequest,
    BankInquiry,
    Case,
    EmployerStatement,
    Notice,
    PromiseToPay,
)
from tests.factories import CODES, ledger_row, write_ledger

runner = CliRunner()
SHIPPED = REPO_ROOT / "cases" / "policies" / "tianjin-2016.toml"


def run(env: dict[str, str], *args: str) -> Any:
    return runner.invoke(app, list(args), env=env, catch_exceptions=False)


def dry_run(env: dict[str, str], as_of: str) -> dict[str, dict[str, Any]]:
    result = run(env, "escalate", "--as-of", as_of, "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    return {d["employer_code"]: d for d in json.loads(result.stdout)}


def test_shipped_policy_checks_out(tmp_path: Path) -> None:
    result = run({"ARREARS_DATA_DIR": str(tmp_path)}, "policy", "check")
    assert result.exit_code == 0, result.output
    assert "policy OK" in result.stdout
    for kind in ("sms_reminder", "order_to_pay", "forced_transfer", "court_application"):
        assert kind in result.stdout


def test_broken_policy_lists_every_problem_by_step(tmp_path: Path) -> None:
    broken = SHIPPED.read_text(encoding="utf-8")
    broken = broken.replace("level = 3\n", "level = 2\n", 1)
    broken = broken.replace('"letters/interview_notice.html.j2"', '"letters/no_such.html.j2"')
    broken = broken.replace('"has_mobile"', '"has_fax"')
    path = tmp_path / "broken.toml"
    path.write_text(broken, encoding="utf-8")
    result = run({"ARREARS_DATA_DIR": str(tmp_path)}, "policy", "check", str(path))
    assert result.exit_code == 1
    assert "duplicate" in result.stderr and "level 2" in result.stderr.replace("rung 2", "level 2")
    assert "letters/no_such.html.j2" in result.stderr
    assert "has_fax" in result.stderr
    assert "3 problem(s)" in result.stderr


def test_dry_run_decides_each_case_and_writes_nothing(
    db_env: dict[str, str], tmp_path: Path, store: App
) -> None:
    ledger = write_ledger(
        tmp_path / "l.csv",
        [ledger_row(), ledger_row(CODES[1], mobile="", employer_name="天津无手机有限公司")],
    )
    assert run(db_env, "import-ledger", str(ledger), "--as-of", "2026-09-16").exit_code == 0
    with store.engine.connect() as connection:
        before = connection.execute(text("SELECT count(*) FROM case_event")).scalar_one()

    day1 = dry_run(db_env, "2026-09-16")  # due 2026-09-15: first overdue day is day 1
    assert (day1[CODES[0]]["action"], day1[CODES[0]]["step"]) == ("take_step", "sms_reminder")
    assert "rung 1" in day1[CODES[0]]["reason"]
    assert day1[CODES[0]]["channel"] == "sms"
    # Without a mobile number the first reminder goes by letter instead.
    no_mobile = day1[CODES[1]]
    assert (no_mobile["action"], no_mobile["step"], no_mobile["channel"]) == (
        "take_step",
        "sms_reminder",
        "letter",
    )
    assert "no mobile number" in no_mobile["reason"]

    table = run(db_env, "escalate", "--as-of", "2026-09-16", "--dry-run")
    assert "sms_reminder" in table.stdout and "nothing was written" in table.stderr
    with store.engine.connect() as connection:
        after = connection.execute(text("SELECT count(*) FROM case_event")).scalar_one()
    assert after == before


def test_escalate_without_credentials_keeps_messages_in_the_outbox(
    db_env: dict[str, str], tmp_path: Path, store: App, prefect: None
) -> None:
    ledger = write_ledger(
        tmp_path / "l.csv",
        [ledger_row(), ledger_row(CODES[1], mobile="", employer_name="天津无手机有限公司")],
    )
    assert run(db_env, "import-ledger", str(ledger), "--as-of", "2026-09-16").exit_code == 0
    result = run(db_env, "escalate", "--as-of", "2026-09-16")
    assert result.exit_code == 0, result.output
    assert "transport: outbox" in result.stderr
    assert "steps: 2 sms_reminder; messages: 1 outbox; letters: 1" in result.stdout
    with store.session() as session:
        notices = session.execute(select(Notice).order_by(Notice.id)).scalars().all()
    by_channel = {n.channel: n for n in notices}
    assert by_channel["sms"].status == "outbox"
    assert "not sent: outbox" in (by_channel["sms"].error or "")
    assert by_channel["sms"].recipient == "+8613812345678"
    assert by_channel["letter"].document_type == "reminder_letter"
    assert by_channel["letter"].content_sha256 is not None
    again = run(db_env, "escalate", "--as-of", "2026-09-16")
    assert "completed at" in again.stdout and "nothing to do" in again.stdout
    older = run(db_env, "escalate", "--as-of", "2026-09-15")
    assert older.exit_code == 1 and "before the last completed run" in older.stderr
    replay = run(db_env, "escalate", "--as-of", "2026-09-15", "--replay")
    assert replay.exit_code == 0 and "nothing was written" in replay.stderr
    with store.session() as session:
        assert len(session.execute(select(Notice)).scalars().all()) == len(notices)


def _case_id(store: App) -> int:
    with store.session() as session:
        return session.execute(select(Case.id)).scalars().one()


def test_facts_come_from_notices_promises_approvals_and_bank_inquiries(
    db_env: dict[str, str], tmp_path: Path, store: App
) -> None:
    run(
        db_env,
        "import-ledger",
        str(write_ledger(tmp_path / "l.csv", [ledger_row()])),
        "--as-of",
        "2026-07-01",
    )
    case_id = _case_id(store)
    ladder = [
        ("sms_reminder", 1, "sms", date(2026, 9, 16), None),
        ("phone_reminder", 2, "officer_task", date(2026, 9, 22), None),
        ("reminder_letter", 3, "letter", date(2026, 9, 30), date(2026, 9, 30)),
        ("interview", 4, "letter", date(2026, 10, 15), date(2026, 10, 16)),
        ("inspection_referral", 5, "letter", date(2026, 10, 30), date(2026, 10, 31)),
        ("order_to_pay", 6, "letter", date(2026, 11, 14), None),
    ]
    with store.session() as session:
        for step, level, channel, issued, served in ladder:
            session.add(
                Notice(
                    case_id=case_id,
                    business_key=f"{case_id}:{step}:{channel}:{issued}",
                    step=step,
                    level=level,
                    channel=channel,
                    status="sent",
                    issued_on=issued,
                    served_on=served,
                )
            )
        session.execute(
            Case.__table__.update().where(Case.__table__.c.id == case_id).values(stage=6)  # type: ignore[attr-defined]
        )

    # The order to pay is not served yet: enforcement must wait, whatever the date.
    waiting = dry_run(db_env, "2026-12-20")[CODES[0]]
    assert waiting["action"] == "wait" and waiting["step"] == "enforcement_demand"
    assert "served" in waiting["reason"]

    # Served on 2026-11-16 (Monday): 10 working days → deadline 2026-11-30; the demand is due
    # the day after.
    with store.session() as session:
        order = session.execute(select(Notice).where(Notice.step == "order_to_pay")).scalar_one()
        order.served_on = date(2026, 11, 16)
        session.add(order)
    assert dry_run(db_env, "2026-11-30")[CODES[0]]["action"] == "wait"
    due = dry_run(db_env, "2026-12-01")[CODES[0]]
    assert (due["action"], due["step"]) == ("take_step", "enforcement_demand")

    # A promise to pay holds the case until its date, then counts as broken.
    with store.session() as session:
        session.add(
            PromiseToPay(
                case_id=case_id,
                amount_fen=100_000,
                due_on=date(2026, 12, 10),
                made_on=date(2026, 11, 28),
                recorded_by="officer1",
            )
        )
        session.execute(
            Case.__table__.update().where(Case.__table__.c.id == case_id).values(status="promised")  # type: ignore[attr-defined]
        )
    assert dry_run(db_env, "2026-12-05")[CODES[0]]["action"] == "hold"
    assert dry_run(db_env, "2026-12-11")[CODES[0]]["action"] == "promise_broken"

    # Back on the ladder with the demand served: a bank inquiry decides transfer vs collateral,
    # and the enforcement step needs a supervisor's approval first.
    with store.session() as session:
        promise = session.execute(select(PromiseToPay)).scalar_one()
        promise.status = "broken"
        session.add(promise)
        session.execute(
            Case.__table__.update()
            .where(Case.__table__.c.id == case_id)
            .values(status="open", stage=7, malicious=True)  # type: ignore[attr-defined]
        )
        session.add(
            Notice(
                case_id=case_id,
                business_key=f"{case_id}:demand",
                step="enforcement_demand",
                level=7,
                channel="letter",
                status="sent",
                issued_on=date(2026, 12, 1),
                served_on=date(2026, 12, 2),
            )
        )
    needs_balance = dry_run(db_env, "2027-01-10")[CODES[0]]
    assert needs_balance["action"] in {"wait", "defer"}
    with store.session() as session:
        session.add(
            BankInquiry(
                case_id=case_id,
                bank_name="中国银行天津分行",
                account_number="1234",
                balance_fen=50_000_000,
                inquired_on=date(2026, 12, 20),
                recorded_by="officer1",
            )
        )
    # Deciding to enforce waits for the employer to be heard (Administrative Compulsion Law
    # art. 36): here, the officer's record that it said nothing by the demand's deadline.
    unheard = dry_run(db_env, "2026-12-21")[CODES[0]]
    assert (unheard["action"], unheard["step"]) == ("wait", "forced_transfer")
    assert "precondition 'statement_heard' not met" in unheard["reason"]
    with store.session() as session:
        session.add(
            EmployerStatement(
                case_id=case_id,
                kind="none_made",
                received_on=date(2026, 12, 17),
                summary="no statement by the demand's deadline",
                recorded_by="officer1",
            )
        )
    transfer = dry_run(db_env, "2026-12-21")[CODES[0]]
    assert (transfer["action"], transfer["step"]) == ("request_approval", "forced_transfer")
    with store.session() as session:
        session.add(
            ApprovalRequest(
                case_id=case_id,
                step="forced_transfer",
                status="pending",
                requested_on=date(2026, 12, 21),
                reason="balance covers debt",
            )
        )
    pending = dry_run(db_env, "2026-12-22")[CODES[0]]
    assert pending["action"] == "wait" and "approval" in pending["reason"]
