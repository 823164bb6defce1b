"""The employer contests the debt: escalation pauses until a supervisor resolves the dispute.

Either way the case returns to the ladder (open): the law gives a dispute no outcome of its own.
Upheld, the agency corrects the arrears in its core system and the next ledger import carries
the correction (an item settled or reduced, a case closed as paid); rejected, collection goes on
where it stopped.
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from cases.access import Actor
from cases.messages import N_, Term
from cases.models import CaseEvent
from cases.refusals import SUPERVISORS, ActionRefused, acting_on, choice, log, still_open, text
from cases.states import CaseStatus, can_transition, describe, transition

DISPUTE_OUTCOMES = ("upheld", "rejected")


def open_dispute(
    *, session: Session, actor: Actor, case_id: int, today: date, reason: str
) -> CaseEvent:
    """The employer disputes the arrears: the case becomes disputed and escalation pauses."""
    case = acting_on(session, actor, case_id, doing=N_("record a dispute"))
    why = text("reason", reason)
    still_open(case, doing=N_("record a dispute"))
    if case.status == CaseStatus.DISPUTED.value:
        raise ActionRefused("case", key=N_("case {case} is already disputed"), case=case_id)
    if not can_transition(case.status, CaseStatus.DISPUTED):
        raise ActionRefused(
            "case",
            key=N_("case {case} is {status} and cannot become disputed"),
            case=case_id,
            status=Term("status", case.status, describe(case.status)),
        )
    event = log(
        session,
        case,
        kind="dispute_opened",
        actor=actor,
        today=today,
        message=f"{actor.username} recorded that the employer disputes the arrears: {why}",
        data={"reason": why, "from": case.status},
    )
    transition(
        session,
        case,
        CaseStatus.DISPUTED,
        on_date=today,
        actor=actor.username,
        reason=f"the employer disputes the arrears: {why}",
        data={"cause": "dispute_opened", "reason": why},
    )
    return event


def resolve_dispute(
    *, session: Session, actor: Actor, case_id: int, today: date, outcome: str, reason: str
) -> CaseEvent:
    """A supervisor's ruling on the dispute (``upheld`` or ``rejected``); the case reopens."""
    case = acting_on(session, actor, case_id, doing=N_("resolve a dispute"), roles=SUPERVISORS)
    choice("outcome", outcome, DISPUTE_OUTCOMES, kind="dispute")
    why = text("reason", reason)
    if case.status != CaseStatus.DISPUTED.value:
        raise ActionRefused(
            "case",
            key=N_("case {case} is {status}, not disputed: nothing to resolve"),
            case=case_id,
            status=Term("status", case.status, describe(case.status)),
        )
    ruling = "upheld the employer's dispute" if outcome == "upheld" else "rejected the dispute"
    event = log(
        session,
        case,
        kind="dispute_resolved",
        actor=actor,
        today=today,
        message=f"{actor.username} {ruling}: {why}",
        data={"outcome": outcome, "reason": why},
    )
    transition(
        session,
        case,
        CaseStatus.OPEN,
        on_date=today,
        actor=actor.username,
        reason=f"dispute {outcome}, escalation resumes: {why}",
        data={"cause": "dispute_resolved", "outcome": outcome, "reason": why},
    )
    return event
