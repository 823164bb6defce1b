"""The bank's answer to a forced-transfer notice: full, partial or nothing, the money applied."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col
from typer.testing import CliRunner

from arrears.cli import app
from arrears.wiring import App
from cases.access import Actor, CaseNotFound
from cases.actions import ActionRefused, record_payment, record_transfer_execution
from cases.models import Allocation, CaseEvent, Notice, Payment, TransferExecution
from cases.promises import owed
from tests.integration.casework_world import World, make_world

ISSUED = date(2026, 11, 20)
TODAY = date(2026, 11, 26)
# Owed on the notice's day: 10,000.00 due 2026-09-15, late 66 days at 0.05%: 330.00.
REQUESTED = Decimal("10330.00")
runner = CliRunner()


@pytest.fixture
def world(store: App, tmp_path: Path) -> World:
    return make_world(store, tmp_path)


def _issue_transfer(world: World, case_id: int, *, bank_notice: bool = True) -> None:
    documents = ["forced_transfer_decision"] + (["bank_transfer_notice"] if bank_notice else [])
    with world.store.session() as session:
        for n, document in enumerate(documents, start=1):
            session.add(
                Notice(
                    case_id=case_id,
                    business_key=f"seed:{case_id}:{document}",
                    step="forced_transfer",
                    level=8,
                    channel="letter",
                    document_type=document,
                    status="printed",
                    document_number=f"津和社保划〔2026〕第{case_id * 10 + n:06d}号",
                    issued_on=ISSUED,
                )
            )


def _record(world: World, actor: Actor | None = None, **fields: Any) -> TransferExecution:
    values: dict[str, Any] = {
        "actor": actor or world.officer,
        "case_id": world.a,
        "today": TODAY,
        "result": "full",
        "amount": REQUESTED,
        "executed_on": ISSUED,
        "reference": "ICBC-TR-0001",
        "bank_name": "中国银行天津和平支行",
        "account_number": "6216 6012 3456 7890",
        "policy": world.store.policy,
    }
    values.update(fields)
    return world.act(record_transfer_execution, **values)


def _refused(world: World, field: str, words: str, **fields: Any) -> None:
    with pytest.raises(ActionRefused) as caught:
        _record(world, **fields)
    assert caught.value.field == field
    assert words in caught.value.reason, caught.value.reason


def test_refused_until_the_decision_and_the_bank_notice_were_issued(world: World) -> None:
    _refused(world, "case", "no forced-transfer decision and bank notice issued")
    _issue_transfer(world, world.a, bank_notice=False)
    _refused(world, "case", "no forced-transfer decision and bank notice issued")


def test_each_bad_answer_is_refused_with_its_reason(world: World) -> None:
    _issue_transfer(world, world.a)
    _refused(world, "result", "'most' is not one of", result="most")
    _refused(world, "amount", "a full transfer is the ¥10330.00", amount=Decimal("10000.00"))
    _refused(
        world,
        "amount",
        "a partial transfer is more than zero",
        result="partial",
        amount=Decimal("0"),
    )
    _refused(
        world, "amount", "a partial transfer is more than zero", result="partial", amount=REQUESTED
    )
    _refused(
        world,
        "amount",
        "nothing transferred is an amount of zero",
        result="none",
        amount=Decimal("0.01"),
    )
    _refused(world, "amount", "more than two decimals", amount=Decimal("1.001"))
    _refused(world, "executed_on", "cannot be in the future", executed_on=date(2026, 11, 27))
    _refused(world, "executed_on", "before the bank notice", executed_on=date(2026, 11, 19))
    _refused(world, "account_number", "8 to 30 digits", account_number="6216-ABCD")
    _refused(world, "reference", "required", reference="  ")
    world.act(
        record_payment,
        actor=world.officer,
        case_id=world.b,
        today=TODAY,
        amount=Decimal("100.00"),
        paid_on=TODAY,
        reference="USED-1",
        policy=world.store.policy,
    )
    _refused(world, "reference", "bank reference USED-1 is already recorded", reference="USED-1")
    with pytest.raises(CaseNotFound):
        _record(world, actor=world.hexi_officer)
    with world.store.session() as session:
        assert list(session.execute(select(TransferExecution)).scalars()) == []


def test_full_transfer_on_the_notice_day_settles_and_closes_the_case(world: World) -> None:
    _issue_transfer(world, world.a)
    execution = _record(world, note="银行已全额划拨")
    assert (execution.result, execution.requested_fen, execution.amount_fen) == (
        "full",
        1_033_000,
        1_033_000,
    )
    case = world.case(world.a)
    assert case.status == "closed_paid" and case.closed_on == TODAY
    with world.store.session() as session:
        payment = session.get(Payment, execution.payment_id)
        assert payment is not None
        assert (payment.reference, payment.amount_fen, payment.paid_on) == (
            "ICBC-TR-0001",
            1_033_000,
            ISSUED,
        )
        parts = session.execute(
            select(Allocation).where(col(Allocation.payment_id) == payment.id)
        ).scalars()
        assert [(a.principal_fen, a.fee_fen) for a in parts] == [(1_000_000, 33_000)]
    (event,) = world.events(world.a, "transfer_executed")
    assert event.data["result"] == "full"
    assert event.data["requested"] == "10330.00" and event.data["amount"] == "10330.00"
    assert world.events(world.a, "payment_received")


def test_full_transfer_days_later_leaves_the_fee_accrued_since(world: World) -> None:
    _issue_transfer(world, world.a)
    _record(world, executed_on=date(2026, 11, 25))
    case = world.case(world.a)
    assert case.closed_on is None
    with world.store.session() as session:
        position = owed(session, case, TODAY, world.store.policy)
    # The principal stopped accruing on 11-25: 71 days, 355.00 fee, of which 330.00 was paid.
    assert (position.principal_outstanding, position.fee_outstanding) == (0, 2_500)


def test_partial_transfer_pays_principal_first_and_the_case_stays_open(world: World) -> None:
    _issue_transfer(world, world.a)
    execution = _record(world, result="partial", amount=Decimal("4000.00"))
    case = world.case(world.a)
    assert case.closed_on is None
    with world.store.session() as session:
        position = owed(session, case, ISSUED, world.store.policy)
        assert execution.payment_id is not None
    assert position.principal_outstanding == 600_000
    (event,) = world.events(world.a, "transfer_executed")
    assert event.data["shortfall"] == "6330.00"


def test_a_notice_answered_in_parts_orders_only_what_is_left_and_no_more_once_full(
    world: World,
) -> None:
    _issue_transfer(world, world.a)
    _record(world, result="partial", amount=Decimal("4000.00"), reference="ICBC-TR-0001")
    # The rest of the 10,330.00 ordered: 6,330.00 is the full answer now, not 10,330.00 again.
    _refused(world, "amount", "is the ¥6330.00 the notice", reference="ICBC-TR-0002")
    rest = _record(world, amount=Decimal("6330.00"), reference="ICBC-TR-0002")
    assert (rest.requested_fen, rest.amount_fen) == (633_000, 633_000)
    _refused(world, "result", "already carried out in full", reference="ICBC-TR-0003")
    with world.store.session() as session:
        paid = session.execute(select(Payment.amount_fen)).scalars().all()
    assert sorted(paid) == [400_000, 633_000]


def test_nothing_transferred_is_recorded_without_a_payment(world: World) -> None:
    _issue_transfer(world, world.a)
    execution = _record(world, result="none", amount=Decimal("0"), note="账户余额不足")
    assert execution.payment_id is None and execution.amount_fen == 0
    with world.store.session() as session:
        assert list(session.execute(select(Payment)).scalars()) == []
        kinds = session.execute(
            select(col(CaseEvent.kind)).where(col(CaseEvent.case_id) == world.a)
        ).scalars()
        assert "transfer_executed" in set(kinds)
    _refused(world, "reference", "already recorded", result="none", amount=Decimal("0"))


def test_cli_records_a_transfer(db_env: dict[str, str], world: World) -> None:
    _issue_transfer(world, world.a)
    args = [
        "transfers",
        "record",
        str(world.a),
        "--result",
        "partial",
        "--amount",
        "5000.00",
        "--executed-on",
        "2026-11-21",
        "--reference",
        "CLI-1",
        "--bank",
        "中国银行",
        "--account",
        "6216601234567890",
        "--user",
        "officer1",
        "--as-of",
        "2026-11-26",
    ]
    result = runner.invoke(app, args, env=db_env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "transfer partial, ¥5000.00 of ¥10330.00 ordered (ref CLI-1); case open" in (
        result.stdout
    )
    again = runner.invoke(app, args, env=db_env, catch_exceptions=False)
    assert again.exit_code == 1 and "already recorded" in again.stderr
