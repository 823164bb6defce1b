"""Fines of 1 to 3 times the arrears: proposed after the order to pay's limit, decided by another
supervisor, served as a numbered penalty decision."""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select
from sqlmodel import col
from typer.testing import CliRunner

from arrears.cli import app
from arrears.wiring import App
from cases.access import Actor, NotAllowed
from cases.actions import ActionRefused, record_payment
from cases.fines import decide_fine, fine_amount, propose_fine
from cases.models import Fine, Notice
from cases.numerals import capital_yuan
from tests.factories import add_user
from tests.integration.casework_world import World, make_world

SERVED = date(2026, 11, 2)
DEADLINE = date(2026, 11, 16)
TODAY = date(2026, 11, 20)
runner = CliRunner()


@pytest.fixture
def world(store: App, tmp_path: Path) -> World:
    w = make_world(store, tmp_path)
    with store.session() as session:
        add_user(session, "deputy", "supervisor", ["和平区"])
    return w


def _deputy(world: World) -> Actor:
    return Actor(
        user_id=999, username="deputy", role=world.supervisor.role, districts=frozenset({"和平区"})
    )


def _serve_order(world: World, case_id: int, *, deadline: date | None = DEADLINE) -> None:
    with world.store.session() as session:
        session.add(
            Notice(
                case_id=case_id,
                business_key=f"seed:{case_id}:order",
                step="order_to_pay",
                level=6,
                channel="letter",
                document_type="order_to_pay",
                status="served",
                document_number=f"津和社保限缴〔2026〕第{case_id:06d}号",
                issued_on=date(2026, 10, 30),
                served_on=SERVED,
                deadline_on=deadline,
            )
        )


def _propose(world: World, actor: Actor | None = None, **fields: Any) -> Fine:
    values: dict[str, Any] = {
        "actor": actor or world.officer,
        "case_id": world.a,
        "today": TODAY,
        "multiple": Decimal("1.5"),
        "reason": "逾期仍不缴纳，且拒不配合",
        "policy": world.store.policy,
    }
    values.update(fields)
    return world.act(propose_fine, **values)


def _refused(call: Any, field: str, words: str) -> None:
    with pytest.raises(ActionRefused) as caught:
        call()
    assert caught.value.field == field
    assert words in caught.value.reason, caught.value.reason


def test_amount_is_rounded_half_up_to_the_fen() -> None:
    assert fine_amount(1_000_000, 150) == 1_500_000
    assert fine_amount(1, 150) == 2  # 1.5 fen
    assert fine_amount(1, 149) == 1
    assert fine_amount(999_999, 105) == 1_049_999  # 10,499.98950 yuan


def test_a_proposal_is_refused_before_the_order_to_pay_ran_out(world: World) -> None:
    _refused(lambda: _propose(world), "case", "has no order to pay served")
    _serve_order(world, world.a)
    _refused(lambda: _propose(world, today=DEADLINE), "case", "until 2026-11-16: not yet")


def test_deadline_counted_from_service_when_none_was_recorded(world: World) -> None:
    _serve_order(world, world.a, deadline=None)
    # 10 working days from service on Monday 2026-11-02: to Monday 2026-11-16.
    _refused(lambda: _propose(world, today=DEADLINE), "case", "until 2026-11-16")
    assert _propose(world, today=date(2026, 11, 17)).amount_fen == 1_500_000


def test_multiple_limits_and_principal_still_owed(world: World) -> None:
    _serve_order(world, world.a)
    for typed, words in (
        ("0.99", "1 to 3 times"),
        ("3.01", "1 to 3 times"),
        ("1.255", "at most two decimals"),
        ("NaN", "1 to 3 times"),
    ):
        _refused(lambda t=typed: _propose(world, multiple=Decimal(t)), "multiple", words)
    _refused(lambda: _propose(world, reason=" "), "reason", "required")
    _serve_order(world, world.b)
    world.act(
        record_payment,
        actor=world.officer,
        case_id=world.b,
        today=TODAY,
        amount=Decimal("10000.00"),
        paid_on=TODAY,
        reference="PAID-B",
        policy=world.store.policy,
    )
    _refused(lambda: _propose(world, case_id=world.b), "case", "owes no principal")


def test_one_open_proposal_and_four_eyes(world: World) -> None:
    _serve_order(world, world.a)
    fine = _propose(world, multiple=Decimal("3"))
    assert (fine.arrears_fen, fine.multiple_pct, fine.amount_fen) == (1_000_000, 300, 3_000_000)
    assert world.events(world.a, "fine_proposed")[0].data["amount"] == "30000.00"
    _refused(lambda: _propose(world), "case", "waits for a supervisor's decision")

    decide: dict[str, Any] = {
        "case_id": world.a,
        "today": TODAY,
        "fine_id": fine.id,
        "impose": True,
        "reason": "事实清楚",
    }
    with pytest.raises(NotAllowed):
        world.act(decide_fine, actor=world.officer, **decide)
    other = _propose  # the supervisor proposes on case b and may not decide it
    _serve_order(world, world.b)
    own = other(world, actor=world.supervisor, case_id=world.b)
    _refused(
        lambda: world.act(
            decide_fine, actor=world.supervisor, **{**decide, "case_id": world.b, "fine_id": own.id}
        ),
        "fine",
        "you proposed this fine yourself",
    )
    _refused(
        lambda: world.act(decide_fine, actor=world.supervisor, **{**decide, "fine_id": own.id}),
        "fine",
        f"case {world.a} has no fine {own.id}",
    )
    rejected = world.act(decide_fine, actor=world.supervisor, **{**decide, "impose": False})
    assert rejected.status == "rejected" and rejected.notice_id is None
    assert world.events(world.a, "fine_rejected")
    _refused(
        lambda: world.act(decide_fine, actor=_deputy(world), **decide),
        "fine",
        "already rejected by chief",
    )
    # Rejected, the case may be proposed for a fine again.
    assert _propose(world).status == "proposed"


def test_imposed_fine_is_served_as_a_numbered_penalty_decision(world: World) -> None:
    _serve_order(world, world.a)
    fine = _propose(world)
    imposed = world.act(
        decide_fine,
        actor=world.supervisor,
        case_id=world.a,
        today=TODAY,
        fine_id=fine.id,
        impose=True,
        reason="事实清楚，证据确凿",
    )
    assert imposed.status == "imposed" and imposed.decided_by == "chief"
    assert imposed.notice_id is not None
    (event,) = world.events(world.a, "fine_imposed")
    assert event.data["notice_id"] == imposed.notice_id
    store = world.store
    with store.session() as session:
        notice = session.get(Notice, imposed.notice_id)
        assert notice is not None and notice.document_type == "fine_decision"
        letter = store.letter_desk(session).print_notice(notice, actor="chief")
    assert letter.document_number == "津和社保罚决〔2026〕第000001号"
    assert letter.title == "行政处罚决定书"
    text = "".join(
        page.extract_text()
        for page in PdfReader(io.BytesIO(store.documents.read(letter.sha256))).pages
    ).replace("\n", "")
    for words in (
        "行政处罚决定书",
        letter.document_number,
        "天津甲商贸有限公司",
        "津和社保限缴〔2026〕第",  # the order to pay it follows
        "2026年11月16日",  # that order's deadline
        "第八十六条",
        "1.5倍",
        "15,000.00",
        capital_yuan(1_500_000),
        "收到本决定书之日起15日内",
        "60日内",
        "6个月内",
        "天津市和平区人民政府",
        "天津市和平区人民法院",
    ):
        assert words in text, words
    with store.session() as session:
        kept = session.execute(
            select(Notice).where(col(Notice.id) == imposed.notice_id)
        ).scalar_one()
        assert kept.status == "printed" and kept.document_number == letter.document_number


def test_cli_propose_decide_list(db_env: dict[str, str], world: World) -> None:
    _serve_order(world, world.a)

    def run(*args: str) -> Any:
        return runner.invoke(app, list(args), env=db_env, catch_exceptions=False)

    proposed = run(
        "fines",
        "propose",
        str(world.a),
        "--multiple",
        "2",
        "--reason",
        "拒不缴纳",
        "--user",
        "officer1",
        "--as-of",
        "2026-11-20",
    )
    assert proposed.exit_code == 0, proposed.output
    assert "¥20000.00 (2 × ¥10000.00)" in proposed.stdout
    (listed,) = json.loads(run("fines", "list", "--json", "--user", "chief").stdout)
    assert listed["status"] == "proposed" and listed["amount"] == "20000.00"
    refused = run(
        "fines",
        "decide",
        str(world.a),
        "--fine",
        str(listed["id"]),
        "--impose",
        "--reason",
        "同意",
        "--user",
        "officer1",
    )
    assert refused.exit_code == 1 and "only a supervisor may decide a fine" in refused.stderr
    decided = run(
        "fines",
        "decide",
        str(world.a),
        "--fine",
        str(listed["id"]),
        "--impose",
        "--reason",
        "同意",
        "--user",
        "chief",
        "--as-of",
        "2026-11-21",
    )
    assert decided.exit_code == 0, decided.output
    assert "imposed: ¥20000.00; 津和社保罚决〔2026〕第000001号 行政处罚决定书" in decided.stdout
    (after,) = json.loads(run("fines", "list", "--json", "--user", "deputy").stdout)
    number = after["document_number"]
    assert number == "津和社保罚决〔2026〕第000001号"
    # Served, the decision gives the employer 15 calendar days to pay the fine.
    served = run(
        "letters", "serve", number, "--method", "post", "--date", "2026-11-23", "--receipt", "R-9"
    )
    assert served.exit_code == 0, served.output
    with world.store.session() as session:
        notice = session.execute(select(Notice).where(col(Notice.document_number) == number))
        assert notice.scalar_one().deadline_on == date(2026, 12, 8)
