"""Supervisor approval of enforcement rungs and of write-offs.

The rungs a policy gates behind approval (forced transfer, collateral, court) are requested by the
nightly run when they fall due, or ahead of it by an officer; the run takes a rung only once its
latest request is approved, and the law's own floors still apply then (``cases.decide``). A
write-off (bankruptcy, deregistration) is never a rung: approving it writes the case off at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import select
from sqlmodel import Session, col

from cases.access import Actor
from cases.enforcement import require_step
from cases.messages import N_, Term, Terms
from cases.models import ApprovalRequest, Case, Employer, Notice, WriteOffDocument
from cases.policy import Policy
from cases.refusals import (
    SUPERVISORS,
    ActionRefused,
    acting_on,
    choice,
    log,
    not_after_today,
    still_open,
    text,
    written,
)
from cases.states import CaseStatus, IllegalTransition, can_transition, describe, transition

WRITE_OFF = "write_off"
WRITE_OFF_DOCUMENT_KINDS = ("bankruptcy_ruling", "deregistration_notice", "other")
_DOCUMENT_WORDS = {
    "bankruptcy_ruling": "bankruptcy ruling",
    "deregistration_notice": "deregistration notice",
    "other": "document",
}


@dataclass(frozen=True)
class WriteOffDocumentIn:
    """A document a write-off proposal rests on, as an officer typed it."""

    kind: str  # bankruptcy_ruling | deregistration_notice | other
    issued_by: str  # the court or the registration authority
    reference: str  # its number
    issued_on: date

    def describe(self) -> str:
        what = _DOCUMENT_WORDS.get(self.kind, self.kind)
        return f"{what} {self.reference} of {self.issued_by} ({self.issued_on})"


def gated_steps(policy: Policy) -> tuple[str, ...]:
    """The rungs of ``policy`` a supervisor approves before they are taken."""
    return tuple(s.kind for s in policy.steps if s.requires_approval)


def request_step(
    *,
    session: Session,
    actor: Actor,
    case_id: int,
    today: date,
    step: str,
    reason: str,
    policy: Policy,
) -> ApprovalRequest:
    """Ask a supervisor to approve an enforcement rung for the case ahead of the nightly run.

    Asking is preparation, not the decision: the rung's legal preconditions are checked when a
    supervisor approves it and again when the nightly run takes it (``cases.enforcement``).
    """
    case = acting_on(session, actor, case_id, doing=N_("request an enforcement step"))
    gated = gated_steps(policy)
    if step not in gated:
        raise ActionRefused(
            "step",
            key=N_("{step!r} is not a step {policy} puts to a supervisor: use one of {steps}"),
            step=step,
            policy=policy.label,
            steps=Terms("step", gated),
        )
    why = text("reason", reason)
    still_open(case, doing=N_("request an enforcement step"))
    issued = session.execute(
        select(col(Notice.issued_on))
        .where(col(Notice.case_id) == case_id, col(Notice.step) == step)
        .order_by(col(Notice.issued_on))
        .limit(1)
    ).scalar_one_or_none()
    if issued is not None:
        raise ActionRefused(
            "step",
            key=N_("{step} was already taken on {day}"),
            step=Term("step", step, step),
            day=issued,
        )
    title = policy.step(step).title
    return _request(session, actor, case, today, step, why, Term("step", step, f"{step} ({title})"))


def propose_write_off(
    *,
    session: Session,
    actor: Actor,
    case_id: int,
    today: date,
    reason: str,
    documents: Sequence[WriteOffDocumentIn],
) -> ApprovalRequest:
    """Propose writing the case off (bankruptcy, deregistration) on the documents that show it;
    a supervisor decides."""
    case = acting_on(session, actor, case_id, doing=N_("propose a write-off"))
    why = text("reason", reason)
    papers = [_document(one, today) for one in documents]
    if not papers:
        raise ActionRefused(
            "documents",
            key=N_(
                "required: at least one document the write-off rests on "
                "(a bankruptcy ruling, a deregistration notice)"
            ),
        )
    still_open(case, doing=N_("propose a write-off"))
    if not can_transition(case.status, CaseStatus.WRITTEN_OFF):
        raise ActionRefused(
            "case",
            key=N_(
                "case {case} is {status} and cannot be written off while it is: "
                "record what became of the promise first"
            ),
            case=case_id,
            status=Term("status", case.status, describe(case.status)),
        )
    return _request(
        session,
        actor,
        case,
        today,
        WRITE_OFF,
        why,
        Term("step", WRITE_OFF, "a write-off"),
        documents=papers,
    )


def _document(one: WriteOffDocumentIn, today: date) -> WriteOffDocumentIn:
    """The document checked and its text stripped."""
    choice("kind", one.kind, WRITE_OFF_DOCUMENT_KINDS, kind="write_off_document")
    return WriteOffDocumentIn(
        kind=one.kind,
        issued_by=written("issued_by", one.issued_by, limit=200),
        reference=written("reference", one.reference, limit=100),
        issued_on=not_after_today("issued_on", one.issued_on, today, what=N_("a document")),
    )


def _request(
    session: Session,
    actor: Actor,
    case: Case,
    today: date,
    step: str,
    why: str,
    what: Term,
    *,
    documents: Sequence[WriteOffDocumentIn] = (),
) -> ApprovalRequest:
    latest = session.execute(
        select(ApprovalRequest)
        .where(col(ApprovalRequest.case_id) == case.id, col(ApprovalRequest.step) == step)
        .order_by(col(ApprovalRequest.id).desc())
        .limit(1)
    ).scalar_one_or_none()
    if latest is not None and latest.status == "pending":
        raise ActionRefused(
            "step",
            key=N_("{what} already awaits a supervisor's decision (asked {day})"),
            what=what,
            day=latest.requested_on,
        )
    if latest is not None and latest.status == "approved" and step != WRITE_OFF:
        raise ActionRefused(
            "step",
            key=N_(
                "{what} was approved by {who} on {day}: the nightly run takes it once it is due"
            ),
            what=what,
            who=latest.decided_by,
            day=latest.decided_on,
        )
    request = ApprovalRequest(
        case_id=case.id or 0,
        step=step,
        status="pending",
        requested_on=today,
        reason=why,
        requested_by=actor.username,
    )
    session.add(request)
    session.flush()
    for one in documents:
        session.add(
            WriteOffDocument(
                request_id=request.id or 0,
                kind=one.kind,
                issued_by=one.issued_by,
                reference=one.reference,
                issued_on=one.issued_on,
            )
        )
    data: dict[str, object] = {"request_id": request.id, "step": step, "reason": why}
    message = f"{actor.username} asked a supervisor to approve {what}: {why}"
    if documents:
        message += " (on " + "; ".join(one.describe() for one in documents) + ")"
        data["documents"] = [
            {
                "kind": one.kind,
                "issued_by": one.issued_by,
                "reference": one.reference,
                "issued_on": str(one.issued_on),
            }
            for one in documents
        ]
    log(
        session,
        case,
        kind="approval_requested",
        actor=actor,
        today=today,
        step=step,
        message=message,
        data=data,
    )
    return request


def decide_approval(
    *,
    session: Session,
    actor: Actor,
    case_id: int,
    today: date,
    request_id: int,
    approve: bool,
    reason: str,
    policy: Policy,
) -> ApprovalRequest:
    """A supervisor approves or rejects a request; an approved write-off writes the case off.

    Approving an enforcement step checks its legal preconditions again, as the case stands now.
    """
    doing = N_("approve or reject an enforcement step")
    case = acting_on(session, actor, case_id, doing=doing, roles=SUPERVISORS)
    request = session.get(ApprovalRequest, request_id)
    if request is None or request.case_id != case_id:
        raise ActionRefused(
            "request",
            key=N_("case {case} has no approval request {request}"),
            case=case_id,
            request=request_id,
        )
    if request.status != "pending":
        key = (
            N_("the request for {step} was already {status} by {who} on {day}")
            if request.decided_by
            else N_("the request for {step} was already {status} by a supervisor on {day}")
        )
        raise ActionRefused(
            "request",
            key=key,
            step=Term("step", request.step, request.step),
            status=Term("approval", request.status, request.status),
            who=request.decided_by,
            day=request.decided_on,
        )
    if request.requested_by == actor.username:
        # Four eyes: an enforcement step or a write-off is decided by someone other than
        # whoever asked for it, an admin included.
        raise ActionRefused(
            "request",
            key=N_("you asked for {step} yourself: another supervisor decides it"),
            step=Term("step", request.step, request.step),
        )
    why = text("reason", reason)
    if approve and request.step != WRITE_OFF:
        require_step(session, case_id, request.step, today=today, policy=policy, field="request")
    verdict = "approved" if approve else "rejected"
    request.status = verdict
    request.decided_by = actor.username
    request.decided_on = today
    request.decision_reason = why
    session.add(request)
    log(
        session,
        case,
        kind="approval_granted" if approve else "approval_rejected",
        actor=actor,
        today=today,
        step=request.step,
        message=f"{actor.username} {verdict} {request.step.replace('_', ' ')}: {why}",
        data={"request_id": request.id, "step": request.step, "reason": why},
    )
    if approve and request.step == WRITE_OFF:
        try:
            transition(
                session,
                case,
                CaseStatus.WRITTEN_OFF,
                on_date=today,
                actor=actor.username,
                reason=f"write-off approved by {actor.username}: {why}",
                data={"cause": "write_off", "reason": why},
            )
        except IllegalTransition as exc:
            raise ActionRefused(
                "request",
                str(exc),
                key=N_("case {case} is {status} and cannot become {to}")
                if case.status != CaseStatus.WRITTEN_OFF.value
                else N_(
                    "case {case} is {status} and cannot become {to}: a written-off case is final"
                ),
                case=case_id,
                status=Term("status", case.status, describe(case.status)),
                to=Term("status", CaseStatus.WRITTEN_OFF.value, describe(CaseStatus.WRITTEN_OFF)),
            ) from None
    return request


@dataclass(frozen=True)
class DocumentLine:
    """A write-off's supporting document as the approvals page lists it."""

    kind: str
    issued_by: str
    reference: str
    issued_on: date


@dataclass(frozen=True)
class PendingApproval:
    request_id: int
    case_id: int
    step: str
    requested_on: date
    reason: str
    employer_code: str
    employer_name: str
    district: str
    stage_step: str | None
    documents: tuple[DocumentLine, ...] = ()


def pending_approvals(session: Session, *, actor: Actor) -> list[PendingApproval]:
    """The requests waiting for a supervisor in the actor's districts, oldest first."""
    actor.require(*SUPERVISORS, doing=N_("see the approvals queue"))
    query = (
        select(
            col(ApprovalRequest.id),
            col(ApprovalRequest.case_id),
            col(ApprovalRequest.step),
            col(ApprovalRequest.requested_on),
            col(ApprovalRequest.reason),
            col(Employer.code),
            col(Employer.name),
            col(Employer.district),
            col(Case.stage_step),
        )
        .join(Case, col(Case.id) == col(ApprovalRequest.case_id))
        .join(Employer, col(Employer.id) == col(Case.employer_id))
        .where(col(ApprovalRequest.status) == "pending")
        .order_by(col(ApprovalRequest.requested_on), col(ApprovalRequest.id))
    )
    if not actor.every_district:
        query = query.where(col(Employer.district).in_(sorted(actor.districts)))
    pending = [PendingApproval(*row) for row in session.execute(query)]
    write_offs = [p.request_id for p in pending if p.step == WRITE_OFF]
    papers: dict[int, list[DocumentLine]] = {}
    if write_offs:
        rows = session.execute(
            select(
                col(WriteOffDocument.request_id),
                col(WriteOffDocument.kind),
                col(WriteOffDocument.issued_by),
                col(WriteOffDocument.reference),
                col(WriteOffDocument.issued_on),
            )
            .where(col(WriteOffDocument.request_id).in_(write_offs))
            .order_by(col(WriteOffDocument.id))
        )
        for request_id, *line in rows:
            papers.setdefault(request_id, []).append(DocumentLine(*line))
    return [replace(p, documents=tuple(papers.get(p.request_id, ()))) for p in pending]
