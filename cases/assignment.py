"""Which officer works a case: a supervisor reassigns cases.

Taking a case from the queue and giving one back are ``cases.claims``'s (``take_next`` and
``release``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlmodel import Session

from cases.access import Actor, Role, case_district
from cases.messages import N_
from cases.models import Case, User, utcnow
from cases.refusals import SUPERVISORS, ActionRefused, acting_on, log, still_open, text


def reassign_cases(
    *,
    session: Session,
    actor: Actor,
    case_ids: Sequence[int],
    today: date,
    officer_id: int,
    reason: str | None = None,
) -> list[int]:
    """Give ``case_ids`` to the officer ``officer_id``; returns the cases that changed hands.

    All or nothing: every case is checked (visible to the supervisor, still open, in a district
    the officer serves) before any moves, and a refusal names the case. A case that officer
    already holds is left as it is.
    """
    if not case_ids:
        raise ActionRefused("cases", key=N_("choose at least one case to reassign"))
    why = text("reason", reason, required=False)
    officer = session.get(User, officer_id)
    if officer is None or not officer.active or officer.role != Role.OFFICER.value:
        raise ActionRefused(
            "officer",
            key=N_("user {user} is not an active collection officer"),
            user=officer_id,
        )
    cases: list[Case] = []
    for case_id in dict.fromkeys(case_ids):  # once each, in the order given
        case = acting_on(session, actor, case_id, doing=N_("reassign cases"), roles=SUPERVISORS)
        still_open(case, doing=N_("reassign it"))
        district = case_district(session, actor, case_id)
        if district not in officer.districts:
            raise ActionRefused(
                "officer",
                key=N_("case {case} belongs to {district}, which {officer} does not serve"),
                case=case_id,
                district=district,
                officer=officer.username,
            )
        cases.append(case)
    moved = []
    now = utcnow()
    for case in cases:
        if case.officer_id == officer_id:
            continue
        before = session.get(User, case.officer_id) if case.officer_id else None
        case.officer_id = officer_id
        case.claimed_at = now
        case.updated_at = now
        session.add(case)
        log(
            session,
            case,
            kind="case_reassigned",
            actor=actor,
            today=today,
            message=(
                f"{actor.username} gave the case to {officer.username}"
                + (f" (from {before.username})" if before else "")
                + (f": {why}" if why else "")
            ),
            data={
                "from": before.username if before else None,
                "to": officer.username,
                "reason": why or None,
            },
        )
        moved.append(case.id or 0)
    return moved
