"""The employer's statement and defence (陈述、申辩) after a written demand, and its review.

A written demand tells the employer it may state its case and defend itself before the agency
decides to enforce (Administrative Compulsion Law art. 35); what it says is recorded and reviewed
before any decision (art. 36). When the demand's deadline passes with nothing said, an officer
records that none was made, and the right has lapsed. The enforcement decisions (forced transfer,
collateral, court) wait for one of the two (``cases.preconditions``: ``statement_heard``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlmodel import Session, col

from cases.access import Actor
from cases.bulk import among
from cases.decide import StatementFact, StepRecord
from cases.messages import N_
from cases.models import EmployerStatement, Notice
from cases.policy import Policy
from cases.preconditions import DEMAND, step_deadline
from cases.refusals import ActionRefused, acting_on, choice, log, not_after_today, still_open, text

KINDS = ("statement", "none_made")
REVIEW_OUTCOMES = ("upheld", "partly", "dismissed")


def _demand(session: Session, case_id: int) -> Notice | None:
    return session.execute(
        select(Notice)
        .where(col(Notice.case_id) == case_id, col(Notice.step) == DEMAND)
        .order_by(col(Notice.issued_on).desc(), col(Notice.id).desc())
        .limit(1)
    ).scalar_one_or_none()


def record_statement(
    *,
    session: Session,
    actor: Actor,
    case_id: int,
    today: date,
    kind: str,
    received_on: date,
    summary: str,
    policy: Policy,
) -> EmployerStatement:
    """Record what the employer stated after the demand, or that it stated nothing in time.

    ``kind`` "statement": ``received_on`` is when it was made (in writing or at a hearing) and
    ``summary`` what it says; the statement then awaits review. "none_made": only once the
    demand's deadline has passed; ``summary`` says how the officer checked (no letter, no visit).
    """
    doing = N_("record the employer's statement")
    case = acting_on(session, actor, case_id, doing=doing)
    what = choice("kind", kind, KINDS, kind="statement")
    about = text("summary", summary)
    not_after_today("received_on", received_on, today, what=N_("a statement"))
    still_open(case, doing=doing)
    demand = _demand(session, case_id)
    if demand is None:
        raise ActionRefused(
            "kind",
            key=N_("case {case} has no written demand yet: a statement answers the demand"),
            case=case_id,
        )
    if received_on < demand.issued_on:
        raise ActionRefused(
            "received_on",
            key=N_("{day} is before the written demand was issued on {issued}"),
            day=received_on,
            issued=demand.issued_on,
        )
    if what == "none_made":
        step = policy.step(DEMAND)
        record = StepRecord(DEMAND, step.level, demand.issued_on, demand.served_on)
        deadline = step_deadline(record, step, policy)
        if deadline is None:
            raise ActionRefused(
                "kind",
                key=N_("the written demand is not served yet: the employer's time has not begun"),
            )
        if received_on <= deadline:
            raise ActionRefused(
                "kind",
                key=N_(
                    "the employer may state its case until {deadline}: record that none was "
                    "made only after that day"
                ),
                deadline=deadline,
            )
    statement = EmployerStatement(
        case_id=case_id,
        kind=what,
        received_on=received_on,
        summary=about,
        recorded_by=actor.username,
    )
    session.add(statement)
    session.flush()
    message = (
        f"{actor.username} recorded the employer's statement of {received_on}: {about}"
        if what == "statement"
        else f"{actor.username} recorded that the employer made no statement by {received_on}: "
        f"{about}"
    )
    log(
        session,
        case,
        kind="statement_recorded" if what == "statement" else "statement_none_made",
        actor=actor,
        today=today,
        message=message,
        data={"statement_id": statement.id, "kind": what, "received_on": str(received_on)},
    )
    return statement


def review_statement(
    *,
    session: Session,
    actor: Actor,
    case_id: int,
    today: date,
    statement_id: int,
    outcome: str,
    note: str,
) -> EmployerStatement:
    """Record the agency's review of a statement: its facts and reasons upheld, partly, or not."""
    doing = N_("review the employer's statement")
    case = acting_on(session, actor, case_id, doing=doing)
    statement = session.get(EmployerStatement, statement_id)
    if statement is None or statement.case_id != case_id:
        raise ActionRefused(
            "statement",
            key=N_("case {case} has no statement {statement}"),
            case=case_id,
            statement=statement_id,
        )
    if statement.kind != "statement":
        raise ActionRefused(
            "statement",
            key=N_("statement {statement} records that none was made: there is nothing to review"),
            statement=statement_id,
        )
    if statement.reviewed_on is not None:
        raise ActionRefused(
            "statement",
            key=N_("statement {statement} was already reviewed by {who} on {day}"),
            statement=statement_id,
            who=statement.reviewed_by,
            day=statement.reviewed_on,
        )
    outcome = choice("outcome", outcome, REVIEW_OUTCOMES, kind="review")
    why = text("note", note)
    statement.reviewed_on = today
    statement.reviewed_by = actor.username
    statement.review_outcome = outcome
    statement.review_note = why
    session.add(statement)
    log(
        session,
        case,
        kind="statement_reviewed",
        actor=actor,
        today=today,
        message=f"{actor.username} reviewed the statement of {statement.received_on}: "
        f"{outcome}: {why}",
        data={"statement_id": statement.id, "outcome": outcome, "note": why},
        step=DEMAND,
    )
    return statement


def load_statement_facts(
    session: Session, case_ids: Sequence[int], as_of: date
) -> dict[int, StatementFact]:
    """Each case's latest statement record made on or before ``as_of``, as it stood then."""
    found: dict[int, StatementFact] = {}
    if not case_ids:
        return found
    rows = session.execute(
        select(
            col(EmployerStatement.case_id),
            col(EmployerStatement.kind),
            col(EmployerStatement.received_on),
            col(EmployerStatement.reviewed_on),
        )
        .where(
            among(col(EmployerStatement.case_id), list(case_ids)),
            col(EmployerStatement.received_on) <= as_of,
        )
        .order_by(col(EmployerStatement.received_on), col(EmployerStatement.id))
    )
    for case_id, kind, received_on, reviewed_on in rows:
        reviewed = reviewed_on if reviewed_on is not None and reviewed_on <= as_of else None
        found[case_id] = StatementFact(kind, received_on, reviewed)
    return found
