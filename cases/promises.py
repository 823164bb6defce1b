"""Promises to pay (承诺缴费), and payments an officer sees on the employer's bank receipt.

A promise pauses escalation until its date (the case is ``promised``); one promise is open at a
time, so a new one withdraws the old. A receipt is applied exactly as the bank's payment file
would be (``cases.payments.apply_payments``): the same allocation, the same promises kept, the
same closing of a settled case; the file arriving later with the same bank serial number skips it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlmodel import Session, col

from cases import ledger, locks
from cases.access import Actor
from cases.accounts import case_position, load_books
from cases.casework import PolicyRef
from cases.messages import N_, Money, Term
from cases.models import Case, Payment, PromiseToPay
from cases.money import format_yuan
from cases.payments import NewPayment, apply_payments
from cases.policy import Policy
from cases.refusals import ActionRefused, acting_on, fen, log, not_after_today, still_open, text
from cases.states import CaseStatus, describe, transition

# The policy file sets no limit on how far ahead a promise may fall, so the agency's own: a
# quarter, the rhythm the city assesses districts by.
PROMISE_MAX_DAYS = 90
REFERENCE_MAX = 64
# A bank serial number seen before, by (from a bank file, the same employer's): each whole, so a
# translation can order its parts.
_ALREADY_RECORDED = {
    (True, True): N_(
        "bank reference {serial} is already recorded (from a bank file): {amount} paid on {day}"
    ),
    (False, True): N_(
        "bank reference {serial} is already recorded (from a receipt): {amount} paid on {day}"
    ),
    (True, False): N_(
        "bank reference {serial} is already recorded (from a bank file): another employer's payment"
    ),
    (False, False): N_(
        "bank reference {serial} is already recorded (from a receipt): another employer's payment"
    ),
}


def owed(session: Session, case: Case, today: date, policy: Policy) -> ledger.EmployerPosition:
    """The case's position as of ``today``: principal and late fee outstanding."""
    book = load_books(session, [case.employer_id])[case.employer_id]
    return case_position(book, case.id or 0, today, policy.fee_rules)


def record_promise(
    *,
    session: Session,
    actor: Actor,
    case_id: int,
    today: date,
    amount: Decimal,
    due_on: date,
    policy: Policy,
) -> PromiseToPay:
    """The employer promises ``amount`` yuan by ``due_on``: escalation pauses until then."""
    case = acting_on(session, actor, case_id, doing=N_("record a promise to pay"))
    still_open(case, doing=N_("record a promise to pay"))
    if case.status not in (CaseStatus.OPEN.value, CaseStatus.PROMISED.value):
        raise ActionRefused(
            "case",
            key=N_("case {case} is {status}: a promise is recorded once it is back on the ladder"),
            case=case_id,
            status=Term("status", case.status, describe(case.status)),
        )
    promised = fen("amount", amount)
    position = owed(session, case, today, policy)
    if promised > position.total_due:
        raise ActionRefused(
            "amount",
            key=N_(
                "{amount} is more than the {owed} owed as of {today} "
                "(principal {principal}, late fee {fee})"
            ),
            amount=Money(promised),
            owed=Money(position.total_due),
            today=today,
            principal=Money(position.principal_outstanding),
            fee=Money(position.fee_outstanding),
        )
    if due_on < today:
        raise ActionRefused(
            "due_on", key=N_("{day} is before today ({today})"), day=due_on, today=today
        )
    latest = today + timedelta(days=PROMISE_MAX_DAYS)
    if due_on > latest:
        raise ActionRefused(
            "due_on",
            key=N_("{day} is more than {days} days ahead: at the latest {latest}"),
            day=due_on,
            days=PROMISE_MAX_DAYS,
            latest=latest,
        )
    for old in session.execute(
        select(PromiseToPay).where(
            col(PromiseToPay.case_id) == case_id, col(PromiseToPay.status) == "open"
        )
    ).scalars():
        old.status = "withdrawn"
        session.add(old)
        log(
            session,
            case,
            kind="promise_withdrawn",
            actor=actor,
            today=today,
            message=(
                f"promise of ¥{format_yuan(old.amount_fen)} by {old.due_on} (made {old.made_on}) "
                f"withdrawn: {actor.username} recorded a new promise"
            ),
            data={
                "promise_id": old.id,
                "amount": format_yuan(old.amount_fen),
                "due_on": str(old.due_on),
                "made_on": str(old.made_on),
            },
        )
    promise = PromiseToPay(
        case_id=case_id,
        amount_fen=promised,
        due_on=due_on,
        made_on=today,
        status="open",
        recorded_by=actor.username,
    )
    session.add(promise)
    session.flush()
    terms = f"¥{format_yuan(promised)} by {due_on}"
    log(
        session,
        case,
        kind="promise_made",
        actor=actor,
        today=today,
        message=f"{actor.username} recorded the employer's promise to pay {terms}",
        data={
            "promise_id": promise.id,
            "amount": format_yuan(promised),
            "due_on": str(due_on),
            "total_due": format_yuan(position.total_due),
        },
    )
    if case.status == CaseStatus.OPEN.value:
        transition(
            session,
            case,
            CaseStatus.PROMISED,
            on_date=today,
            actor=actor.username,
            reason=f"the employer promised to pay {terms}; escalation pauses until then",
            data={"cause": "promise_made", "amount": format_yuan(promised), "due_on": str(due_on)},
        )
    return promise


@dataclass(frozen=True)
class Receipt:
    """What recording a receipt did, for the officer's confirmation."""

    reference: str
    amount: int  # fen
    total_due: int  # fen the case still owes after it
    case_closed: bool
    promises_kept: int


def record_payment(
    *,
    session: Session,
    actor: Actor,
    case_id: int,
    today: date,
    amount: Decimal,
    paid_on: date,
    reference: str,
    policy: Policy,
) -> Receipt:
    """A payment the officer saw on the employer's bank receipt, applied as the bank file would.

    Holds the imports lock, as a payment file does: two replays of one employer's payments at
    once would each miss the other's money.
    """
    case = acting_on(session, actor, case_id, doing=N_("record a payment"))
    paid = fen("amount", amount)
    not_after_today("paid_on", paid_on, today, what=N_("a payment"))
    serial = text("reference", reference, limit=REFERENCE_MAX)
    locks.hold(session, locks.IMPORTS, holder=f"{actor.username} receipt {serial}")
    seen = session.execute(
        select(Payment).where(col(Payment.reference) == serial)
    ).scalar_one_or_none()
    if seen is not None:
        same = seen.employer_id == case.employer_id
        raise ActionRefused(
            "reference",
            key=_ALREADY_RECORDED[seen.import_id is not None, same],
            serial=serial,
            amount=Money(seen.amount_fen),
            day=seen.paid_on,
        )
    was_open = case.closed_on is None
    applied = apply_payments(
        session,
        [NewPayment(case.employer_id, paid, paid_on, serial)],
        import_id=None,
        today=today,
        policy=PolicyRef(name=policy.name, version=policy.version, fee_rules=policy.fee_rules),
        actor=actor.username,
        source=f"bank receipt {serial} recorded by {actor.username}",
        note=f"{actor.username} saw the employer's bank receipt",
    )
    session.refresh(case)  # the money may have closed it, by statements the ORM did not see
    position = owed(session, case, today, policy)
    return Receipt(
        reference=serial,
        amount=paid,
        total_due=position.total_due,
        case_closed=was_open and case.closed_on is not None,
        promises_kept=applied.promises_kept,
    )
