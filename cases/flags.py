"""Marking an employer uncooperative (不配合) or its arrears malicious (恶意欠费).

The marks open the harder rungs of the ladder (interview and referral for the uncooperative,
forced transfer for the malicious), so any officer may set one with a reason, and only a
supervisor may take one back. The flag is set on the case through the ORM, whose hooks have the
case decided again at the next night.
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from cases.access import Actor
from cases.models import CaseEvent, utcnow
from cases.refusals import SUPERVISORS, ActionRefused, acting_on, choice, log, still_open, text

FLAGS = ("uncooperative", "malicious")


def mark_case(
    *, session: Session, actor: Actor, case_id: int, today: date, flag: str, reason: str
) -> CaseEvent:
    """Set ``flag`` (one of ``FLAGS``) on the case, with the reason."""
    case = acting_on(session, actor, case_id, doing=f"mark a case {flag}")
    choice("flag", flag, FLAGS)
    why = text("reason", reason)
    still_open(case, doing=f"mark it {flag}")
    if getattr(case, flag):
        raise ActionRefused("flag", f"case {case_id} is already marked {flag}")
    setattr(case, flag, True)
    case.updated_at = utcnow()
    session.add(case)
    return log(
        session,
        case,
        kind=f"marked_{flag}",
        actor=actor,
        today=today,
        message=f"{actor.username} marked the employer {flag}: {why}",
        data={"flag": flag, "reason": why},
    )


def unmark_case(
    *, session: Session, actor: Actor, case_id: int, today: date, flag: str, reason: str
) -> CaseEvent:
    """Take ``flag`` back (supervisors only): the harder rungs it opened no longer apply."""
    case = acting_on(
        session, actor, case_id, doing=f"take back a case's {flag} mark", roles=SUPERVISORS
    )
    choice("flag", flag, FLAGS)
    why = text("reason", reason)
    if not getattr(case, flag):
        raise ActionRefused("flag", f"case {case_id} is not marked {flag}")
    setattr(case, flag, False)
    case.updated_at = utcnow()
    session.add(case)
    return log(
        session,
        case,
        kind=f"unmarked_{flag}",
        actor=actor,
        today=today,
        message=f"{actor.username} took back the {flag} mark: {why}",
        data={"flag": flag, "reason": why},
    )
