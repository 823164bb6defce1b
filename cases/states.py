"""Case statuses and the one function allowed to change them."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from sqlmodel import Session

from cases.models import Case, CaseEvent, utcnow


class CaseStatus(StrEnum):
    OPEN = "open"  # on the ladder, escalated by the nightly run
    PROMISED = "promised"  # the employer promised to pay by a date; escalation pauses until then
    DISPUTED = "disputed"  # the employer contests the debt; a supervisor resolves it
    ON_HOLD = "on_hold"  # paused by a supervisor (e.g. reconsideration filed, force majeure)
    CLOSED_PAID = "closed_paid"
    WRITTEN_OFF = "written_off"


CLOSED = frozenset({CaseStatus.CLOSED_PAID, CaseStatus.WRITTEN_OFF})

_ALLOWED: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.OPEN: frozenset(
        {
            CaseStatus.PROMISED,
            CaseStatus.DISPUTED,
            CaseStatus.ON_HOLD,
            CaseStatus.CLOSED_PAID,
            CaseStatus.WRITTEN_OFF,
        }
    ),
    CaseStatus.PROMISED: frozenset(
        {CaseStatus.OPEN, CaseStatus.DISPUTED, CaseStatus.ON_HOLD, CaseStatus.CLOSED_PAID}
    ),
    CaseStatus.DISPUTED: frozenset(
        {CaseStatus.OPEN, CaseStatus.ON_HOLD, CaseStatus.CLOSED_PAID, CaseStatus.WRITTEN_OFF}
    ),
    CaseStatus.ON_HOLD: frozenset(
        {CaseStatus.OPEN, CaseStatus.DISPUTED, CaseStatus.CLOSED_PAID, CaseStatus.WRITTEN_OFF}
    ),
    # A paid case reopens when a correction or a newly found item makes it owe again.
    CaseStatus.CLOSED_PAID: frozenset({CaseStatus.OPEN}),
    CaseStatus.WRITTEN_OFF: frozenset(),
}

_LABELS = {
    CaseStatus.OPEN: "open",
    CaseStatus.PROMISED: "promised to pay",
    CaseStatus.DISPUTED: "disputed",
    CaseStatus.ON_HOLD: "on hold",
    CaseStatus.CLOSED_PAID: "closed (paid)",
    CaseStatus.WRITTEN_OFF: "written off",
}


class IllegalTransition(Exception):
    """A status change the procedure does not allow; the message is meant for an officer."""


def describe(status: str) -> str:
    """A status as an officer reads it (``promised`` -> "promised to pay")."""
    return _LABELS[CaseStatus(status)]


def can_transition(current: str, to: str) -> bool:
    return CaseStatus(to) in _ALLOWED[CaseStatus(current)]


def transition(
    session: Session,
    case: Case,
    to: CaseStatus,
    *,
    on_date: date,
    actor: str,
    reason: str,
    data: dict[str, Any] | None = None,
) -> CaseEvent:
    """Move ``case`` to status ``to`` and log why; refuses moves the procedure does not allow."""
    current = CaseStatus(case.status)
    if to not in _ALLOWED[current]:
        raise IllegalTransition(
            f"case {case.id} is {_LABELS[current]} and cannot become {_LABELS[to]}"
            + (": a written-off case is final" if current is CaseStatus.WRITTEN_OFF else "")
        )
    case.status = to.value
    case.updated_at = utcnow()
    if to in CLOSED:
        case.closed_on = on_date
    elif current in CLOSED:
        case.closed_on = None
    event = CaseEvent(
        case_id=case.id or 0,
        on_date=on_date,
        kind="status_changed",
        actor=actor,
        message=f"{_LABELS[current]} → {_LABELS[to]}: {reason}",
        data={"from": current.value, "to": to.value, **(data or {})},
    )
    session.add(case)
    session.add(event)
    return event
