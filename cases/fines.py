"""Fines of 1 to 3 times the arrears (Social Insurance Law arts. 84, 86).

An employer still owing after the order to pay's time limit may be fined one to three times the
arrears. An officer proposes the fine (the multiple and why); a supervisor other than the proposer
imposes or rejects it. An imposed fine is served as an administrative penalty decision
(行政处罚决定书): a letter of its own, planned here and numbered and printed by the letters
machinery (``notifications.letters.LetterDesk.print_notice``), which the fine links to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlmodel import Session, col

from cases import review
from cases.access import Actor, visible_case
from cases.decide import StepRecord
from cases.messages import N_, Money
from cases.models import Case, Employer, Fine, Notice
from cases.money import format_yuan
from cases.notices import FINE_STEP
from cases.policy import Policy
from cases.preconditions import step_deadline
from cases.promises import owed
from cases.refusals import SUPERVISORS, ActionRefused, acting_on, log, still_open, text
from cases.workdays import UnknownCalendarYear

ORDER_STEP = "order_to_pay"
DOCUMENT_TYPE = "fine_decision"
MULTIPLE_MIN = Decimal(1)
MULTIPLE_MAX = Decimal(3)


@dataclass(frozen=True)
class ServedOrder:
    """An order to pay served on the employer, and the time limit it gave."""

    notice: Notice
    deadline: date


def served_order(
    session: Session, case_id: int, policy: Policy, *, deadline_by: date | None = None
) -> ServedOrder | None:
    """The case's latest served order to pay (whose time limit ended by ``deadline_by``, if
    given); its deadline as recorded at service, else counted as the nightly decision counts it.

    May raise ``UnknownCalendarYear`` when the working-day calendar lacks the year.
    """
    step = policy.find(ORDER_STEP)
    found: ServedOrder | None = None
    for notice in session.execute(
        select(Notice)
        .where(
            col(Notice.case_id) == case_id,
            col(Notice.step) == ORDER_STEP,
            col(Notice.channel) == "letter",
            col(Notice.served_on).is_not(None),
        )
        .order_by(col(Notice.served_on), col(Notice.id))
    ).scalars():
        deadline = notice.deadline_on
        if deadline is None and step is not None:
            record = StepRecord(notice.step, notice.level, notice.issued_on, notice.served_on)
            deadline = step_deadline(record, step, policy)
        if deadline is None or (deadline_by is not None and deadline > deadline_by):
            continue
        found = ServedOrder(notice, deadline)
    return found


def fine_amount(arrears: int, multiple_pct: int) -> int:
    """Fen: the arrears times the multiple (in percent), rounded half-up to the fen."""
    return (arrears * multiple_pct + 50) // 100


def _multiple(value: Decimal) -> int:
    if not value.is_finite() or not MULTIPLE_MIN <= value <= MULTIPLE_MAX:
        raise ActionRefused(
            "multiple",
            key=N_("{multiple}: the fine is 1 to 3 times the arrears"),
            multiple=value,
        )
    pct = value * 100
    if pct != pct.to_integral_value():
        raise ActionRefused(
            "multiple",
            key=N_("{multiple}: a multiple has at most two decimals"),
            multiple=value,
        )
    return int(pct)


def propose_fine(
    *,
    session: Session,
    actor: Actor,
    case_id: int,
    today: date,
    multiple: Decimal,
    reason: str,
    policy: Policy,
) -> Fine:
    """An officer proposes fining the employer ``multiple`` times the principal it still owes.

    Only after the order to pay was served and its time limit has passed, while principal is
    outstanding, and with no other proposal of the case waiting for a supervisor.
    """
    doing = N_("propose a fine")
    case = acting_on(session, actor, case_id, doing=doing)
    still_open(case, doing=doing)
    try:
        order = served_order(session, case_id, policy)
    except UnknownCalendarYear as exc:
        raise ActionRefused(
            "case",
            key=N_("the order to pay's deadline cannot be counted: {problem}"),
            problem=str(exc),
        ) from None
    if order is None:
        raise ActionRefused(
            "case",
            key=N_("case {case} has no order to pay served: a fine comes after its time limit"),
            case=case_id,
        )
    if order.deadline >= today:
        raise ActionRefused(
            "case",
            key=N_("the order to pay {number} gives the employer until {deadline}: not yet"),
            number=order.notice.document_number,
            deadline=order.deadline,
        )
    pct = _multiple(multiple)
    why = text("reason", reason)
    position = owed(session, case, today, policy)
    arrears = position.principal_outstanding
    if arrears <= 0:
        raise ActionRefused(
            "case",
            key=N_("case {case} owes no principal as of {today}: there are no arrears to fine"),
            case=case_id,
            today=today,
        )
    waiting = session.execute(
        select(Fine).where(col(Fine.case_id) == case_id, col(Fine.status) == "proposed")
    ).scalar_one_or_none()
    if waiting is not None:
        raise ActionRefused(
            "case",
            key=N_("a fine of {amount} proposed on {day} waits for a supervisor's decision"),
            amount=Money(waiting.amount_fen),
            day=waiting.proposed_on,
        )
    amount = fine_amount(arrears, pct)
    fine = Fine(
        case_id=case_id,
        proposed_on=today,
        arrears_fen=arrears,
        multiple_pct=pct,
        amount_fen=amount,
        reason=why,
        proposed_by=actor.username,
        status="proposed",
    )
    session.add(fine)
    session.flush()
    times = format(Decimal(pct) / 100, "f")
    log(
        session,
        case,
        kind="fine_proposed",
        actor=actor,
        today=today,
        message=(
            f"{actor.username} proposed a fine of ¥{format_yuan(amount)} ({times} × arrears of "
            f"¥{format_yuan(arrears)}): {why}"
        ),
        data={
            "fine_id": fine.id,
            "arrears": format_yuan(arrears),
            "multiple": times,
            "amount": format_yuan(amount),
            "order_to_pay": order.notice.document_number,
            "deadline": str(order.deadline),
            "reason": why,
        },
    )
    return fine


def decide_fine(
    *,
    session: Session,
    actor: Actor,
    case_id: int,
    today: date,
    fine_id: int,
    impose: bool,
    reason: str,
) -> Fine:
    """A supervisor other than the proposer imposes or rejects a proposed fine.

    Imposed, the penalty decision is planned as a letter of the case (``Fine.notice_id``); it
    gets its document number when printed (the CLI prints it at once, the nightly run prints
    what is left).
    """
    case = acting_on(session, actor, case_id, doing=N_("decide a fine"), roles=SUPERVISORS)
    fine = session.get(Fine, fine_id)
    if fine is None or fine.case_id != case_id:
        raise ActionRefused(
            "fine", key=N_("case {case} has no fine {fine}"), case=case_id, fine=fine_id
        )
    if fine.status != "proposed":
        raise ActionRefused(
            "fine",
            key=N_("the fine was already imposed by {who} on {day}")
            if fine.status == "imposed"
            else N_("the fine was already rejected by {who} on {day}"),
            who=fine.decided_by,
            day=fine.decided_on,
        )
    if fine.proposed_by == actor.username:
        # Four eyes, as for enforcement steps: whoever proposed the fine does not decide it.
        raise ActionRefused(
            "fine", key=N_("you proposed this fine yourself: another supervisor decides it")
        )
    why = text("reason", reason)
    fine.status = "imposed" if impose else "rejected"
    fine.decided_by = actor.username
    fine.decided_on = today
    fine.decision_reason = why
    notice: Notice | None = None
    if impose:
        order = session.execute(
            select(Notice)
            .where(col(Notice.case_id) == case_id, col(Notice.step) == ORDER_STEP)
            .order_by(col(Notice.id).desc())
            .limit(1)
        ).scalar_one_or_none()
        notice = Notice(
            case_id=case_id,
            business_key=f"{case_id}:{FINE_STEP}:letter:{DOCUMENT_TYPE}:{fine.id}",
            step=FINE_STEP,
            # The rung the fine follows, so the letter never reads as a higher rung taken.
            level=order.level if order is not None else case.stage,
            channel="letter",
            document_type=DOCUMENT_TYPE,
            status="planned",
            issued_on=today,
        )
        session.add(notice)
        session.flush()
        fine.notice_id = notice.id
    session.add(fine)
    amount = format_yuan(fine.amount_fen)
    log(
        session,
        case,
        kind="fine_imposed" if impose else "fine_rejected",
        actor=actor,
        today=today,
        message=(
            f"{actor.username} {'imposed' if impose else 'rejected'} the fine of ¥{amount} "
            f"proposed by {fine.proposed_by} on {fine.proposed_on}: {why}"
        ),
        data={
            "fine_id": fine.id,
            "amount": amount,
            "reason": why,
            "notice_id": notice.id if notice is not None else None,
        },
    )
    session.flush()
    review.clear(session, case_ids=[case_id])
    return fine


def list_fines(
    session: Session, *, actor: Actor, case_id: int | None = None, status: str | None = None
) -> list[tuple[Fine, str | None]]:
    """Fines of the cases the actor may see, newest first, with their decision's number."""
    query = (
        select(Fine, col(Notice.document_number), col(Employer.district))
        .join(Case, col(Case.id) == col(Fine.case_id))
        .join(Employer, col(Employer.id) == col(Case.employer_id))
        .outerjoin(Notice, col(Notice.id) == col(Fine.notice_id))
        .order_by(col(Fine.proposed_on).desc(), col(Fine.id).desc())
    )
    if case_id is not None:
        visible_case(session, actor, case_id)
        query = query.where(col(Fine.case_id) == case_id)
    if status is not None:
        query = query.where(col(Fine.status) == status)
    return [
        (fine, number)
        for fine, number, district in session.execute(query)
        if actor.serves(district)
    ]
