"""The enforcement track end to end, night by night with a fixed clock.

Case A owes 10,000.00 from 2026-09-15 (day 1 is 2026-09-16). Its order to pay is taken on day 60
(Sat 14 Nov) and served Mon 16 Nov: 10 working days run to Mon 30 Nov. The written demand that
follows is served the day after it is taken, and gives 10 working days more.

Three employers walk the top of the ladder: one refuses with money in the bank (forced transfer),
one is short (collateral, an agreement, a missed instalment, then the court once the law allows),
and one sues midway (everything frozen until the court rules).

The court window reaches into 2027, a year neither the chinese_calendar package nor the shipped
holiday file knows yet. These tests give the store a test calendar for 2027 with weekends only
(not the State Council's schedule, which is not published at the time of writing).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import col, select

from arrears.wiring import App
from cases import actions
from cases.actions import ActionRefused
from cases.facts import decide_all
from cases.models import ApprovalRequest, Notice
from cases.notices import number_letter
from cases.promises import owed
from tests.integration.casework_world import World, day, make_world

TEST_2027 = """
[years.2027]
source = "test calendar: weekends only, not the State Council's schedule"
holidays = []
workdays = []
"""
ORDER_SERVED = date(2026, 11, 16)
# The order served 16 Nov 2026: reconsideration to 15 Jan 2027, lawsuit to Sun 16 May 2027,
# moved to Mon 17 May; the court may be asked from Tue 18 May to Tue 17 Aug 2027 (art. 53).
COURT_OPENS = date(2027, 5, 18)
COURT_CLOSES = date(2027, 8, 17)


@pytest.fixture
def w(store: App, tmp_path: Path) -> World:
    holidays = tmp_path / "holidays.toml"
    holidays.write_text(TEST_2027, encoding="utf-8")
    known = App(store.settings.model_copy(update={"holiday_file": holidays}))
    return make_world(known, tmp_path)


def decision(w: World, case_id: int, on: date) -> dict[str, object]:
    with w.store.session() as session:
        (found,) = [
            d
            for d in decide_all(session, as_of=on, policy=w.store.policy)
            if d["case_id"] == case_id
        ]
    return found


def nights(w: World, first: date, last: date) -> None:
    on = first
    while on <= last:
        w.night(on)
        on += timedelta(days=1)


def until(w: World, first: date, done: Callable[[], bool], *, limit: int = 60) -> date:
    """Run nights from ``first`` until ``done()``; returns the night it became true."""
    on = first
    for _ in range(limit):
        w.night(on)
        if done():
            return on
        on += timedelta(days=1)
    raise AssertionError(f"not done by {on}")


def serve(w: World, case_id: int, step: str, on: date) -> None:
    letter = w.print_letter(case_id, step)
    w.act(
        actions.record_service,
        actor=w.officer,
        case_id=case_id,
        today=on,
        notice_id=letter.id,
        served_on=on,
        method="in_person",
        receipt_number=f"SD-{case_id}-{step}",
        policy=w.store.policy,
    )


def to_the_demand(w: World, case_id: int) -> date:
    """Up the ladder to the written demand, served the day after it was taken; returns the day
    of service. (Both cases of the world climb together.)"""
    w.nights(1, 7, 15, 30, 45, 60)
    assert w.steps(case_id)[-1] == "order_to_pay"
    serve(w, case_id, "order_to_pay", ORDER_SERVED)
    taken = until(w, day(63), lambda: "enforcement_demand" in w.steps(case_id))
    assert taken == date(2026, 12, 1)  # the order's limit ran to Mon 30 Nov
    served = taken + timedelta(days=1)
    serve(w, case_id, "enforcement_demand", served)
    return served


def print_all(w: World, case_id: int, step: str) -> None:
    """Number every letter of the step (a decision and its notice to the bank), as printing does."""
    with w.store.session() as session:
        agency = w.store.settings.agency
        for notice in session.execute(
            select(Notice).where(col(Notice.case_id) == case_id, col(Notice.step) == step)
        ).scalars():
            code = agency.document_codes[notice.document_type or step]
            number_letter(session, notice, prefix=agency.document_prefix + code)


def approve(w: World, case_id: int, step: str, on: date) -> ApprovalRequest:
    with w.store.session() as session:
        request = session.execute(
            select(ApprovalRequest).where(
                col(ApprovalRequest.case_id) == case_id,
                col(ApprovalRequest.step) == step,
                col(ApprovalRequest.status) == "pending",
            )
        ).scalar_one()
    return w.act(
        actions.decide_approval,
        actor=w.supervisor,
        case_id=case_id,
        today=on,
        request_id=request.id,
        approve=True,
        reason="材料齐全，同意",
        policy=w.store.policy,
    )


def inquire(w: World, case_id: int, on: date, balance: str) -> None:
    w.act(
        actions.record_bank_inquiry,
        actor=w.officer,
        case_id=case_id,
        today=on,
        bank_name="中国银行天津和平支行",
        account_number="6216601234567890",
        balance=Decimal(balance),
        inquired_on=on,
    )


def test_a_refusing_employer_with_money_in_the_bank_ends_in_a_forced_transfer(w: World) -> None:
    served = to_the_demand(w, w.a)
    assert served == date(2026, 12, 2)
    inquire(w, w.a, served, "50000.00")
    w.act(
        actions.mark_case,
        actor=w.officer,
        case_id=w.a,
        today=served,
        flag="malicious",
        reason="有能力缴纳而拒不缴纳",
    )
    # The demand's 10 working days run to Wed 16 Dec: until then the employer may state its case.
    deadline = date(2026, 12, 16)
    with pytest.raises(ActionRefused, match=r"may state its case until 2026-12-16"):
        w.act(
            actions.record_statement,
            actor=w.officer,
            case_id=w.a,
            today=deadline,
            kind="none_made",
            received_on=deadline,
            summary="未收到",
            policy=w.store.policy,
        )
    nights(w, served, deadline + timedelta(days=3))
    assert "forced_transfer" not in w.steps(w.a)
    assert w.events(w.a, "approval_requested") == []
    waiting = decision(w, w.a, deadline + timedelta(days=3))
    assert (waiting["action"], waiting["step"]) == ("wait", "forced_transfer")
    assert "precondition 'statement_heard' not met" in str(waiting["reason"])

    heard = deadline + timedelta(days=4)  # Sun 20 Dec
    w.act(
        actions.record_statement,
        actor=w.officer,
        case_id=w.a,
        today=heard,
        kind="none_made",
        received_on=heard,
        summary="催告书期限届满，单位未提出陈述、申辩",
        policy=w.store.policy,
    )
    w.night(heard)
    (asked,) = w.events(w.a, "approval_requested")
    assert asked.step == "forced_transfer" and asked.on_date == heard
    approve(w, w.a, "forced_transfer", heard + timedelta(days=1))
    w.night(heard + timedelta(days=1))
    assert w.steps(w.a)[-2:] == ["enforcement_demand", "forced_transfer"]

    # The decision and the notice to the bank are printed and go out; the bank moves the whole
    # amount the decision ordered: the case is paid.
    print_all(w, w.a, "forced_transfer")
    executed = heard + timedelta(days=1)
    with w.store.session() as session:
        due = owed(session, w.case(w.a), executed, w.store.policy).total_due
    w.act(
        actions.record_transfer_execution,
        actor=w.officer,
        case_id=w.a,
        today=executed,
        result="full",
        amount=Decimal(due) / 100,
        executed_on=executed,
        reference="ICBC-HZ-20261221-0001",
        bank_name="中国银行天津和平支行",
        account_number="6216601234567890",
        policy=w.store.policy,
    )
    assert w.case(w.a).status == "closed_paid"


def test_a_short_balance_leads_to_collateral_an_agreement_and_the_court(w: World) -> None:
    served = to_the_demand(w, w.a)
    inquire(w, w.a, served, "1000.00")
    # The employer states its case in time; the officer reviews it.
    statement = w.act(
        actions.record_statement,
        actor=w.officer,
        case_id=w.a,
        today=date(2026, 12, 9),
        kind="statement",
        received_on=date(2026, 12, 9),
        summary="经营困难，请求分期缴纳",
        policy=w.store.policy,
    )
    w.act(
        actions.review_statement,
        actor=w.supervisor,
        case_id=w.a,
        today=date(2026, 12, 10),
        statement_id=statement.id,
        outcome="partly",
        note="可提供担保后分期缴纳",
    )
    asked_on = until(w, served, lambda: bool(w.events(w.a, "approval_requested")))
    assert asked_on == date(2026, 12, 17)  # the day after the demand's deadline
    approve(w, w.a, "collateral_demand", asked_on)
    w.night(asked_on + timedelta(days=1))
    assert w.steps(w.a)[-1] == "collateral_demand"

    signed = date(2026, 12, 28)
    guarantee = w.act(
        actions.record_guarantee,
        actor=w.officer,
        case_id=w.a,
        today=signed,
        kind="mortgage",
        asset="和平区南京路1号厂房",
        appraised_value=Decimal("80000.00"),
        registration_number="津(2026)和平区不动产证明第0012345号",
        registered_on=signed,
    )
    w.act(
        actions.sign_agreement,
        actor=w.officer,
        case_id=w.a,
        today=signed,
        signed_on=signed,
        instalments=[
            (date(2027, 1, 29), Decimal("5000.00")),
            (date(2027, 2, 26), Decimal("6000.00")),
        ],
        guarantee_id=guarantee.id,
        policy=w.store.policy,
    )
    w.night(signed)
    held = decision(w, w.a, signed + timedelta(days=1))
    assert held["action"] == "hold"
    assert "next instalment due 2027-01-29" in str(held["reason"])

    # The first instalment is paid on time, the second never.
    w.act(
        actions.record_payment,
        actor=w.officer,
        case_id=w.a,
        today=date(2027, 1, 28),
        amount=Decimal("5000.00"),
        paid_on=date(2027, 1, 28),
        reference="BANK-A-0128",
        policy=w.store.policy,
    )
    nights(w, date(2027, 1, 28), date(2027, 2, 27))
    (broken,) = w.events(w.a, "agreement_breached")
    assert broken.on_date == date(2027, 2, 27)

    # Escalation resumes, but the court only once the employer's time to appeal has run out.
    before = decision(w, w.a, COURT_OPENS - timedelta(days=1))
    assert (before["action"], before["step"]) == ("wait", "court_application")
    assert "precondition 'appeal_periods_closed' not met" in str(before["reason"])
    assert before["due_on"] == str(COURT_OPENS)
    w.night(date(2027, 3, 1))
    w.night(COURT_OPENS - timedelta(days=1))
    assert [e.step for e in w.events(w.a, "approval_requested")] == ["collateral_demand"]
    w.night(COURT_OPENS)
    asked = [e for e in w.events(w.a, "approval_requested") if e.step == "court_application"]
    assert [e.on_date for e in asked] == [COURT_OPENS]
    approve(w, w.a, "court_application", COURT_OPENS)
    w.night(COURT_OPENS + timedelta(days=1))
    assert w.steps(w.a)[-1] == "court_application"


def test_a_lawsuit_filed_midway_freezes_enforcement_until_the_court_rules(w: World) -> None:
    served = to_the_demand(w, w.b)
    inquire(w, w.b, served, "50000.00")
    w.act(
        actions.mark_case,
        actor=w.officer,
        case_id=w.b,
        today=served,
        flag="malicious",
        reason="拒不缴纳",
    )
    lawsuit = w.act(
        actions.record_challenge,
        actor=w.officer,
        case_id=w.b,
        today=date(2026, 12, 10),
        kind="lawsuit",
        filed_on=date(2026, 12, 10),
        body="天津市和平区人民法院",
        reference="(2026)津0101行初456号",
        against="order_to_pay",
    )
    w.act(
        actions.record_statement,
        actor=w.officer,
        case_id=w.b,
        today=date(2026, 12, 17),
        kind="none_made",
        received_on=date(2026, 12, 17),
        summary="期限内未提出陈述、申辩",
        policy=w.store.policy,
    )
    nights(w, served, date(2027, 1, 20))
    assert w.events(w.b, "approval_requested") == []
    frozen = decision(w, w.b, date(2027, 1, 20))
    assert (frozen["action"], frozen["step"]) == ("wait", "forced_transfer")
    assert "lawsuit (2026)津0101行初456号 filed 2026-12-10 awaits its outcome" in str(
        frozen["reason"]
    )

    w.act(
        actions.record_challenge_outcome,
        actor=w.supervisor,
        case_id=w.b,
        today=date(2027, 1, 21),
        challenge_id=lawsuit.id,
        outcome="upheld",
        decided_on=date(2027, 1, 21),
        note="驳回原告诉讼请求",
    )
    w.night(date(2027, 1, 21))
    (asked,) = w.events(w.b, "approval_requested")
    assert (asked.step, asked.on_date) == ("forced_transfer", date(2027, 1, 21))
