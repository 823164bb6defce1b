"""Letters served, bank inquiries, enforcement steps and write-offs put to a supervisor, and who
works which case."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import col

from arrears.wiring import App
from cases import actions
from cases.actions import ActionRefused, CaseNotFound, NotAllowed, WriteOffDocumentIn
from cases.facts import build_facts, open_case_heads
from cases.models import ApprovalRequest, BankInquiry, Notice, OfficerTask
from tests.factories import add_user
from tests.integration.casework_world import FAR, World, day, make_world


@pytest.fixture
def w(store: App, tmp_path: Path) -> World:
    return make_world(store, tmp_path)


RULING = WriteOffDocumentIn(
    kind="bankruptcy_ruling",
    issued_by="天津市第二中级人民法院",
    reference="（2026）津02破12号",
    issued_on=day(3),
)
PAPERS = [RULING]


def nights_until(w: World, start: int, step: str, case_id: int, *, limit: int = 40) -> int:
    """Run the nights from day ``start`` until the case takes ``step``; returns that day."""
    for n in range(start, start + limit):
        w.night(day(n))
        if step in w.steps(case_id):
            return n
    raise AssertionError(f"{step} not taken by day {start + limit - 1}")


# ---------------------------------------------------------------------------------- service


def test_a_letter_served_and_the_refusals(w: World) -> None:
    w.nights(1, 7, 15)
    letter = w.print_letter(w.a, "reminder_letter")
    assert letter.document_number is not None and letter.id is not None
    with w.store.session() as session:
        unprinted = session.execute(
            select(Notice).where(col(Notice.case_id) == w.b, col(Notice.channel) == "letter")
        ).scalar_one()
        sms = session.execute(
            select(Notice).where(col(Notice.case_id) == w.a, col(Notice.channel) == "sms")
        ).scalar_one()
    at = {"actor": w.officer, "case_id": w.a, "today": day(17), "policy": w.store.policy}
    serve = {"notice_id": letter.id, "served_on": day(16), "method": "post", "receipt_number": "R1"}
    refusals = [
        ({"case_id": w.b}, f"^notice: case {w.b} has no letter {letter.id}$"),
        ({"notice_id": sms.id}, f"^notice: case {w.a} has no letter {sms.id}$"),
        (
            {"case_id": w.b, "notice_id": unprinted.id},
            f"^notice: letter {unprinted.id} is not printed yet",
        ),
        (
            {"method": "fax"},
            "^method: 'fax' is not one of in_person, left_at_premises, post, public_announcement$",
        ),
        ({"served_on": day(18)}, f"^served_on: {day(18)} is after today"),
        ({"served_on": day(14)}, f"^served_on: {letter.document_number} was issued on {day(15)}"),
        ({"receipt_number": " "}, "^receipt_number: required for service by 邮寄送达"),
    ]
    for change, message in refusals:
        with pytest.raises(ActionRefused, match=message):
            w.act(actions.record_service, **{**at, **serve, **change})
    w.park(w.a)
    w.act(actions.record_service, **at, **serve)
    with w.store.session() as session:
        served = session.get(Notice, letter.id)
        assert served is not None
        # MOHRSS Order 20: five working days from service (2026-10-01..07 is the national holiday).
        assert (served.served_on, served.service_method, served.receipt_number) == (
            day(16),
            "post",
            "R1",
        )
        assert served.deadline_on is not None and served.deadline_on > day(16)
    (event,) = w.events(w.a, "notice_served")
    assert event.actor == "officer1" and "邮寄送达" in event.message
    assert w.case(w.a).next_review_on is None  # service is a fact decide reads
    with pytest.raises(
        ActionRefused, match=rf"^notice: {letter.document_number} was already served"
    ):
        w.act(actions.record_service, **at, **serve)
    with pytest.raises(CaseNotFound):
        w.act(actions.record_service, **{**at, **serve, "actor": w.hexi_officer})


# ---------------------------------------------------------------------------------- bank inquiry


def test_a_bank_balance_is_recorded_and_read_by_the_next_decision(w: World) -> None:
    at = {"actor": w.officer, "case_id": w.a, "today": day(20)}
    inquiry = {
        "bank_name": "中国银行天津和平支行",
        "account_number": "6216 6101 0000 1234 567",
        "balance": Decimal("8888.88"),
        "inquired_on": day(19),
    }
    refusals = [
        ({"account_number": "6216-ABC-1234"}, "^account_number: '6216-ABC-1234': an account"),
        ({"account_number": "1234567"}, "^account_number: '1234567': an account number is 8 to 30"),
        ({"balance": Decimal("-0.01")}, "^balance: ¥-0.01: the amount must be zero or more$"),
        ({"inquired_on": day(21)}, f"^inquired_on: {day(21)} is after today"),
        ({"bank_name": ""}, "^bank_name: required"),
    ]
    for change, message in refusals:
        with pytest.raises(ActionRefused, match=message):
            w.act(actions.record_bank_inquiry, **at, **{**inquiry, **change})
    with pytest.raises(CaseNotFound):
        w.act(actions.record_bank_inquiry, **{**at, "case_id": w.hexi}, **inquiry)
    w.park(w.a)
    w.act(actions.record_bank_inquiry, **at, **inquiry)
    with w.store.session() as session:
        row = session.execute(select(BankInquiry)).scalar_one()
        assert (row.account_number, row.balance_fen, row.recorded_by) == (
            "62166101000012345 67".replace(" ", ""),
            888_888,
            "officer1",
        )
        (event,) = w.events(w.a, "bank_inquiry_recorded")
        assert event.message == (
            f"officer1 recorded the balance of 中国银行天津和平支行 account ending 4567: "
            f"¥8888.88 on {day(19)}"
        )
        # Decided again at the next night, on a balance the enforcement rungs read.
        assert w.case(w.a).next_review_on is None
        (head,) = open_case_heads(session, [w.a], review_by=day(21))
        (facts,) = build_facts(session, [head], as_of=day(21), rules=w.store.policy.fee_rules)
        assert facts.bank_balance == 888_888


# ---------------------------------------------------------------------------------- approvals


def test_forced_transfer_driven_by_the_officers_and_approved_by_the_supervisor(w: World) -> None:
    """Service starts the clocks, the balance and the malicious mark open the rung, and the
    nightly run takes it only once the supervisor approved the officer's request."""
    w.nights(1, 7, 15, 30, 45, 60)
    assert w.steps(w.a)[-1] == "order_to_pay"
    at = {"actor": w.officer, "case_id": w.a, "policy": w.store.policy}
    order = w.print_letter(w.a, "order_to_pay")
    w.act(
        actions.record_service,
        **at,
        today=day(62),
        notice_id=order.id,
        served_on=day(62),
        method="in_person",
        receipt_number="SD-2026-001",
    )
    demand_day = nights_until(w, 63, "enforcement_demand", w.a)
    demand = w.print_letter(w.a, "enforcement_demand")
    w.act(
        actions.record_service,
        **at,
        today=day(demand_day + 1),
        notice_id=demand.id,
        served_on=day(demand_day + 1),
        method="left_at_premises",
        receipt_number="SD-2026-002",
    )
    today = day(demand_day + 2)
    w.act(
        actions.record_bank_inquiry,
        actor=w.officer,
        case_id=w.a,
        today=today,
        bank_name="中国银行",
        account_number="62166101000012345",
        balance=Decimal("50000.00"),
        inquired_on=today,
    )
    w.act(
        actions.mark_case,
        actor=w.officer,
        case_id=w.a,
        today=today,
        flag="malicious",
        reason="有履行能力而拒不缴纳",
    )
    request = w.act(
        actions.request_step, **at, today=today, step="forced_transfer", reason="余额足以划拨"
    )
    assert (request.status, request.step, request.requested_on) == (
        "pending",
        "forced_transfer",
        today,
    )
    (asked,) = w.events(w.a, "approval_requested")
    assert (
        asked.message
        == "officer1 asked a supervisor to approve forced_transfer (强制划拨): 余额足以划拨"
    )
    with pytest.raises(ActionRefused, match=r"^step: forced_transfer \(强制划拨\) already awaits"):
        w.act(actions.request_step, **at, today=today, step="forced_transfer", reason="again")

    # The demand's deadline runs out: the rung is due but waits for the supervisor, and the
    # night asks for no second approval.
    for n in range(demand_day + 2, demand_day + 30):
        night = w.night(day(n))
        assert night.approvals_requested == 0
    assert "forced_transfer" not in w.steps(w.a)
    decide = {
        "case_id": w.a,
        "today": day(demand_day + 30),
        "request_id": request.id,
        "policy": w.store.policy,
    }
    with pytest.raises(NotAllowed, match=r"only a supervisor may approve or reject"):
        w.act(actions.decide_approval, actor=w.officer, **decide, approve=True, reason="x")
    with pytest.raises(ActionRefused, match=r"^reason: required"):
        w.act(actions.decide_approval, actor=w.supervisor, **decide, approve=True, reason="")
    # Deciding to enforce needs the employer heard first (Administrative Compulsion Law art. 36).
    with pytest.raises(
        ActionRefused,
        match=r"^request: forced_transfer is not allowed yet: the employer's statement and "
        r"defence .* were recorded and reviewed, or it was recorded that none was made "
        r"\(Administrative Compulsion Law art. 36\); nothing recorded since the demand of ",
    ):
        w.act(actions.decide_approval, actor=w.supervisor, **decide, approve=True, reason="x")
    w.act(
        actions.record_statement,
        **at,
        today=day(demand_day + 30),
        kind="none_made",
        received_on=day(demand_day + 30),
        summary="催告书期限内未收到陈述、申辩",
    )
    w.park(w.a)
    w.act(actions.decide_approval, actor=w.supervisor, **decide, approve=True, reason="证据充分")
    (granted,) = w.events(w.a, "approval_granted")
    assert granted.message == "chief approved forced transfer: 证据充分"
    assert granted.step == "forced_transfer"
    night = w.night(day(demand_day + 30))
    assert night.steps == {"forced_transfer": 1}
    with pytest.raises(ActionRefused, match=r"^request: the request for forced_transfer was alr"):
        w.act(actions.decide_approval, actor=w.supervisor, **decide, approve=False, reason="x")
    with pytest.raises(ActionRefused, match=r"^step: forced_transfer was already taken on"):
        w.act(
            actions.request_step,
            **at,
            today=day(demand_day + 31),
            step="forced_transfer",
            reason="x",
        )


def test_an_enforcement_request_is_refused_with_the_reason(w: World) -> None:
    at = {"actor": w.officer, "case_id": w.a, "today": day(20), "policy": w.store.policy}
    with pytest.raises(
        ActionRefused,
        match=r"^step: 'sms_reminder' is not a step tianjin-2016 v.* puts to a supervisor: use "
        "one of forced_transfer, collateral_demand, court_application$",
    ):
        w.act(actions.request_step, **at, step="sms_reminder", reason="x")
    with pytest.raises(ActionRefused, match=r"^reason: required"):
        w.act(actions.request_step, **at, step="court_application", reason=" ")
    with pytest.raises(CaseNotFound):
        w.act(
            actions.request_step, **{**at, "case_id": w.hexi}, step="court_application", reason="x"
        )
    # Rejected, it may be asked for again.
    first = w.act(actions.request_step, **at, step="collateral_demand", reason="余额不足")
    w.act(
        actions.decide_approval,
        policy=w.store.policy,
        actor=w.supervisor,
        case_id=w.a,
        today=day(21),
        request_id=first.id,
        approve=False,
        reason="先完成银行查询",
    )
    (rejected,) = w.events(w.a, "approval_rejected")
    assert rejected.message == "chief rejected collateral demand: 先完成银行查询"
    with pytest.raises(ActionRefused, match=rf"^request: case {w.b} has no approval request"):
        w.act(
            actions.decide_approval,
            policy=w.store.policy,
            actor=w.supervisor,
            case_id=w.b,
            today=day(21),
            request_id=first.id,
            approve=True,
            reason="x",
        )
    w.act(
        actions.request_step, **{**at, "today": day(22)}, step="collateral_demand", reason="已查询"
    )
    with w.store.session() as session:
        statuses = session.execute(
            select(col(ApprovalRequest.status)).order_by(col(ApprovalRequest.id))
        ).scalars()
        assert list(statuses) == ["rejected", "pending"]


def test_a_write_off_approved_ends_the_case(w: World) -> None:
    w.nights(1)
    at = {"actor": w.officer, "case_id": w.a, "today": day(5)}
    with pytest.raises(ActionRefused, match=r"^reason: required"):
        w.act(actions.propose_write_off, **at, reason="", documents=PAPERS)
    proposal = w.act(actions.propose_write_off, **at, reason="法院已裁定破产清算", documents=PAPERS)
    assert (proposal.step, proposal.status) == ("write_off", "pending")
    with pytest.raises(ActionRefused, match=r"^step: a write-off already awaits"):
        w.act(actions.propose_write_off, **at, reason="again", documents=PAPERS)
    w.act(
        actions.record_promise,
        actor=w.officer,
        case_id=w.b,
        today=day(5),
        amount=Decimal("100"),
        due_on=day(10),
        policy=w.store.policy,
    )
    with pytest.raises(ActionRefused, match=r"^case: case \d+ is promised to pay and cannot be "):
        w.act(actions.propose_write_off, **{**at, "case_id": w.b}, reason="x", documents=PAPERS)
    w.park(w.a)
    w.act(
        actions.decide_approval,
        policy=w.store.policy,
        actor=w.supervisor,
        case_id=w.a,
        today=day(6),
        request_id=proposal.id,
        approve=True,
        reason="破产裁定书已核实",
    )
    case = w.case(w.a)
    assert (case.status, case.closed_on) == ("written_off", day(6))
    assert (
        w.events(w.a)[-1].message
        == "open → written off: write-off approved by chief: 破产裁定书已核实"
    )
    assert w.night(day(7)).examined == 1  # B only: a written-off case is never decided again
    assert w.steps(w.a) == ["sms_reminder"]
    with pytest.raises(ActionRefused, match=rf"^case: case {w.a} is written off since {day(6)}"):
        w.act(
            actions.record_promise,
            **at,
            amount=Decimal("1"),
            due_on=day(10),
            policy=w.store.policy,
        )


def test_whoever_asked_does_not_decide(w: World) -> None:
    """Four eyes: a supervisor's own proposal waits for another supervisor."""
    w.nights(1)
    mine = w.act(
        actions.propose_write_off,
        actor=w.supervisor,
        case_id=w.a,
        today=day(5),
        reason="营业执照已吊销",
        documents=PAPERS,
    )
    assert mine.requested_by == "chief"
    decide = {"case_id": w.a, "today": day(6), "request_id": mine.id, "reason": "核实"}
    with pytest.raises(
        ActionRefused, match=r"^request: you asked for write_off yourself: another supervisor"
    ):
        w.act(
            actions.decide_approval,
            policy=w.store.policy,
            actor=w.supervisor,
            **decide,
            approve=True,
        )
    with w.store.session() as session:
        deputy = add_user(session, "deputy", "supervisor", ["和平区"])
    decided = w.act(
        actions.decide_approval, policy=w.store.policy, actor=deputy, **decide, approve=False
    )
    assert (decided.status, decided.decided_by) == ("rejected", "deputy")
    officers = w.act(
        actions.propose_write_off,
        actor=w.officer,
        case_id=w.a,
        today=day(7),
        reason="已注销",
        documents=PAPERS,
    )
    assert officers.requested_by == "officer1"  # the officer's request: the chief decides it
    w.act(
        actions.decide_approval,
        policy=w.store.policy,
        actor=w.supervisor,
        **{**decide, "request_id": officers.id},
        approve=False,
    )


# ---------------------------------------------------------------------------------- assignment


def test_cases_reassigned_and_given_back(w: World) -> None:
    move = {"case_ids": [w.a, w.b], "today": day(3), "officer_id": w.colleague.user_id}
    with pytest.raises(NotAllowed, match=r"only a supervisor may reassign cases"):
        w.act(actions.reassign_cases, actor=w.officer, **move)
    with pytest.raises(
        ActionRefused,
        match=rf"^officer: case {w.a} belongs to 和平区, which officer3 does not serve$",
    ):
        w.act(
            actions.reassign_cases,
            actor=w.supervisor,
            **{**move, "officer_id": w.hexi_officer.user_id},
        )
    with pytest.raises(ActionRefused, match=r"^officer: user \d+ is not an active collection off"):
        w.act(
            actions.reassign_cases, actor=w.supervisor, **{**move, "officer_id": w.idle_officer_id}
        )
    with pytest.raises(CaseNotFound):
        w.act(actions.reassign_cases, actor=w.supervisor, **{**move, "case_ids": [w.a, w.hexi]})
    with pytest.raises(ActionRefused, match=r"^cases: choose at least one case"):
        w.act(actions.reassign_cases, actor=w.supervisor, **{**move, "case_ids": []})
    assert w.case(w.a).officer_id is None  # every refusal left every case as it was

    moved = w.act(actions.reassign_cases, actor=w.supervisor, **move, reason="officer1 休假")
    assert moved == [w.a, w.b]
    case = w.case(w.a)
    assert case.officer_id == w.colleague.user_id and case.claimed_at is not None
    (event,) = w.events(w.a, "case_reassigned")
    assert event.message == "chief gave the case to officer2: officer1 休假"
    assert w.act(actions.reassign_cases, actor=w.supervisor, **move) == []  # already theirs

    # The night's call tasks go to the officer who now holds the cases.
    w.nights(1, 7)
    with w.store.session() as session:
        assigned = set(
            session.execute(
                select(col(OfficerTask.assigned_to)).where(col(OfficerTask.case_id).in_([w.a, w.b]))
            ).scalars()
        )
    assert assigned == {w.colleague.user_id}

    # Giving a case back is the queue's own action (cases.claims.release), shared here.
    release = {"case_id": w.a, "today": day(8)}
    with pytest.raises(NotAllowed, match=r"is officer2's: only its officer"):
        w.act(actions.release_case, actor=w.officer, **release)
    w.act(actions.release_case, actor=w.colleague, **release)
    assert w.case(w.a).officer_id is None and w.case(w.a).claimed_at is None
    assert len(w.events(w.a, "case_released")) == 1
    with pytest.raises(ActionRefused, match=rf"^case: case {w.a} has no officer"):
        w.act(actions.release_case, actor=w.colleague, **release)
    w.act(actions.release_case, actor=w.supervisor, case_id=w.b, today=day(8))
    assert "officer2" in w.events(w.b, "case_released")[0].message
    assert w.case(w.b).next_review_on != FAR  # untouched: who holds it is no fact decide reads
