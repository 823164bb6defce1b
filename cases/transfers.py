"""What the bank did with a forced-transfer notice (协助划拨通知书): full, partial or nothing.

The agency's forced-transfer decision and its notice to the bank order the bank to transfer what
the case owed on the day they were issued. The bank answers with what it transferred, under its
own serial number; that answer is recorded here. Money transferred is a payment like any other
(``cases.payments.apply_payments``, the path a bank file and an officer's receipt take): the same
allocation, the same promises kept, the same closing of a settled case.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlmodel import Session, col

from cases import locks, review
from cases.access import Actor
from cases.casework import PolicyRef
from cases.contacts import account_number_of
from cases.messages import N_, Money
from cases.models import Notice, Payment, TransferExecution
from cases.money import format_yuan
from cases.payments import NewPayment, apply_payments
from cases.policy import Policy
from cases.promises import REFERENCE_MAX, owed
from cases.refusals import ActionRefused, acting_on, choice, fen, log, not_after_today, text

TRANSFER_RESULTS = ("full", "partial", "none")
STEP = "forced_transfer"
# Both documents of the rung: the decision served on the employer and the notice to the bank.
DOCUMENTS = ("forced_transfer_decision", "bank_transfer_notice")


def transfer_notice(session: Session, case_id: int) -> Notice | None:
    """The case's latest notice to the bank, once the decision was issued with it; else None."""
    issued: dict[str, Notice] = {}
    for notice in session.execute(
        select(Notice)
        .where(
            col(Notice.case_id) == case_id,
            col(Notice.step) == STEP,
            col(Notice.channel) == "letter",
            col(Notice.document_type).in_(DOCUMENTS),
            col(Notice.document_number).is_not(None),
        )
        .order_by(col(Notice.issued_on), col(Notice.id))
    ).scalars():
        issued[notice.document_type or ""] = notice
    if set(issued) != set(DOCUMENTS):
        return None
    return issued["bank_transfer_notice"]


def record_transfer_execution(
    *,
    session: Session,
    actor: Actor,
    case_id: int,
    today: date,
    result: str,
    amount: Decimal,
    executed_on: date,
    reference: str,
    bank_name: str,
    account_number: str,
    policy: Policy,
    note: str | None = None,
) -> TransferExecution:
    """The bank's answer to the case's forced-transfer notice; money transferred is applied.

    The amount ordered is what the case owed (principal and late fee) on the notice's issue
    date: ``full`` is all of it, ``partial`` some, ``none`` nothing. Holds the imports lock, as
    any payment does.
    """
    doing = N_("record a forced transfer's result")
    case = acting_on(session, actor, case_id, doing=doing)
    notice = transfer_notice(session, case_id)
    if notice is None:
        raise ActionRefused(
            "case",
            key=N_(
                "case {case} has no forced-transfer decision and bank notice issued: "
                "the bank had nothing to execute"
            ),
            case=case_id,
        )
    choice("result", result, TRANSFER_RESULTS, kind="transfer")
    moved = fen("amount", amount, allow_zero=True)
    # One notice may be answered more than once (a partial transfer, then the rest): what it
    # still orders is its amount less what the bank already moved on it, and a notice carried
    # out in full takes no further answer.
    earlier = session.execute(
        select(
            col(TransferExecution.result),
            col(TransferExecution.requested_fen),
            col(TransferExecution.amount_fen),
        )
        .where(col(TransferExecution.notice_id) == notice.id)
        .order_by(col(TransferExecution.id))
    ).all()
    if any(r.result == "full" for r in earlier):
        raise ActionRefused(
            "result",
            key=N_("the bank notice {number} was already carried out in full"),
            number=notice.document_number,
        )
    if earlier:
        requested = earlier[-1].requested_fen - earlier[-1].amount_fen
    else:
        requested = owed(session, case, notice.issued_on, policy).total_due
    if result == "full" and moved != requested:
        raise ActionRefused(
            "amount",
            key=N_("{amount}: a full transfer is the {requested} the notice of {day} ordered"),
            amount=Money(moved),
            requested=Money(requested),
            day=notice.issued_on,
        )
    if result == "partial" and not 0 < moved < requested:
        raise ActionRefused(
            "amount",
            key=N_(
                "{amount}: a partial transfer is more than zero and less than the {requested} "
                "the notice of {day} ordered"
            ),
            amount=Money(moved),
            requested=Money(requested),
            day=notice.issued_on,
        )
    if result == "none" and moved != 0:
        raise ActionRefused(
            "amount",
            key=N_("{amount}: nothing transferred is an amount of zero"),
            amount=Money(moved),
        )
    not_after_today("executed_on", executed_on, today, what=N_("a transfer"))
    if executed_on < notice.issued_on:
        raise ActionRefused(
            "executed_on",
            key=N_("{day} is before the bank notice {number} was issued on {issued}"),
            day=executed_on,
            number=notice.document_number,
            issued=notice.issued_on,
        )
    serial = text("reference", reference, limit=REFERENCE_MAX)
    bank = text("bank_name", bank_name, limit=100)
    account = account_number_of(account_number)
    said = text("note", note, required=False)
    locks.hold(session, locks.IMPORTS, holder=f"{actor.username} transfer {serial}")
    if (
        session.execute(
            select(col(TransferExecution.id)).where(col(TransferExecution.reference) == serial)
        ).first()
        or session.execute(select(col(Payment.id)).where(col(Payment.reference) == serial)).first()
    ):
        raise ActionRefused(
            "reference",
            key=N_("bank reference {serial} is already recorded"),
            serial=serial,
        )
    execution = TransferExecution(
        case_id=case_id,
        notice_id=notice.id,
        bank_name=bank,
        account_number=account,
        requested_fen=requested,
        result=result,
        amount_fen=moved,
        executed_on=executed_on,
        reference=serial,
        note=said or None,
        recorded_by=actor.username,
    )
    session.add(execution)
    session.flush()
    log(
        session,
        case,
        kind="transfer_executed",
        actor=actor,
        today=today,
        step=STEP,
        message=(
            f"{actor.username} recorded the bank's forced transfer ({result}): "
            f"¥{format_yuan(moved)} of ¥{format_yuan(requested)} ordered by "
            f"{notice.document_number}, from {bank} account ending {account[-4:]} on "
            f"{executed_on} (ref {serial})" + (f". {said}" if said else "")
        ),
        data={
            "execution_id": execution.id,
            "result": result,
            "requested": format_yuan(requested),
            "amount": format_yuan(moved),
            "shortfall": format_yuan(requested - moved),
            "executed_on": str(executed_on),
            "reference": serial,
            "bank_name": bank,
            "account_number": account,
            "document_number": notice.document_number,
            "note": said or None,
        },
    )
    if moved:
        apply_payments(
            session,
            [NewPayment(case.employer_id, moved, executed_on, serial)],
            import_id=None,
            today=today,
            policy=PolicyRef(name=policy.name, version=policy.version, fee_rules=policy.fee_rules),
            actor=actor.username,
            source=f"forced transfer {serial} recorded by {actor.username}",
            note=f"forced transfer under {notice.document_number}",
        )
        execution.payment_id = session.execute(
            select(col(Payment.id)).where(col(Payment.reference) == serial)
        ).scalar_one()
        session.add(execution)
        session.refresh(case)  # the money may have closed it, by statements the ORM did not see
    session.flush()
    review.clear(session, case_ids=[case_id])
    return execution
