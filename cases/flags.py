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
from cases.messages import N_, Term
from cases.models import CaseEvent, utcnow
from cases.refusals import SUPERVISORS, ActionRefused, acting_on, choice, log, still_open, text

FLAGS = ("uncooperative", "malicious")
# What a refusal says the actor was doing, one message id per flag (the catalogs need each whole).
_MARKING = {
    "uncooperative": (N_("mark a case uncooperative"), N_("mark it uncooperative")),
    "malicious": (N_("mark a case malicious"), N_("mark it malicious")),
}
_UNMARKING = {
    "uncooperative": N_("take back a case's uncooperative mark"),
    "malicious": N_("take back a case's malicious mark"),
}


def mark_case(
    *, session: Session, actor: Actor, case_id: int, today: date, flag: str, reason: str
) -> CaseEvent:
    """Set ``flag`` (one of ``FLAGS``) on the case, with the reason."""
    marking, mark_it = _MARKING.get(flag, (f"mark a case {flag}", f"mark it {flag}"))
    case = acting_on(session, actor, case_id, doing=marking)
    choice("flag", flag, FLAGS)
    why = text("reason", reason)
    still_open(case, doing=mark_it)
    if getattr(case, flag):
        raise ActionRefused(
            "flag",
            key=N_("case {case} is already marked {flag}"),
            case=case_id,
            flag=Term("flag", flag, flag),
        )
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
    doing = _UNMARKING.get(flag, f"take back a case's {flag} mark")
    case = acting_on(session, actor, case_id, doing=doing, roles=SUPERVISORS)
    choice("flag", flag, FLAGS)
    why = text("reason", reason)
    if not getattr(case, flag):
        raise ActionRefused(
            "flag",
            key=N_("case {case} is not marked {flag}"),
            case=case_id,
            flag=Term("flag", flag, flag),
        )
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
