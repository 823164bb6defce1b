"""The enforcement preconditions checked again at the moment of action.

The nightly decision (``cases.decide``) already waits on ``cases.preconditions``; the same table is
checked here against the case as it stands when someone acts: an officer asking for a step, a
supervisor approving it, the nightly run writing its notice. Between the decision and the action a
fact can change (a lawsuit filed in the afternoon, a service date corrected), and a step taken out
of order costs the agency its case in court.
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from cases.decide import CaseFacts
from cases.facts import build_facts, open_case_heads
from cases.messages import N_, Term
from cases.policy import ENFORCEMENT_KINDS, Policy
from cases.preconditions import Missing, missing
from cases.refusals import ActionRefused
from cases.workdays import UnknownCalendarYear


def case_facts(session: Session, case_id: int, *, as_of: date, policy: Policy) -> CaseFacts | None:
    """The facts of one open case as the nightly run would read them; None if it is closed."""
    heads = open_case_heads(session, [case_id])
    if not heads:
        return None
    return build_facts(session, heads, as_of=as_of, rules=policy.fee_rules)[0]


def blocking(
    session: Session, case_id: int, step: str, *, today: date, policy: Policy
) -> list[Missing]:
    """The preconditions of ``step`` the case does not meet ``today`` (none for other steps)."""
    if step not in ENFORCEMENT_KINDS:
        return []
    facts = case_facts(session, case_id, as_of=today, policy=policy)
    if facts is None:
        return []
    return missing(facts, today, policy, step)


def require_step(
    session: Session, case_id: int, step: str, *, today: date, policy: Policy, field: str = "step"
) -> None:
    """Refuse (``ActionRefused`` on ``field``) unless every precondition of ``step`` holds today,
    naming the first one missing, what it requires and what the case's facts are."""
    try:
        found = blocking(session, case_id, step, today=today, policy=policy)
    except UnknownCalendarYear as exc:
        raise ActionRefused(
            field,
            key=N_("{step} cannot be checked: {problem}"),
            step=Term("step", step, step),
            problem=str(exc),
        ) from None
    if not found:
        return
    first = found[0]
    raise ActionRefused(
        field,
        key=N_("{step} is not allowed yet: {precondition} ({basis}); {facts}"),
        step=Term("step", step, step),
        precondition=Term("precondition", first.key, first.precondition.text),
        basis=first.precondition.basis,
        facts=first.verdict.detail,
    )
