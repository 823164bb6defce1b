"""Collateral and deferred-payment agreements: what an officer records, how the employer's money
settles the instalments, a missed instalment breaching the agreement, and where officers see it."""

from __future__ import annotations

from collections.abc import Iterator
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
from cases.access import Actor, Role
from cases.actions import ActionRefused
from cases.agreement_nights import (
    agreements_night,
    load_agreement_facts,
    settle_instalments,
)
from cases.decide import AgreementFact
from cases.importers import PaymentRow
from cases.models import Guarantee, Instalment, Notice, PaymentAgreement
from cases.payments import check_payments, import_payments
from cases.worklist import officer_queue
from tests.factories import CODES, add_open_cases
from tests.integration.casework_world import World, make_world
from tests.integration.test_web_security import HTML, make_site

SIGNED = date(2026, 11, 20)  # day 66 of case A's arrears (10,000.00 due 2026-09-15)
DEMANDED = date(2026, 11, 10)
FIRST, SECOND = date(2026, 12, 15), date(2027, 1, 15)
runner = CliRunner()


@pytest.fixture
def w(store: App, tmp_path: Path) -> World:
    return make_world(store, tmp_path)


def demand(store: App, case_id: int, issued_on: date = DEMANDED, status: str = "printed") -> None:
    """The collateral demand (提供担保通知书) the agreement answers."""
    with store.session() as session:
        session.add(
            Notice(
                case_id=case_id,
                business_key=f"{case_id}:collateral_demand:letter:{issued_on}",
                step="collateral_demand",
                level=9,
                channel="letter",
                document_type="collateral_demand",
                status=status,
                issued_on=issued_on,
            )
        )


def guarantee(w: World, case_id: int, **fields: Any) -> Guarantee:
    values: dict[str, Any] = {
        "actor": w.officer,
        "case_id": case_id,
        "today": SIGNED,
        "kind": "mortgage",
        "asset": "和平区南京路88号厂房",
        "appraised_value": Decimal("800000.00"),
        "registration_number": "津(2026)和平区不动产证明第0012345号",
        "registered_on": date(2026, 11, 18),
        "registered_with": "天津市不动产登记中心",
        **fields,
    }
    return w.act(actions.record_guarantee, **values)


def sign(w: World, case_id: int, **fields: Any) -> PaymentAgreement:
    values: dict[str, Any] = {
        "actor": w.officer,
        "case_id": case_id,
        "today": SIGNED,
        "signed_on": SIGNED,
        "instalments": [(FIRST, Decimal("4000.00")), (SECOND, Decimal("6000.00"))],
        "policy": w.store.policy,
        **fields,
    }
    return w.act(actions.sign_agreement, **values)


def pay(w: World, case_id: int, amount: str, paid_on: date, reference: str) -> None:
    w.act(
        actions.record_payment,
        actor=w.officer,
        case_id=case_id,
        today=paid_on,
        amount=Decimal(amount),
        paid_on=paid_on,
        reference=reference,
        policy=w.store.policy,
    )


def refused(w: World, action: Any, **fields: Any) -> ActionRefused:
    with pytest.raises(ActionRefused) as caught:
        w.act(action, **fields)
    return caught.value


def schedule(store: App, agreement_id: int) -> list[tuple[int, int, str, date | None]]:
    with store.session() as session:
        return [
            (i.seq, i.paid_fen, i.status, i.settled_on)
            for i in session.execute(
                select(Instalment)
                .where(col(Instalment.agreement_id) == agreement_id)
                .order_by(col(Instalment.seq))
            ).scalars()
        ]


def agreement_row(store: App, agreement_id: int) -> PaymentAgreement:
    with store.session() as session:
        row = session.get(PaymentAgreement, agreement_id)
        assert row is not None
        return row


def settle(store: App, as_of: date) -> None:
    with store.session() as session:
        agreements_night(session, as_of=as_of)


def facts(store: App, case_id: int, as_of: date) -> AgreementFact | None:
    with store.session() as session:
        return load_agreement_facts(session, [case_id], as_of).get(case_id)


# ---------------------------------------------------------------------------------- guarantees


def test_a_guarantee_is_registered_and_released_with_a_reason(w: World) -> None:
    g = guarantee(w, w.a)
    (event,) = w.events(w.a, "collateral_registered")
    assert event.data["registration_number"] == "津(2026)和平区不动产证明第0012345号"
    assert event.data["appraised_value"] == "800000.00" and event.data["kind"] == "mortgage"
    release = {"actor": w.officer, "case_id": w.a, "today": SIGNED, "guarantee_id": g.id}
    assert refused(w, actions.release_guarantee, **release, reason=" ").field == "reason"
    released = w.act(actions.release_guarantee, **release, reason="抵押登记已注销")
    assert released.status == "released"
    (event,) = w.events(w.a, "collateral_released")
    assert event.data["reason"] == "抵押登记已注销"
    again = refused(w, actions.release_guarantee, **release, reason="再次解除")
    assert (again.field, again.reason) == ("guarantee", f"guarantee {g.id} is already released")


def test_a_guarantee_is_refused_with_the_field_to_correct(w: World) -> None:
    cases = [
        ({"kind": "lien"}, "kind", "'lien' is not one of mortgage, pledge"),
        ({"asset": "  "}, "asset", "required: the mortgaged or pledged asset"),
        ({"appraised_value": Decimal("0")}, "appraised_value", "the amount must be more than"),
        ({"registration_number": ""}, "registration_number", "required: the number"),
        ({"registered_on": date(2026, 11, 21)}, "registered_on", "is after today (2026-11-20)"),
    ]
    for fields, field, reason in cases:
        error = refused(w, actions.record_guarantee, **_guarantee_fields(w, **fields))
        assert error.field == field and reason in error.reason, (fields, error)
    w.act(actions.record_guarantee, **_guarantee_fields(w))
    twin = refused(w, actions.record_guarantee, **_guarantee_fields(w))
    assert twin.field == "registration_number" and "already recorded" in twin.reason
    pay(w, w.b, "11000.00", SIGNED, "B-CLOSE")  # B pays everything: its case closes
    closed = refused(w, actions.record_guarantee, **_guarantee_fields(w, case_id=w.b))
    assert closed.field == "case" and closed.reason.endswith("cannot record a guarantee")
    with w.store.session() as session:
        assert len(session.execute(select(Guarantee)).all()) == 1


def _guarantee_fields(w: World, **fields: Any) -> dict[str, Any]:
    return {
        "actor": w.officer,
        "case_id": w.a,
        "today": SIGNED,
        "kind": "pledge",
        "asset": "天津甲商贸有限公司持有的股权",
        "appraised_value": Decimal("50000.00"),
        "registration_number": "津市监股质登字[2026]第88号",
        "registered_on": SIGNED,
        **fields,
    }


# ---------------------------------------------------------------------------------- agreements


def test_an_agreement_needs_the_collateral_demand_first(w: World) -> None:
    error = refused(w, actions.sign_agreement, **_sign_fields(w))
    assert error.field == "case"
    assert error.reason == (
        f"no collateral demand was issued on case {w.a} by {SIGNED}: an agreement answers "
        "that demand"
    )
    demand(w.store, w.a, issued_on=date(2026, 11, 25))  # issued after the signing: no answer
    assert refused(w, actions.sign_agreement, **_sign_fields(w)).field == "case"
    demand(w.store, w.a, status="canceled")  # a demand cancelled is no demand
    assert refused(w, actions.sign_agreement, **_sign_fields(w)).field == "case"
    demand(w.store, w.a, issued_on=date(2026, 11, 9))
    assert sign(w, w.a).status == "active"


def test_a_schedule_is_refused_with_its_reason(w: World) -> None:
    demand(w.store, w.a)
    cases = [
        ([], "required: at least one instalment"),
        (
            [(SIGNED, Decimal("10000.00"))],
            f"instalment 1 falls due on {SIGNED}, not after the signing on {SIGNED}",
        ),
        (
            [(SECOND, Decimal("4000.00")), (FIRST, Decimal("6000.00"))],
            f"instalment 2 falls due on {FIRST}, not after instalment 1 ({SECOND})",
        ),
        (
            [(FIRST, Decimal("4000.00")), (FIRST, Decimal("6000.00"))],
            f"instalment 2 falls due on {FIRST}, not after instalment 1 ({FIRST})",
        ),
        (
            [(FIRST, Decimal("0")), (SECOND, Decimal("10000.00"))],
            "instalment 1: ¥0.00: the amount must be more than zero",
        ),
        (
            [(FIRST, Decimal("4000.001")), (SECOND, Decimal("6000.00"))],
            "instalment 1: 4000.001 is not an amount of yuan with at most two decimals",
        ),
        (
            [(FIRST, Decimal("4000.00")), (SECOND, Decimal("5999.99"))],
            "the instalments add up to ¥9999.99, less than the principal of ¥10000.00 "
            f"outstanding when {SIGNED} began",
        ),
    ]
    for instalments, reason in cases:
        error = refused(w, actions.sign_agreement, **_sign_fields(w, instalments=instalments))
        assert (error.field, error.reason) == ("instalments", reason)
    with w.store.session() as session:
        assert session.execute(select(PaymentAgreement)).first() is None
    # Money paid before the signing lowers the principal the schedule must cover.
    pay(w, w.a, "2000.00", date(2026, 11, 19), "A-BEFORE")
    lower = [(FIRST, Decimal("3000.00")), (SECOND, Decimal("5000.00"))]
    assert sign(w, w.a, instalments=lower).total_fen == 8000_00


def test_one_agreement_runs_at_a_time_on_an_open_case_with_its_own_guarantee(w: World) -> None:
    demand(w.store, w.a)
    demand(w.store, w.b)
    other = guarantee(w, w.b)
    wrong = refused(w, actions.sign_agreement, **_sign_fields(w, guarantee_id=other.id))
    assert (wrong.field, wrong.reason) == ("guarantee", f"case {w.a} has no guarantee {other.id}")
    mine = guarantee(w, w.a)
    w.act(
        actions.release_guarantee,
        actor=w.officer,
        case_id=w.a,
        today=SIGNED,
        guarantee_id=mine.id,
        reason="登记错误，重新登记",
    )
    gone = refused(w, actions.sign_agreement, **_sign_fields(w, guarantee_id=mine.id))
    assert gone.field == "guarantee" and "is released: an agreement needs one in force" in (
        gone.reason
    )
    fresh = guarantee(w, w.a, registration_number="津(2026)和平区不动产证明第0012399号")
    agreement = sign(w, w.a, guarantee_id=fresh.id)
    assert agreement.guarantee_id == fresh.id
    (signed,) = w.events(w.a, "agreement_signed")
    assert signed.data["total"] == "10000.00" and signed.data["principal"] == "10000.00"
    assert [i["due_on"] for i in signed.data["instalments"]] == [str(FIRST), str(SECOND)]
    twice = refused(w, actions.sign_agreement, **_sign_fields(w))
    assert (twice.field, twice.reason) == (
        "case",
        f"the agreement signed on {SIGNED} is still running on case {w.a}",
    )
    held = refused(
        w,
        actions.release_guarantee,
        actor=w.officer,
        case_id=w.a,
        today=SIGNED,
        guarantee_id=fresh.id,
        reason="提前解除",
    )
    assert held.field == "guarantee" and "still running" in held.reason
    pay(w, w.b, "11000.00", SIGNED, "B-CLOSE")
    closed = refused(w, actions.sign_agreement, **_sign_fields(w, case_id=w.b))
    assert closed.field == "case" and "cannot sign a deferred-payment agreement" in closed.reason
    with pytest.raises(actions.CaseNotFound):
        w.act(actions.sign_agreement, **_sign_fields(w, case_id=w.hexi))


def _sign_fields(w: World, **fields: Any) -> dict[str, Any]:
    return {
        "actor": w.officer,
        "case_id": w.a,
        "today": SIGNED,
        "signed_on": SIGNED,
        "instalments": [(FIRST, Decimal("4000.00")), (SECOND, Decimal("6000.00"))],
        "policy": w.store.policy,
        **fields,
    }


def test_money_paid_on_the_signing_day_is_not_counted_twice(w: World) -> None:
    """4,000.00 paid on the day of signing counts against the first instalment, so the schedule
    must still cover the 10,000.00 owed when that day began, not the 6,000.00 left after it."""
    demand(w.store, w.a)
    pay(w, w.a, "4000.00", SIGNED, "BANK-SIGNING-DAY")
    short = [(FIRST, Decimal("2000.00")), (SECOND, Decimal("4000.00"))]
    error = refused(w, actions.sign_agreement, **_sign_fields(w, instalments=short))
    assert error.reason == (
        "the instalments add up to ¥6000.00, less than the principal of ¥10000.00 "
        f"outstanding when {SIGNED} began"
    )
    agreement = sign(w, w.a)  # 4,000.00 + 6,000.00
    assert agreement.id is not None
    settle(w.store, SIGNED)
    assert [row[2] for row in schedule(w.store, agreement.id)] == ["paid", "due"]


# ---------------------------------------------------------------------------- the money follows


def test_payments_settle_the_instalments_and_complete_the_agreement(w: World) -> None:
    demand(w.store, w.a)
    pay(w, w.a, "500.00", date(2026, 11, 19), "A-0")  # before the signing: not an instalment
    agreement = sign(
        w, w.a, instalments=[(FIRST, Decimal("4000.00")), (SECOND, Decimal("6000.00"))]
    )
    aid = agreement.id or 0
    pay(w, w.a, "2500.00", date(2026, 12, 1), "A-1")
    assert schedule(w.store, aid) == [(1, 2500_00, "due", None), (2, 0, "due", None)]
    pay(w, w.a, "3000.00", date(2026, 12, 14), "A-2")  # fills the first, 1,500 to the second
    assert schedule(w.store, aid) == [
        (1, 4000_00, "paid", date(2026, 12, 14)),
        (2, 1500_00, "due", None),
    ]
    settle(w.store, date(2026, 12, 20))  # the first was paid in time: nothing breached
    assert agreement_row(w.store, aid).status == "active"
    assert facts(w.store, w.a, date(2026, 12, 20)) == AgreementFact(
        aid, SIGNED, "active", SECOND, None
    )
    pay(w, w.a, "4500.00", date(2027, 1, 15), "A-3")  # on the due date: in time
    row = agreement_row(w.store, aid)
    assert (row.status, row.ended_on) == ("completed", date(2027, 1, 15))
    assert schedule(w.store, aid)[1] == (2, 6000_00, "paid", date(2027, 1, 15))
    (done,) = w.events(w.a, "agreement_completed")
    assert done.on_date == date(2027, 1, 15) and done.data["agreement_id"] == aid
    assert "all 2 instalment(s) paid, ¥10000.00 in all" in done.message
    settle(w.store, date(2027, 1, 16))
    assert len(w.events(w.a, "agreement_completed")) == 1
    assert facts(w.store, w.a, date(2027, 2, 1)) == AgreementFact(
        aid, SIGNED, "completed", None, None
    )
    assert not w.events(w.a, "agreement_breached")


def test_a_missed_instalment_breaches_the_agreement_once(w: World) -> None:
    demand(w.store, w.a)
    aid = sign(w, w.a).id or 0
    pay(w, w.a, "3000.00", date(2026, 12, 15), "A-1")  # 1,000.00 short on the due date
    settle(w.store, FIRST)  # the due date itself: still time to pay
    assert agreement_row(w.store, aid).status == "active"
    assert not w.events(w.a, "agreement_breached")
    night = date(2026, 12, 16)
    with w.store.session() as session:
        counts = agreements_night(session, as_of=night)
    assert (counts.breached, counts.cases) == (1, {w.a})
    row = agreement_row(w.store, aid)
    assert (row.status, row.ended_on) == ("breached", night)
    assert schedule(w.store, aid) == [(1, 3000_00, "missed", None), (2, 0, "due", None)]
    (event,) = w.events(w.a, "agreement_breached")
    assert event.on_date == night
    assert event.message == (
        f"deferred-payment agreement of {SIGNED} breached: instalment 1 of ¥4000.00 due "
        f"{FIRST} was not paid in full (¥1000.00 missing); escalation resumes"
    )
    with w.store.session() as session:
        again = agreements_night(session, as_of=night)
    assert (again.breached, again.instalments_changed, again.cases) == (0, 0, set())
    assert len(w.events(w.a, "agreement_breached")) == 1
    # The missing 1,000 paid late does not mend the breach, and logs nothing more.
    pay(w, w.a, "1000.00", date(2026, 12, 18), "A-2")
    assert agreement_row(w.store, aid).status == "breached"
    assert len(w.events(w.a, "agreement_breached")) == 1
    breached = AgreementFact(aid, SIGNED, "breached", FIRST, FIRST)
    assert facts(w.store, w.a, date(2026, 12, 20)) == breached
    # Each night as it was: before the signing nothing, up to the due date running.
    assert facts(w.store, w.a, date(2026, 11, 19)) is None
    assert facts(w.store, w.a, FIRST) == AgreementFact(aid, SIGNED, "active", FIRST, None)
    assert facts(w.store, w.a, night) == breached


def test_a_replayed_night_sees_the_agreement_as_it_was(w: World) -> None:
    demand(w.store, w.a)
    aid = sign(w, w.a).id or 0
    pay(w, w.a, "4000.00", date(2026, 12, 10), "A-1")
    settle(w.store, date(2027, 1, 20))  # nothing more paid: the second instalment was missed
    assert agreement_row(w.store, aid).status == "breached"
    (event,) = w.events(w.a, "agreement_breached")
    assert event.data["seq"] == 2 and event.on_date == date(2027, 1, 16)
    with w.store.session() as session:  # the night of 2026-12-05 again: no money yet, all due
        counts = settle_instalments(session, case_ids=[w.a], as_of=date(2026, 12, 5))
    assert counts.reopened == 1
    row = agreement_row(w.store, aid)
    assert (row.status, row.ended_on) == ("active", None)
    assert schedule(w.store, aid) == [(1, 0, "due", None), (2, 0, "due", None)]
    assert facts(w.store, w.a, date(2026, 12, 5)) == AgreementFact(
        aid, SIGNED, "active", FIRST, None
    )
    settle(w.store, date(2027, 1, 20))
    assert agreement_row(w.store, aid).status == "breached"
    assert len(w.events(w.a, "agreement_breached")) == 1


def test_the_bank_file_settles_the_instalments(w: World) -> None:
    demand(w.store, w.a)
    aid = sign(w, w.a).id or 0
    with w.store.session() as session:
        rows = [
            PaymentRow(2, CODES[0], 4000_00, date(2026, 12, 12), "3102202612120001"),
            PaymentRow(3, CODES[0], 2000_00, date(2026, 12, 20), "3102202612200002"),
        ]
        check = check_payments(session, rows, file_name="bank.csv", today=date(2026, 12, 21))
        import_payments(
            session=session,
            check=check,
            file_name="bank.csv",
            sha256="1" * 64,
            today=date(2026, 12, 21),
            policy=w.store.policy_ref,
        )
    assert schedule(w.store, aid) == [
        (1, 4000_00, "paid", date(2026, 12, 12)),
        (2, 2000_00, "due", None),
    ]
    assert agreement_row(w.store, aid).status == "active"


def test_a_new_agreement_after_a_breach_is_the_one_the_night_reads(w: World) -> None:
    demand(w.store, w.a)
    first = sign(w, w.a).id or 0
    settle(w.store, date(2026, 12, 16))  # nothing paid by the first due date
    again = date(2026, 12, 20)
    second = sign(
        w,
        w.a,
        today=again,
        signed_on=again,
        instalments=[(date(2027, 2, 1), Decimal("11000.00"))],
    ).id
    assert facts(w.store, w.a, date(2026, 12, 19)) == AgreementFact(
        first, SIGNED, "breached", FIRST, FIRST
    )
    assert facts(w.store, w.a, again) == AgreementFact(
        second or 0, again, "active", date(2027, 2, 1), None
    )
    with w.store.session() as session:
        rows = officer_queue(session, actor=w.officer, as_of=again).rows
    assert {r.case_id: r.agreement_missed_on for r in rows}[w.a] is None  # the new one runs


def test_the_case_closing_paid_completes_the_agreement(w: World) -> None:
    demand(w.store, w.a)
    aid = sign(w, w.a, instalments=[(FIRST, Decimal("5000.00")), (SECOND, Decimal("20000.00"))]).id
    pay(w, w.a, "11000.00", date(2026, 12, 1), "A-ALL")  # principal and late fee: case closes
    assert w.case(w.a).status == "closed_paid"
    row = agreement_row(w.store, aid or 0)
    assert (row.status, row.ended_on) == ("completed", date(2026, 12, 1))
    (done,) = w.events(w.a, "agreement_completed")
    assert "the case's debt is paid" in done.message
    settle(w.store, date(2027, 2, 1))
    assert agreement_row(w.store, aid or 0).status == "completed"
    assert not w.events(w.a, "agreement_breached")


# ---------------------------------------------------------------------------- where it shows


def test_the_queue_flags_a_breached_agreement(w: World) -> None:
    demand(w.store, w.a)
    sign(w, w.a)
    settle(w.store, date(2026, 12, 16))
    with w.store.session() as session:
        rows = {
            r.case_id: r
            for r in officer_queue(session, actor=w.officer, as_of=date(2026, 12, 16)).rows
        }
        assert rows[w.a].agreement_missed_on == FIRST
        assert rows[w.b].agreement_missed_on is None
        before = officer_queue(session, actor=w.officer, as_of=FIRST).rows
        assert all(r.agreement_missed_on is None for r in before)


def test_cli_round_trip(db_env: dict[str, str], store: App, tmp_path: Path) -> None:
    w = make_world(store, tmp_path)
    demand(store, w.a)

    def run(*args: str) -> Any:
        return runner.invoke(cli, list(args), env=db_env, catch_exceptions=False)

    added = run(
        "collateral", "add", str(w.a), "--kind", "pledge", "--asset", "股权",
        "--value", "120000.00", "--registration-number", "津股质[2026]8号",
        "--registered-on", "2026-11-18", "--registered-with", "天津市市场监督管理委员会",
        "--user", "officer1", "--as-of", str(SIGNED),
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    with store.session() as session:
        (gid,) = session.execute(select(col(Guarantee.id))).scalars()
    assert f"guarantee {gid} recorded on case {w.a}" in added.stdout
    short = run(
        "agreements", "sign", str(w.a), "--signed-on", str(SIGNED),
        "--instalment", "2026-12-15:4000", "--instalment", "2027-01-15:5000",
        "--as-of", str(SIGNED),
    )  # fmt: skip
    assert short.exit_code == 1
    assert short.stderr.strip() == (
        "error: instalments: the instalments add up to ¥9000.00, less than the principal of "
        f"¥10000.00 outstanding when {SIGNED} began"
    )
    bad = run("agreements", "sign", str(w.a), "--signed-on", str(SIGNED), "--instalment", "x")
    assert bad.exit_code == 2 and "2027-01-15:5000.00" in bad.stderr
    hidden = run(
        "agreements", "sign", str(w.hexi), "--signed-on", str(SIGNED),
        "--instalment", "2026-12-15:10000", "--user", "officer1", "--as-of", str(SIGNED),
    )  # fmt: skip
    assert hidden.exit_code == 1 and len(hidden.stderr.strip().splitlines()) == 1
    signed = run(
        "agreements", "sign", str(w.a), "--signed-on", str(SIGNED),
        "--instalment", "2026-12-15:4000.00", "--instalment", "2027-01-15:6,000.00",
        "--guarantee", str(gid), "--user", "officer1", "--as-of", str(SIGNED),
    )  # fmt: skip
    assert signed.exit_code == 0, signed.output
    assert "2 instalment(s), ¥10,000.00 in all" in signed.stdout
    pay(w, w.a, "1000.00", date(2026, 12, 10), "A-1")
    shown = run("agreements", "show", str(w.a), "--as-of", "2026-12-20")
    assert shown.exit_code == 0, shown.output
    assert "as of 2026-12-20: breached on 2026-12-16" in shown.stdout
    assert f"secured by guarantee {gid}" in shown.stdout
    assert "missed: instalment 1 due 2026-12-15, ¥3,000.00 short on its due date" in shown.stdout
    assert "missed" in shown.stdout and "津股质[2026]8号" in shown.stdout
    earlier = run("agreements", "show", str(w.a), "--as-of", "2026-12-12")
    assert "as of 2026-12-12: active" in earlier.stdout
    release = run(
        "collateral", "release", str(w.a), "--guarantee", str(gid), "--reason", " ",
        "--as-of", "2026-12-20",
    )  # fmt: skip
    assert release.exit_code == 1 and release.stderr.startswith("error: reason: required")


# ---------------------------------------------------------------------------- the queue page


@pytest.fixture
def site(store: App) -> Iterator[Any]:
    s = make_site(store)
    with s.client:
        s.add("wangfang", districts=["和平区"])
        yield s
    s.app.engine.dispose()


def test_the_queue_page_shows_the_breach(site: Any) -> None:
    store: App = site.app
    with store.session() as session:
        (case_id,) = add_open_cases(session, [("和平区", 100_000, date(2026, 7, 16))])
    demand(store, case_id, issued_on=date(2026, 9, 1))
    clerk = Actor(user_id=0, username="console:test", role=Role.ADMIN, districts=frozenset())
    with store.session() as session:
        actions.record_guarantee(
            session=session,
            actor=clerk,
            case_id=case_id,
            today=date(2026, 9, 10),
            kind="mortgage",
            asset="南京路88号厂房",
            appraised_value=Decimal("500000"),
            registration_number="津(2026)不动产证明第77号",
            registered_on=date(2026, 9, 9),
        )
        actions.sign_agreement(
            session=session,
            actor=clerk,
            case_id=case_id,
            today=date(2026, 9, 10),
            signed_on=date(2026, 9, 10),
            instalments=[(date(2026, 10, 8), Decimal("1000.00"))],
            policy=store.policy,
        )
    with store.session() as session:
        agreements_night(session, as_of=date(2026, 10, 9))
    site.login("wangfang")
    page = site.client.get("/queue", headers=HTML)
    assert page.status_code == 200
    assert "协议已违约：2026年10月8日到期的分期未按期缴纳" in page.text
    timeline = site.client.get(f"/cases/{case_id}", headers=HTML)
    assert timeline.status_code == 200
    assert "2026年9月10日签订延期缴费协议：共1期，合计 ¥1,000.00" in timeline.text
    assert (
        "登记抵押：南京路88号厂房，评估价值 ¥500,000.00，登记证明号 津(2026)不动产证明第77号，"
        "登记日期2026年9月9日" in timeline.text
    )
    assert (
        "延期缴费协议违约：第1期 ¥1,000.00（2026年10月8日到期）未足额缴纳（差 ¥1,000.00），恢复催缴"
        in timeline.text
    )
