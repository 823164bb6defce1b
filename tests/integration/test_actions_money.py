"""Officers' money actions: promises to pay, and payments seen on the employer's bank receipt."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import col

from arrears.wiring import App
from cases import actions
from cases.actions import ActionRefused, CaseNotFound
from cases.importers import PaymentRow
from cases.models import Payment, PromiseToPay
from cases.payments import check_payments
from tests.factories import CODES
from tests.integration.casework_world import FAR, World, day, make_world


@pytest.fixture
def w(store: App, tmp_path: Path) -> World:
    return make_world(store, tmp_path)


def promises(w: World, case_id: int) -> list[tuple[int, str]]:
    with w.store.session() as session:
        return [
            (p.amount_fen, p.status)
            for p in session.execute(
                select(PromiseToPay)
                .where(col(PromiseToPay.case_id) == case_id)
                .order_by(col(PromiseToPay.id))
            ).scalars()
        ]


# ---------------------------------------------------------------------------------- promises


def test_a_promise_pauses_the_ladder_and_a_new_one_replaces_it(w: World) -> None:
    w.nights(1, 7)
    w.park(w.a)
    promise = {"actor": w.officer, "case_id": w.a, "policy": w.store.policy}
    w.act(
        actions.record_promise,
        **promise,
        today=day(14),
        amount=Decimal("5000.00"),
        due_on=day(30),
    )
    case = w.case(w.a)
    assert case.status == "promised" and case.next_review_on is None
    (made,) = w.events(w.a, "promise_made")
    assert made.message == f"officer1 recorded the employer's promise to pay ¥5000.00 by {day(30)}"
    assert made.data["total_due"] == "10070.00"  # 10,000 + 14 days at 0.05%

    # The night of day 15 sends B its reminder letter; A's promise holds escalation.
    night = w.night(day(15))
    assert night.examined == 2 and night.steps == {"reminder_letter": 1}
    assert "reminder_letter" not in w.steps(w.a)

    w.act(
        actions.record_promise,
        **promise,
        today=day(20),
        amount=Decimal("10000"),
        due_on=day(35),
    )
    assert promises(w, w.a) == [(500_000, "withdrawn"), (1_000_000, "open")]
    (withdrawn,) = w.events(w.a, "promise_withdrawn")
    assert withdrawn.message.startswith(f"promise of ¥5000.00 by {day(30)} (made {day(14)})")
    assert w.case(w.a).status == "promised"  # still: only the promise changed

    # Nothing paid by day 35: the next night finds the promise broken and the ladder resumes.
    night = w.night(day(36))
    assert night.promises_broken == 1
    assert w.case(w.a).status == "open" and promises(w, w.a)[-1] == (1_000_000, "broken")


def test_a_promise_is_refused_with_the_reason(w: World) -> None:
    at = {"actor": w.officer, "case_id": w.a, "today": day(14), "policy": w.store.policy}
    cases = [
        (Decimal("0"), day(20), "^amount: ¥0.00: the amount must be more than zero$"),
        (Decimal("-5"), day(20), "^amount: ¥-5.00: the amount must be more than zero$"),
        (Decimal("10.005"), day(20), "^amount: ¥10.005 has more than two decimals"),
        (
            Decimal("10070.01"),
            day(20),
            "^amount: ¥10070.01 is more than the ¥10070.00 owed as of 2026-09-29 "
            "\\(principal ¥10000.00, late fee ¥70.00\\)$",
        ),
        (Decimal("100"), day(13), f"^due_on: {day(13)} is before today \\({day(14)}\\)$"),
        (
            Decimal("100"),
            day(14) + timedelta(days=91),
            f"^due_on: {day(14) + timedelta(days=91)} is more than 90 days ahead: at the latest "
            f"{day(14) + timedelta(days=90)}$",
        ),
    ]
    for amount, due_on, message in cases:
        with pytest.raises(ActionRefused, match=message):
            w.act(actions.record_promise, **at, amount=amount, due_on=due_on)
    # The whole debt, on the 90th day, is fine.
    w.act(
        actions.record_promise,
        **at,
        amount=Decimal("10070.00"),
        due_on=day(14) + timedelta(days=90),
    )
    w.act(actions.open_dispute, actor=w.officer, case_id=w.b, today=day(14), reason="有争议")
    with pytest.raises(ActionRefused, match=r"^case: case \d+ is disputed: a promise is recorded"):
        w.act(
            actions.record_promise,
            **{**at, "case_id": w.b},
            amount=Decimal("1"),
            due_on=day(20),
        )
    with pytest.raises(CaseNotFound):
        w.act(
            actions.record_promise,
            **{**at, "case_id": w.hexi},
            amount=Decimal("1"),
            due_on=day(20),
        )


# ---------------------------------------------------------------------------------- payments


def test_a_receipt_is_applied_like_the_bank_file_and_keeps_the_promise(w: World) -> None:
    at = {"actor": w.officer, "case_id": w.a, "policy": w.store.policy}
    w.act(actions.record_promise, **at, today=day(10), amount=Decimal("3000"), due_on=day(30))
    w.park(w.a)
    receipt = w.act(
        actions.record_payment,
        **at,
        today=day(12),
        amount=Decimal("3000.00"),
        paid_on=day(11),
        reference=" 3102202609260001 ",
    )
    # 3,000 to principal; 7,000 left accrues from the due date: 12 days -> ¥42.00, and the
    # 3,000 paid on day 11 (11 days late) ¥16.50: total owed 7,058.50.
    assert (receipt.reference, receipt.amount, receipt.total_due) == (
        "3102202609260001",
        300_000,
        705_850,
    )
    assert receipt.promises_kept == 1 and not receipt.case_closed
    (paid,) = w.events(w.a, "payment_received")
    assert paid.actor == "officer1"
    assert paid.message.startswith(f"payment ¥3000.00 on {day(11)} (ref 3102202609260001)")
    assert paid.message.endswith("officer1 saw the employer's bank receipt")
    assert promises(w, w.a) == [(300_000, "kept")]
    case = w.case(w.a)
    assert case.status == "open" and case.next_review_on is None  # back on the ladder
    with w.store.session() as session:
        stored = session.execute(select(Payment)).scalar_one()
        assert (stored.amount_fen, stored.paid_on, stored.import_id) == (300_000, day(11), None)
        # The bank's file arriving later with the same serial number skips it.
        check = check_payments(
            session,
            [PaymentRow(2, CODES[0], 300_000, day(11), "3102202609260001")],
            file_name="bank.csv",
            today=day(12),
        )
        assert (len(check.already), len(check.new), check.errors) == (1, 0, [])


def test_a_receipt_that_settles_the_debt_closes_the_case(w: World) -> None:
    w.nights(1, 7)
    w.park(w.a)
    receipt = w.act(
        actions.record_payment,
        actor=w.officer,
        case_id=w.a,
        today=day(14),
        amount=Decimal("10070.00"),
        paid_on=day(14),
        reference="B-0001",
        policy=w.store.policy,
    )
    assert receipt.case_closed and receipt.total_due == 0
    case = w.case(w.a)
    assert (case.status, case.closed_on) == ("closed_paid", day(14))
    assert w.events(w.a)[-1].message.startswith("open → closed (paid)")
    night = w.night(day(15))  # B gets its letter; the paid case is not decided again
    assert night.examined == 1 and night.steps == {"reminder_letter": 1}
    assert "reminder_letter" not in w.steps(w.a)


def test_a_receipt_is_refused_with_the_reason(w: World) -> None:
    at = {"actor": w.officer, "today": day(14), "policy": w.store.policy}
    w.act(
        actions.record_payment,
        **at,
        case_id=w.a,
        amount=Decimal("100"),
        paid_on=day(13),
        reference="B-7",
    )
    w.park(w.a, w.b)
    refusals = [
        (
            w.a,
            Decimal("100"),
            day(13),
            "B-7",
            "^reference: bank reference B-7 is already "
            f"recorded \\(from a receipt\\): ¥100.00 paid on {day(13)}$",
        ),
        (
            w.b,
            Decimal("100"),
            day(13),
            "B-7",
            "^reference: bank reference B-7 is already "
            "recorded \\(from a receipt\\): another employer's payment$",
        ),
        (w.a, Decimal("100"), day(15), "B-8", f"^paid_on: {day(15)} is after today"),
        (w.a, Decimal("0"), day(13), "B-8", "^amount: ¥0.00: the amount must be more than zero"),
        (w.a, Decimal("1.234"), day(13), "B-8", "^amount: ¥1.234 has more than two decimals"),
        (w.a, Decimal("1"), day(13), "  ", "^reference: required"),
    ]
    for case_id, amount, paid_on, reference, message in refusals:
        with pytest.raises(ActionRefused, match=message):
            w.act(
                actions.record_payment,
                **at,
                case_id=case_id,
                amount=amount,
                paid_on=paid_on,
                reference=reference,
            )
    with pytest.raises(CaseNotFound):
        w.act(
            actions.record_payment,
            **at,
            case_id=w.hexi,
            amount=Decimal("1"),
            paid_on=day(13),
            reference="B-9",
        )
    with w.store.session() as session:
        assert len(session.execute(select(Payment)).scalars().all()) == 1
    assert w.case(w.b).next_review_on == FAR  # nothing written, nothing to decide again
