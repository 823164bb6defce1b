"""The application to the people's court (申请法院强制执行): its filing and the court's decision.

The agency has no power to enforce by itself beyond a forced transfer, so the last rung is an
application to the court (Social Insurance Law art. 63(3); Administrative Compulsion Law arts.
53-55). It is filed once the application letter (rung ``court_application``) was issued, and only
inside the window art. 53 gives: the 3 months after the employer's appeal windows against the
served order to pay closed (``cases.deadlines.court_window``). A court that refuses the
application, or an application withdrawn, leaves the case on hold for its officer to decide what
follows; an application accepted or enforced leaves the case where it is (a payment the court
collects arrives with the payments file).
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlmodel import Session, col

from cases.access import Actor
from cases.deadlines import COURT_BASIS_DOCUMENT, court_window
from cases.messages import N_, Term
from cases.models import CourtApplication, Notice
from cases.refusals import ActionRefused, acting_on, choice, log, not_after_today, still_open, text
from cases.states import CLOSED, CaseStatus, transition
from cases.workdays import WorkCalendar

COURT_OUTCOMES = ("accepted", "refused", "enforced", "withdrawn")
# Outcomes after which the case waits for its officer (on hold): the court did not take it up.
HOLD_OUTCOMES = frozenset({"refused", "withdrawn"})
# An accepted application may still end enforced, refused or withdrawn; the others are final.
_FINAL = frozenset({"refused", "enforced", "withdrawn"})
COURT_NAME_MAX = 200
COURT_REFERENCE_MAX = 100


def record_court_filing(
    *,
    session: Session,
    actor: Actor,
    case_id: int,
    today: date,
    filed_on: date,
    court: str,
    court_reference: str,
    calendar: WorkCalendar,
) -> CourtApplication:
    """The application was filed with ``court`` on ``filed_on`` under ``court_reference``.

    Needs the court application letter issued and the order to pay served; refused outside the
    art. 53 window (before it opens, the employer may still appeal; after it closes, the agency
    has lost the right to apply), naming the dates. ``calendar`` fixes the window's last day.
    """
    doing = N_("record a court filing")
    case = acting_on(session, actor, case_id, doing=doing)
    still_open(case, doing=doing)
    where = text("court", court, limit=COURT_NAME_MAX)
    reference = text("court_reference", court_reference, limit=COURT_REFERENCE_MAX)
    not_after_today("filed_on", filed_on, today, what=N_("a court filing"))
    letter = _latest(session, case_id, step="court_application")
    if letter is None:
        raise ActionRefused(
            "case",
            key=N_(
                "case {case} has no court application letter issued: issue the application "
                "(申请法院强制执行) before filing it"
            ),
            case=case_id,
        )
    if filed_on < letter.issued_on:
        raise ActionRefused(
            "filed_on",
            key=N_("{day} is before the application {number} was issued on {issued}"),
            day=filed_on,
            number=letter.document_number,
            issued=letter.issued_on,
        )
    order = _latest(session, case_id, document_type=COURT_BASIS_DOCUMENT, served=True)
    if order is None or order.served_on is None:
        raise ActionRefused(
            "case",
            key=N_(
                "case {case} has no served order to pay: the court window runs from its service"
            ),
            case=case_id,
        )
    opens_on, closes_on = court_window(order.served_on, calendar)
    if filed_on > closes_on:
        raise ActionRefused(
            "filed_on",
            key=N_(
                "filed on {day}, after the window to apply closed on {closes} (order to pay "
                "{number} served on {served}; the window ran from {opens} to {closes})"
            ),
            day=filed_on,
            closes=closes_on,
            opens=opens_on,
            number=order.document_number,
            served=order.served_on,
        )
    if filed_on < opens_on:
        raise ActionRefused(
            "filed_on",
            key=N_(
                "filed on {day}, before the window to apply opens on {opens}: the employer may "
                "still appeal the order to pay {number} served on {served} until {last}"
            ),
            day=filed_on,
            opens=opens_on,
            last=opens_on - timedelta(days=1),
            number=order.document_number,
            served=order.served_on,
        )
    standing = session.execute(
        select(CourtApplication)
        .where(
            col(CourtApplication.case_id) == case_id,
            col(CourtApplication.filed_on).is_not(None),
        )
        .order_by(col(CourtApplication.id).desc())
        .limit(1)
    ).scalar_one_or_none()
    if standing is not None and standing.outcome != "withdrawn":
        raise ActionRefused(
            "case",
            key=N_("case {case} already has an application filed on {day} with {court} ({ref})"),
            case=case_id,
            day=standing.filed_on,
            court=standing.court,
            ref=standing.court_reference,
        )
    # A row the rung left without a filing (the letter issued) is the one filed now.
    application = session.execute(
        select(CourtApplication)
        .where(col(CourtApplication.case_id) == case_id, col(CourtApplication.filed_on).is_(None))
        .order_by(col(CourtApplication.id).desc())
        .limit(1)
    ).scalar_one_or_none() or CourtApplication(case_id=case_id)
    application.notice_id = application.notice_id or letter.id
    application.filed_on = filed_on
    application.court = where
    application.court_reference = reference
    application.window_closes_on = closes_on
    application.recorded_by = actor.username
    session.add(application)
    session.flush()
    log(
        session,
        case,
        kind="court_filed",
        actor=actor,
        today=today,
        step="court_application",
        message=f"{actor.username} recorded the application {letter.document_number} filed with "
        f"{where} on {filed_on} ({reference}); the window to apply closes on {closes_on}",
        data={
            "application_id": application.id,
            "document_number": letter.document_number,
            "filed_on": str(filed_on),
            "court": where,
            "court_reference": reference,
            "window_opens_on": str(opens_on),
            "window_closes_on": str(closes_on),
            "order_served_on": str(order.served_on),
        },
    )
    return application


def record_court_outcome(
    *,
    session: Session,
    actor: Actor,
    case_id: int,
    today: date,
    application_id: int,
    outcome: str,
    decided_on: date,
    note: str | None,
) -> CourtApplication:
    """What the court made of the application (``COURT_OUTCOMES``).

    Refused or withdrawn, the case goes on hold for its officer (a note saying why is required);
    accepted, it may later be enforced, refused or withdrawn; the other outcomes are final.
    """
    doing = N_("record a court's decision")
    case = acting_on(session, actor, case_id, doing=doing)
    choice("outcome", outcome, COURT_OUTCOMES, kind="court")
    application = session.get(CourtApplication, application_id)
    if application is None or application.case_id != case_id:
        raise ActionRefused(
            "application",
            key=N_("case {case} has no court application {application}"),
            case=case_id,
            application=application_id,
        )
    if application.filed_on is None:
        raise ActionRefused(
            "application",
            key=N_("court application {application} was not filed: record the filing first"),
            application=application_id,
        )
    if application.outcome in _FINAL or application.outcome == outcome:
        raise ActionRefused(
            "outcome",
            key=N_("court application {application} was already {outcome} on {day}"),
            application=application_id,
            outcome=Term("court", application.outcome or "", application.outcome or ""),
            day=application.decided_on,
        )
    not_after_today("decided_on", decided_on, today, what=N_("a court's decision"))
    if decided_on < application.filed_on:
        raise ActionRefused(
            "decided_on",
            key=N_("{day} is before the application was filed on {filed}"),
            day=decided_on,
            filed=application.filed_on,
        )
    said = text("note", note, required=outcome in HOLD_OUTCOMES)
    application.outcome = outcome
    application.decided_on = decided_on
    session.add(application)
    log(
        session,
        case,
        kind="court_decided",
        actor=actor,
        today=today,
        step="court_application",
        message=f"{actor.username} recorded that {application.court} {outcome} the application "
        f"{application.court_reference} on {decided_on}" + (f". {said}" if said else ""),
        data={
            "application_id": application.id,
            "outcome": outcome,
            "decided_on": str(decided_on),
            "court": application.court,
            "court_reference": application.court_reference,
            "note": said or None,
        },
    )
    status = CaseStatus(case.status)
    # Every status still collecting may go on hold (cases.states); a closed case stays closed.
    if outcome in HOLD_OUTCOMES and status not in CLOSED and status is not CaseStatus.ON_HOLD:
        transition(
            session,
            case,
            CaseStatus.ON_HOLD,
            on_date=today,
            actor=actor.username,
            reason=f"the court application was {outcome}: the officer decides what follows. {said}",
            data={"cause": "court_decided", "outcome": outcome, "reason": said},
        )
    return application


def _latest(
    session: Session,
    case_id: int,
    *,
    step: str | None = None,
    document_type: str | None = None,
    served: bool = False,
) -> Notice | None:
    query = select(Notice).where(
        col(Notice.case_id) == case_id,
        col(Notice.channel) == "letter",
        col(Notice.document_number).is_not(None),
    )
    if step is not None:
        query = query.where(col(Notice.step) == step)
    if document_type is not None:
        query = query.where(col(Notice.document_type) == document_type)
    when = col(Notice.served_on) if served else col(Notice.issued_on)
    if served:
        query = query.where(when.is_not(None))
    query = query.order_by(when.desc(), col(Notice.id).desc()).limit(1)
    return session.execute(query).scalar_one_or_none()
