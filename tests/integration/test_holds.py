"""Holds on enforcement: legal challenges and their outcomes, force-majeure deferrals and the late
fee they spare, and the write-off documents a supervisor decides on."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col
from typer.testing import CliRunner

from arrears.cli import app as cli
from arrears.wiring import App
from cases import actions
from cases.accounts import case_position, load_books
from cases.actions import ActionRefused, CaseNotFound, NotAllowed, WriteOffDocumentIn
from cases.approvals import pending_approvals
from cases.case_view import case_view
from cases.decide import ChallengeFact, DeferralFact
from cases.holds import load_challenge_facts, load_deferral_facts, open_holds, year_after
from cases.models import Allocation, Case, Deferral, LegalChallenge, WriteOffDocument
from tests.integration.casework_world import World, day, make_world

runner = CliRunner()


@pytest.fixture
def w(store: App, tmp_path: Path) -> World:
    return make_world(store, tmp_path)


def challenge(w: World, **fields: Any) -> LegalChallenge:
    values: dict[str, Any] = {
        "actor": w.officer,
        "case_id": w.a,
        "today": day(30),
        "kind": "reconsideration",
        "filed_on": day(20),
        "body": "天津市人民政府",
        "reference": "津政复〔2026〕88号",
        "against": "津和社保划〔2026〕第000001号",
    }
    values.update(fields)
    return w.act(actions.record_challenge, **values)


def outcome(w: World, which: int, **fields: Any) -> LegalChallenge:
    values: dict[str, Any] = {
        "actor": w.officer,
        "case_id": w.a,
        "today": day(60),
        "challenge_id": which,
        "outcome": "upheld",
        "decided_on": day(50),
        "note": "维持原决定",
    }
    values.update(fields)
    return w.act(actions.record_challenge_outcome, **values)


def defer(w: World, **fields: Any) -> Deferral:
    values: dict[str, Any] = {
        "actor": w.supervisor,
        "case_id": w.a,
        "today": day(5),
        "starts_on": day(6),
        "ends_on": day(15),
        "approval_reference": "津人社缓〔2026〕3号",
        "reason": "厂房火灾停产",
    }
    values.update(fields)
    return w.act(actions.grant_deferral, **values)


# ---------------------------------------------------------------------------- legal challenges


def test_a_challenge_is_recorded_and_its_refusals(w: World) -> None:
    filed = challenge(w)
    assert (filed.kind, filed.filed_on, filed.outcome, filed.recorded_by) == (
        "reconsideration",
        day(20),
        None,
        "officer1",
    )
    (event,) = w.events(w.a, "challenge_filed")
    assert event.data["reference"] == "津政复〔2026〕88号"
    assert event.data["against"] == "津和社保划〔2026〕第000001号"
    assert event.message == (
        "officer1 recorded the employer's administrative reconsideration 津政复〔2026〕88号 "
        f"filed with 天津市人民政府 on {day(20)} against 津和社保划〔2026〕第000001号: "
        "enforcement waits for its outcome"
    )
    refusals = [
        ({"kind": "appeal"}, r"^kind: 'appeal' is not one of reconsideration, lawsuit$"),
        (
            {"filed_on": day(31)},
            rf"^filed_on: {day(31)} is after today \({day(30)}\): a filing cannot be in the future",
        ),
        ({"body": "  "}, r"^body: required: write it as the document gives it$"),
        ({"reference": ""}, r"^reference: required: write it as the document gives it$"),
        (
            {},  # the same reference again while the first is open
            rf"^reference: challenge 津政复〔2026〕88号 is already recorded \(filed {day(20)}\)",
        ),
    ]
    for fields, reason in refusals:
        with pytest.raises(ActionRefused, match=reason):
            challenge(w, **fields)
    with pytest.raises(CaseNotFound):
        challenge(w, actor=w.hexi_officer)
    # Another case may carry its own challenge with that number; a lawsuit next to it is fine.
    challenge(w, case_id=w.b)
    challenge(w, kind="lawsuit", body="天津市和平区人民法院", reference="（2026）津0101行初5号")
    with w.store.session() as session:
        assert len(session.execute(select(LegalChallenge)).all()) == 3


def test_a_revoked_decision_puts_the_case_on_hold_and_the_outcome_refusals(w: World) -> None:
    first = challenge(w)
    assert first.id is not None
    refusals = [
        ({"challenge_id": 999}, rf"^challenge: case {w.a} has no legal challenge 999$"),
        ({"outcome": "quashed"}, r"^outcome: 'quashed' is not one of upheld, revoked, changed"),
        (
            {"decided_on": day(19)},
            rf"^decided_on: {day(19)} is before the challenge was filed \({day(20)}\)$",
        ),
        ({"decided_on": day(61)}, rf"^decided_on: {day(61)} is after today \({day(60)}\)"),
    ]
    for fields, reason in refusals:
        with pytest.raises(ActionRefused, match=reason):
            outcome(w, first.id, **fields)
    with pytest.raises(ActionRefused, match=rf"^challenge: case {w.b} has no legal challenge"):
        outcome(w, first.id, case_id=w.b)
    decided = outcome(w, first.id, outcome="revoked", note="撤销划拨决定")
    assert (decided.outcome, decided.decided_on) == ("revoked", day(50))
    case = w.case(w.a)
    assert case.status == "on_hold"
    (held,) = w.events(w.a, "status_changed")
    assert held.message == (
        "open → on hold: the decision was revoked on administrative reconsideration "
        "津政复〔2026〕88号: an officer reviews the case"
    )
    assert held.data["challenge_id"] == first.id
    (ruling,) = w.events(w.a, "challenge_decided")
    assert ruling.data["note"] == "撤销划拨决定"
    with pytest.raises(
        ActionRefused,
        match=rf"^challenge: challenge 津政复〔2026〕88号 was already decided on {day(50)}",
    ):
        outcome(w, first.id)
    # Decided, the number may be used again; a second revocation leaves the case on hold.
    again = challenge(w, filed_on=day(55), today=day(60), kind="lawsuit")
    assert again.id is not None
    outcome(w, again.id, outcome="changed", decided_on=day(58))
    assert w.case(w.a).status == "on_hold"
    assert len(w.events(w.a, "status_changed")) == 1


def test_an_upheld_or_withdrawn_challenge_leaves_the_case_as_it_was(w: World) -> None:
    upheld = challenge(w)
    withdrawn = challenge(w, case_id=w.b, reference="津政复〔2026〕89号")
    assert upheld.id is not None and withdrawn.id is not None
    outcome(w, upheld.id)
    outcome(w, withdrawn.id, case_id=w.b, outcome="withdrawn", note=None)
    assert (w.case(w.a).status, w.case(w.b).status) == ("open", "open")
    assert w.events(w.a, "status_changed") == []


def test_challenge_facts_are_the_earliest_open_on_the_night(w: World) -> None:
    early = challenge(w, filed_on=day(5), today=day(5), reference="R-1")
    challenge(w, filed_on=day(10), today=day(10), reference="R-2", kind="lawsuit")
    assert early.id is not None
    outcome(w, early.id, decided_on=day(20), today=day(20))

    def facts(as_of: date) -> dict[int, ChallengeFact]:
        with w.store.session() as session:
            return load_challenge_facts(session, [w.a, w.b], as_of)

    r1 = ChallengeFact("reconsideration", day(5), "R-1")
    r2 = ChallengeFact("lawsuit", day(10), "R-2")
    assert facts(day(4)) == {}  # not filed yet
    assert facts(day(5)) == {w.a: r1}
    assert facts(day(12)) == {w.a: r1}  # the earliest of the two open ones
    assert facts(day(19)) == {w.a: r1}  # decided on day 20: still open on day 19
    assert facts(day(20)) == {w.a: r2}  # decided that day: closed at its end
    assert facts(day(90)) == {w.a: r2}


# ---------------------------------------------------------------------------- deferrals


def test_a_year_after_handles_the_29th_of_february() -> None:
    assert year_after(date(2026, 3, 1)) == date(2027, 3, 1)
    assert year_after(date(2028, 2, 29)) == date(2029, 2, 28)
    assert year_after(date(2027, 2, 28)) == date(2028, 2, 28)


def test_a_deferral_is_a_supervisors_and_its_refusals(w: World) -> None:
    with pytest.raises(NotAllowed):
        defer(w, actor=w.officer)
    refusals = [
        (
            {"starts_on": day(10), "ends_on": day(9)},
            rf"^ends_on: {day(9)} is before the deferral starts \({day(10)}\)$",
        ),
        (
            {"starts_on": date(2026, 10, 1), "ends_on": date(2027, 10, 1)},
            r"^ends_on: a deferral lasts at most a year: from 2026-10-01 it ends before "
            r"2027-10-01$",
        ),
        (
            {"starts_on": date(2028, 2, 29), "ends_on": date(2029, 2, 28)},
            r"^ends_on: a deferral lasts at most a year: from 2028-02-29 it ends before "
            r"2029-02-28$",
        ),
        ({"approval_reference": " "}, r"^approval_reference: required: write it as the document"),
        ({"reason": ""}, r"^reason: required"),
    ]
    for fields, reason in refusals:
        with pytest.raises(ActionRefused, match=reason):
            defer(w, **fields)
    longest = defer(w, starts_on=date(2028, 2, 29), ends_on=date(2029, 2, 27))
    assert longest.status == "active"
    first = defer(w, starts_on=date(2026, 10, 1), ends_on=date(2027, 9, 30), case_id=w.b)
    assert first.recorded_by == "chief"
    with pytest.raises(
        ActionRefused,
        match=r"^starts_on: the case's deferral 津人社缓〔2026〕3号 already covers 2026-10-01 to "
        r"2027-09-30$",
    ):
        defer(w, case_id=w.b, starts_on=date(2027, 9, 30), ends_on=date(2027, 12, 31))
    (granted,) = w.events(w.b, "deferral_granted")
    assert granted.data["approval_reference"] == "津人社缓〔2026〕3号"
    assert (granted.data["starts_on"], granted.data["ends_on"]) == ("2026-10-01", "2027-09-30")


def test_ending_and_revoking_a_deferral(w: World) -> None:
    deferral = defer(w, starts_on=day(6), ends_on=day(30))
    assert deferral.id is not None
    at = {"actor": w.supervisor, "case_id": w.a, "deferral_id": deferral.id, "reason": "已复产"}
    refusals = [
        (
            {"today": day(20), "ended_on": day(5)},
            rf"^ended_on: {day(5)} is before the deferral starts \({day(6)}\): revoke it instead$",
        ),
        (
            {"today": day(40), "ended_on": day(30)},
            rf"^ended_on: the deferral ends on {day(30)} anyway",
        ),
        ({"today": day(20), "ended_on": day(21)}, rf"^ended_on: {day(21)} is after today"),
        (
            {"today": day(20), "ended_on": day(12), "deferral_id": 999},
            rf"^deferral: case {w.a} has no deferral 999$",
        ),
    ]
    for fields, reason in refusals:
        with pytest.raises(ActionRefused, match=reason):
            w.act(actions.end_deferral, **{**at, **fields})
    with pytest.raises(NotAllowed):
        w.act(
            actions.end_deferral, **{**at, "actor": w.officer, "today": day(20)}, ended_on=day(12)
        )
    ended = w.act(actions.end_deferral, **at, today=day(20), ended_on=day(12))
    assert (ended.status, ended.starts_on, ended.ends_on) == ("ended", day(6), day(12))
    (event,) = w.events(w.a, "deferral_ended")
    assert event.data["planned_end"] == str(day(30))
    with pytest.raises(
        ActionRefused, match=r"^deferral: the deferral 津人社缓〔2026〕3号 is ended"
    ):
        w.act(actions.revoke_deferral, **at, today=day(21))
    # The days after the early end are free again for a new deferral; its own days are not.
    with pytest.raises(ActionRefused, match=r"^starts_on: the case's deferral"):
        defer(w, today=day(21), starts_on=day(12), ends_on=day(40))
    later = defer(w, today=day(21), starts_on=day(13), ends_on=day(40))
    assert later.id is not None
    revoked = w.act(actions.revoke_deferral, **{**at, "deferral_id": later.id}, today=day(22))
    assert revoked.status == "revoked"
    assert len(w.events(w.a, "deferral_revoked")) == 1


def test_deferral_facts_the_one_in_force_else_the_next(w: World) -> None:
    first = defer(w, starts_on=day(10), ends_on=day(20))
    second = defer(w, starts_on=day(40), ends_on=day(50), approval_reference="津人社缓〔2026〕9号")
    assert first.id is not None and second.id is not None

    def facts(as_of: date) -> dict[int, DeferralFact]:
        with w.store.session() as session:
            return load_deferral_facts(session, [w.a, w.b], as_of)

    one = DeferralFact(day(10), day(20), "津人社缓〔2026〕3号")
    two = DeferralFact(day(40), day(50), "津人社缓〔2026〕9号")
    assert facts(day(5)) == {w.a: one}  # ahead
    assert facts(day(10)) == {w.a: one}
    assert facts(day(20)) == {w.a: one}  # its last day
    assert facts(day(21)) == {w.a: two}
    assert facts(day(50)) == {w.a: two}
    assert facts(day(51)) == {}
    w.act(
        actions.end_deferral,
        actor=w.supervisor,
        case_id=w.a,
        today=day(15),
        deferral_id=first.id,
        ended_on=day(14),
        reason="已复产",
    )
    assert facts(day(14)) == {w.a: DeferralFact(day(10), day(14), "津人社缓〔2026〕3号")}
    assert facts(day(15)) == {w.a: two}
    w.act(
        actions.revoke_deferral,
        actor=w.supervisor,
        case_id=w.a,
        today=day(16),
        deferral_id=second.id,
        reason="批准文件有误",
    )
    assert facts(day(15)) == {}


# ---------------------------------------------------------------------------- the late fee


def owed(w: World, case_id: int, as_of: date) -> tuple[int, int]:
    """(late fee outstanding, total due) of the case in fen, as every screen computes them."""
    with w.store.session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        book = load_books(session, [case.employer_id])[case.employer_id]
        pos = case_position(book, case_id, as_of, w.store.policy.fee_rules)
        view = case_view(session, w.officer, case_id, as_of=as_of, rules=w.store.policy.fee_rules)
        assert (view.fee_outstanding, view.total_due) == (pos.fee_outstanding, pos.total_due)
        return pos.fee_outstanding, pos.total_due


def test_no_late_fee_on_the_deferred_days(w: World) -> None:
    # 10,000.00 due 2026-09-15; on day 31 (2026-10-16) that is 31 days late:
    # 0.0005 x 1,000,000 x 31 = 15500 fen.
    assert owed(w, w.a, day(31)) == (15500, 1_015_500)
    # Deferred 2026-09-21 to 2026-09-30 (10 days): 21 days, 0.0005 x 1,000,000 x 21 = 10500.
    deferral = defer(w, starts_on=date(2026, 9, 21), ends_on=date(2026, 9, 30))
    assert owed(w, w.a, day(31)) == (10500, 1_010_500)
    assert owed(w, w.b, day(31)) == (15500, 1_015_500)  # another case's deferral spares nothing
    # Revoked, it spares nothing either.
    assert deferral.id is not None
    w.act(
        actions.revoke_deferral,
        actor=w.supervisor,
        case_id=w.a,
        today=day(31),
        deferral_id=deferral.id,
        reason="批准文件有误",
    )
    assert owed(w, w.a, day(31)) == (15500, 1_015_500)


def test_paying_the_deferred_total_settles_the_case(w: World) -> None:
    defer(w, starts_on=date(2026, 9, 21), ends_on=date(2026, 9, 30))
    w.act(
        actions.record_payment,
        actor=w.officer,
        case_id=w.a,
        today=day(31),
        amount=Decimal("10105.00"),
        paid_on=day(31),
        reference="BANK-0001",
        policy=w.store.policy,
    )
    assert w.case(w.a).status == "closed_paid"  # without the deferral, 55.00 would be owed


def test_a_deferral_granted_after_a_payment_applies_the_payment_again(w: World) -> None:
    # 10,120.00 paid on day 31 (2026-10-16): principal 1,000,000, then 12,000 of the 15,500 fen
    # late fee; 35.00 is still owed.
    w.act(
        actions.record_payment,
        actor=w.officer,
        case_id=w.a,
        today=day(31),
        amount=Decimal("10120.00"),
        paid_on=day(31),
        reference="BANK-0002",
        policy=w.store.policy,
    )
    assert owed(w, w.a, day(31)) == (3500, 3500)
    with w.store.session() as session:
        (stored,) = session.execute(select(Allocation)).scalars()
        assert (stored.principal_fen, stored.fee_fen, stored.credit_fen) == (1_000_000, 12000, 0)
    # Deferred 2026-09-21..09-30 after the fact: the fee owed on the payment day was 10,500, so
    # the payment settled everything with 15.00 to spare, and the case closes as paid.
    defer(
        w,
        today=day(32),
        starts_on=date(2026, 9, 21),
        ends_on=date(2026, 9, 30),
        policy=w.store.policy,
    )
    with w.store.session() as session:
        rows = session.execute(select(Allocation).order_by(col(Allocation.id))).scalars()
        assert [(r.principal_fen, r.fee_fen, r.credit_fen) for r in rows] == [
            (1_000_000, 10500, 0),
            (0, 0, 1500),
        ]
    assert w.case(w.a).status == "closed_paid"


def test_a_deferral_ended_early_spares_only_its_days_so_far(w: World) -> None:
    deferral = defer(w, starts_on=date(2026, 9, 21), ends_on=date(2026, 12, 31))
    # Open-ended to day 31: 2026-09-16..2026-09-20 = 5 days charged, 2500 fen.
    assert owed(w, w.a, day(31))[0] == 2500
    assert deferral.id is not None
    w.act(
        actions.end_deferral,
        actor=w.supervisor,
        case_id=w.a,
        today=day(31),
        deferral_id=deferral.id,
        ended_on=date(2026, 9, 30),
        reason="已复产",
    )
    assert owed(w, w.a, day(31))[0] == 10500  # 5 + 16 (10-01..10-16) = 21 days


# ---------------------------------------------------------------------------- write-off documents


def test_a_write_off_rests_on_documents(w: World) -> None:
    at = {"actor": w.officer, "case_id": w.a, "today": day(30), "reason": "已破产"}
    ruling = WriteOffDocumentIn(
        "bankruptcy_ruling", "天津市第二中级人民法院", "（2026）津02破12号", day(20)
    )
    with pytest.raises(ActionRefused, match=r"^documents: required: at least one document"):
        w.act(actions.propose_write_off, **at, documents=[])
    refusals = [
        ({"kind": "letter"}, r"^kind: 'letter' is not one of bankruptcy_ruling, deregistration_"),
        ({"issued_by": ""}, r"^issued_by: required: write it as the document gives it$"),
        ({"reference": " "}, r"^reference: required: write it as the document gives it$"),
        ({"issued_on": day(31)}, rf"^issued_on: {day(31)} is after today \({day(30)}\)"),
    ]
    for fields, reason in refusals:
        bad = replace(ruling, **fields)
        with pytest.raises(ActionRefused, match=reason):
            w.act(actions.propose_write_off, **at, documents=[ruling, bad])
    notice = WriteOffDocumentIn(
        "deregistration_notice", "天津市和平区市场监督管理局", "津和注销〔2026〕7号", day(25)
    )
    request = w.act(actions.propose_write_off, **at, documents=[ruling, notice])
    with w.store.session() as session:
        stored = session.execute(
            select(WriteOffDocument).order_by(col(WriteOffDocument.id))
        ).scalars()
        assert [(d.request_id, d.kind, d.reference) for d in stored] == [
            (request.id, "bankruptcy_ruling", "（2026）津02破12号"),
            (request.id, "deregistration_notice", "津和注销〔2026〕7号"),
        ]
        (pending,) = pending_approvals(session, actor=w.supervisor)
    assert [d.issued_by for d in pending.documents] == [
        "天津市第二中级人民法院",
        "天津市和平区市场监督管理局",
    ]
    (asked,) = w.events(w.a, "approval_requested")
    assert [d["reference"] for d in asked.data["documents"]] == [
        "（2026）津02破12号",
        "津和注销〔2026〕7号",
    ]
    assert "bankruptcy ruling （2026）津02破12号 of 天津市第二中级人民法院" in asked.message


# ---------------------------------------------------------------------------- the list and the CLI


def test_the_holds_list(w: World) -> None:
    challenge(w)
    defer(w, case_id=w.b, starts_on=day(6), ends_on=day(40))
    over = defer(w, starts_on=day(1), ends_on=day(3), today=day(2))
    assert over.id is not None
    with w.store.session() as session:
        lines = open_holds(session, actor=w.officer, today=day(30))
        assert {(h.case_id, h.what) for h in lines} == {(w.a, "reconsideration"), (w.b, "deferral")}
        assert open_holds(session, actor=w.hexi_officer, today=day(30)) == []
        assert open_holds(session, actor=w.supervisor, today=day(30), district="河西区") == []


def arrears(env: dict[str, str], *args: str) -> Any:
    return runner.invoke(cli, list(args), env=env, catch_exceptions=False)


def test_the_holds_commands(w: World, db_env: dict[str, str]) -> None:
    today = str(w.store.today())
    case = str(w.a)
    filed = arrears(
        db_env,
        "holds",
        "challenge",
        case,
        "--kind",
        "lawsuit",
        "--filed-on",
        today,
        "--body",
        "天津市和平区人民法院",
        "--reference",
        "（2026）津0101行初5号",
        "--user",
        "officer1",
    )
    assert filed.exit_code == 0, filed.output
    with w.store.session() as session:
        challenge_id = session.execute(select(col(LegalChallenge.id))).scalar_one()
    assert f"challenge {challenge_id} recorded on case {w.a}: lawsuit" in filed.stdout
    again = arrears(
        db_env,
        "holds",
        "challenge",
        case,
        "--kind",
        "lawsuit",
        "--filed-on",
        "2099-01-01",
        "--body",
        "x",
        "--reference",
        "y",
    )
    assert again.exit_code == 1
    assert "filed_on: 2099-01-01 is after today" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    decided = arrears(
        db_env,
        "holds",
        "outcome",
        case,
        "--challenge",
        str(challenge_id),
        "--outcome",
        "changed",
        "--decided-on",
        today,
        "--note",
        "变更为分期缴纳",
    )
    assert decided.exit_code == 0, decided.output
    assert f"case {w.a} is on hold for review" in decided.stdout
    as_officer = arrears(
        db_env,
        "holds",
        "defer",
        str(w.b),
        "--from",
        today,
        "--to",
        today,
        "--approval",
        "津人社缓〔2026〕3号",
        "--reason",
        "洪灾",
        "--user",
        "officer1",
    )
    assert as_officer.exit_code == 1 and "grant a deferral" in as_officer.stderr
    granted = arrears(
        db_env,
        "holds",
        "defer",
        str(w.b),
        "--from",
        today,
        "--to",
        "2099-01-01",
        "--approval",
        "津人社缓〔2026〕3号",
        "--reason",
        "洪灾",
        "--user",
        "chief",
    )
    assert granted.exit_code == 1 and "a deferral lasts at most a year" in granted.stderr
    granted = arrears(
        db_env,
        "holds",
        "defer",
        str(w.b),
        "--from",
        today,
        "--to",
        str(year_after(w.store.today()).replace(day=1)),
        "--approval",
        "津人社缓〔2026〕3号",
        "--reason",
        "洪灾",
        "--user",
        "chief",
    )
    assert granted.exit_code == 0, granted.output
    listed = arrears(db_env, "holds", "list", "--json", "--user", "chief")
    assert listed.exit_code == 0, listed.output
    assert '"hold": "deferral"' in listed.stdout and "津人社缓〔2026〕3号" in listed.stdout
    with w.store.session() as session:
        deferral_id = session.execute(select(col(Deferral.id))).scalar_one()
    ended = arrears(
        db_env,
        "holds",
        "end-deferral",
        str(w.b),
        "--deferral",
        str(deferral_id),
        "--on",
        today,
        "--reason",
        "已复产",
    )
    assert ended.exit_code == 0, ended.output
    assert f"last day {today}" in ended.stdout
    unknown = arrears(db_env, "holds", "list", "--district", "和平区", "--user", "nobody")
    assert unknown.exit_code == 1 and "no active user 'nobody'" in unknown.stderr
    missing = arrears(
        db_env,
        "holds",
        "end-deferral",
        "91120000000000000X",
        "--deferral",
        "1",
        "--on",
        today,
        "--reason",
        "x",
    )
    assert missing.exit_code == 1 and "no case of an employer with code" in missing.stderr
