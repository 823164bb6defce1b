"""Holds on enforcement: legal challenges against the agency's decisions, force-majeure deferrals.

An employer may challenge a decision (a forced transfer, a fine) by administrative
reconsideration (行政复议) or an administrative lawsuit (行政诉讼); while a challenge is open, the
nightly run takes no enforcement step. When the body or court revokes or changes the decision, the
case goes on hold for an officer to review what was done under it.

A force-majeure deferral (up to one year, with provincial approval) pauses collection and no late
fee accrues on the days it covers (``cases.accounts.load_books`` gives the ledger those days). A
supervisor grants it, may end it early once the cause has passed, or revoke it when it was granted
in error: a revoked deferral spares no day.

``load_challenge_facts`` and ``load_deferral_facts`` give the nightly decision what it reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_, select
from sqlmodel import Session, col

from cases import locks
from cases.access import Actor
from cases.accounts import FEE_FREE_STATUSES, chunked, load_books, rebuild_allocations
from cases.bulk import among
from cases.casework import PolicyRef, load_open_cases
from cases.deadlines import add_months
from cases.decide import ChallengeFact, DeferralFact
from cases.messages import N_, Term
from cases.models import Case, Deferral, Employer, LegalChallenge
from cases.payments import settle_employers
from cases.policy import Policy
from cases.refusals import (
    OFFICERS,
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
from cases.states import CaseStatus, can_transition, transition

CHALLENGE_KINDS = ("reconsideration", "lawsuit")
CHALLENGE_OUTCOMES = ("upheld", "revoked", "changed", "withdrawn")
# A revoked or changed decision: what was done under it needs an officer's review.
REVIEW_OUTCOMES = frozenset({"revoked", "changed"})
NAME_MAX = 200  # a reconsideration body's or a court's name
REFERENCE_MAX = 100  # a case or document number

_CHALLENGE_WORDS = {"reconsideration": "administrative reconsideration", "lawsuit": "lawsuit"}


# --- legal challenges ---------------------------------------------------------------------------


def record_challenge(
    *,
    session: Session,
    actor: Actor,
    case_id: int,
    today: date,
    kind: str,
    filed_on: date,
    body: str,
    reference: str,
    against: str | None = None,
) -> LegalChallenge:
    """The employer filed a reconsideration or a lawsuit: enforcement waits while it is open."""
    doing = N_("record a legal challenge")
    case = acting_on(session, actor, case_id, doing=doing, roles=OFFICERS)
    choice("kind", kind, CHALLENGE_KINDS, kind="challenge")
    not_after_today("filed_on", filed_on, today, what=N_("a filing"))
    where = written("body", body, limit=NAME_MAX)
    number = written("reference", reference, limit=REFERENCE_MAX)
    target = text("against", against, required=False, limit=NAME_MAX) or None
    still_open(case, doing=doing)
    same = session.execute(
        select(LegalChallenge).where(
            col(LegalChallenge.case_id) == case_id,
            col(LegalChallenge.reference) == number,
            col(LegalChallenge.outcome).is_(None),
        )
    ).scalar_one_or_none()
    if same is not None:
        raise ActionRefused(
            "reference",
            key=N_("challenge {reference} is already recorded (filed {day}) and still open"),
            reference=number,
            day=same.filed_on,
        )
    challenge = LegalChallenge(
        case_id=case_id,
        kind=kind,
        filed_on=filed_on,
        body=where,
        reference=number,
        against=target,
        recorded_by=actor.username,
    )
    session.add(challenge)
    session.flush()
    log(
        session,
        case,
        kind="challenge_filed",
        actor=actor,
        today=today,
        message=(
            f"{actor.username} recorded the employer's {_CHALLENGE_WORDS[kind]} {number} "
            f"filed with {where} on {filed_on}"
            + (f" against {target}" if target else "")
            + ": enforcement waits for its outcome"
        ),
        data={
            "challenge_id": challenge.id,
            "kind": kind,
            "filed_on": str(filed_on),
            "body": where,
            "reference": number,
            "against": target,
        },
    )
    return challenge


def record_challenge_outcome(
    *,
    session: Session,
    actor: Actor,
    case_id: int,
    today: date,
    challenge_id: int,
    outcome: str,
    decided_on: date,
    note: str | None,
) -> LegalChallenge:
    """What the body or court decided; a revoked or changed decision puts the case on hold."""
    doing = N_("record a challenge's outcome")
    case = acting_on(session, actor, case_id, doing=doing, roles=OFFICERS)
    challenge = session.get(LegalChallenge, challenge_id)
    if challenge is None or challenge.case_id != case_id:
        raise ActionRefused(
            "challenge",
            key=N_("case {case} has no legal challenge {challenge}"),
            case=case_id,
            challenge=challenge_id,
        )
    if challenge.outcome is not None:
        raise ActionRefused(
            "challenge",
            key=N_("challenge {reference} was already decided on {day}: {outcome}"),
            reference=challenge.reference,
            day=challenge.decided_on,
            outcome=Term("challenge_outcome", challenge.outcome, challenge.outcome),
        )
    choice("outcome", outcome, CHALLENGE_OUTCOMES, kind="challenge_outcome")
    not_after_today("decided_on", decided_on, today, what=N_("a decision"))
    if decided_on < challenge.filed_on:
        raise ActionRefused(
            "decided_on",
            key=N_("{day} is before the challenge was filed ({filed})"),
            day=decided_on,
            filed=challenge.filed_on,
        )
    said = text("note", note, required=False) or None
    challenge.outcome = outcome
    challenge.decided_on = decided_on
    session.add(challenge)
    what = f"{_CHALLENGE_WORDS[challenge.kind]} {challenge.reference}"
    log(
        session,
        case,
        kind="challenge_decided",
        actor=actor,
        today=today,
        message=f"{what} decided on {decided_on}: {outcome}" + (f". {said}" if said else ""),
        data={
            "challenge_id": challenge.id,
            "kind": challenge.kind,
            "reference": challenge.reference,
            "outcome": outcome,
            "decided_on": str(decided_on),
            "note": said,
        },
    )
    if outcome in REVIEW_OUTCOMES and can_transition(case.status, CaseStatus.ON_HOLD):
        reason = f"the decision was {outcome} on {what}: an officer reviews the case"
        transition(
            session,
            case,
            CaseStatus.ON_HOLD,
            on_date=today,
            actor=actor.username,
            reason=reason,
            data={
                "cause": "challenge_decided",
                "reason": reason,
                "challenge_id": challenge.id,
                "reference": challenge.reference,
                "outcome": outcome,
            },
        )
    return challenge


# --- force-majeure deferrals --------------------------------------------------------------------


def year_after(day: date) -> date:
    """The same calendar date a year later; 29 February's is 28 February (the month's end)."""
    return add_months(day, 12)


def grant_deferral(
    *,
    session: Session,
    actor: Actor,
    case_id: int,
    today: date,
    starts_on: date,
    ends_on: date,
    approval_reference: str,
    reason: str,
    policy: Policy | None = None,
) -> Deferral:
    """A supervisor records a provincially approved deferral: no late fee from ``starts_on`` to
    ``ends_on`` inclusive, and collection pauses.

    Every position computed from now on leaves the deferred days out. With ``policy``, the
    employer's payments are also applied again at once (``_replay``); without it, the next
    payment or import does that.
    """
    doing = N_("grant a deferral")
    case = acting_on(session, actor, case_id, doing=doing, roles=SUPERVISORS)
    if ends_on < starts_on:
        raise ActionRefused(
            "ends_on",
            key=N_("{day} is before the deferral starts ({start})"),
            day=ends_on,
            start=starts_on,
        )
    limit = year_after(starts_on)
    if ends_on >= limit:
        raise ActionRefused(
            "ends_on",
            key=N_("a deferral lasts at most a year: from {start} it ends before {limit}"),
            start=starts_on,
            limit=limit,
        )
    approval = written("approval_reference", approval_reference, limit=REFERENCE_MAX)
    why = text("reason", reason)
    still_open(case, doing=doing)
    clash = session.execute(
        select(Deferral)
        .where(
            col(Deferral.case_id) == case_id,
            col(Deferral.status).in_(FEE_FREE_STATUSES),
            col(Deferral.starts_on) <= ends_on,
            col(Deferral.ends_on) >= starts_on,
        )
        .order_by(col(Deferral.starts_on))
        .limit(1)
    ).scalar_one_or_none()
    if clash is not None:
        raise ActionRefused(
            "starts_on",
            key=N_("the case's deferral {approval} already covers {start} to {end}"),
            approval=clash.approval_reference,
            start=clash.starts_on,
            end=clash.ends_on,
        )
    deferral = Deferral(
        case_id=case_id,
        starts_on=starts_on,
        ends_on=ends_on,
        approval_reference=approval,
        reason=why,
        status="active",
        recorded_by=actor.username,
    )
    session.add(deferral)
    session.flush()
    log(
        session,
        case,
        kind="deferral_granted",
        actor=actor,
        today=today,
        message=(
            f"{actor.username} granted a force-majeure deferral from {starts_on} to {ends_on} "
            f"(approval {approval}): no late fee and no escalation meanwhile: {why}"
        ),
        data={
            "deferral_id": deferral.id,
            "starts_on": str(starts_on),
            "ends_on": str(ends_on),
            "approval_reference": approval,
            "reason": why,
        },
    )
    _replay(session, case, policy, actor=actor, today=today, source=f"deferral {approval}")
    return deferral


def end_deferral(
    *,
    session: Session,
    actor: Actor,
    case_id: int,
    today: date,
    deferral_id: int,
    ended_on: date,
    reason: str,
    policy: Policy | None = None,
) -> Deferral:
    """End a deferral early: ``ended_on`` becomes its last day; the late fee runs again after."""
    doing = N_("end a deferral")
    case = acting_on(session, actor, case_id, doing=doing, roles=SUPERVISORS)
    deferral = _active_deferral(session, case_id, deferral_id)
    not_after_today("ended_on", ended_on, today, what=N_("the end of a deferral"))
    if ended_on < deferral.starts_on:
        raise ActionRefused(
            "ended_on",
            key=N_("{day} is before the deferral starts ({start}): revoke it instead"),
            day=ended_on,
            start=deferral.starts_on,
        )
    if ended_on >= deferral.ends_on:
        raise ActionRefused(
            "ended_on",
            key=N_("the deferral ends on {end} anyway: {day} would not end it early"),
            end=deferral.ends_on,
            day=ended_on,
        )
    why = text("reason", reason)
    planned = deferral.ends_on
    deferral.ends_on = ended_on
    deferral.status = "ended"
    session.add(deferral)
    log(
        session,
        case,
        kind="deferral_ended",
        actor=actor,
        today=today,
        message=(
            f"{actor.username} ended the deferral {deferral.approval_reference} on {ended_on} "
            f"instead of {planned}: {why}"
        ),
        data={
            "deferral_id": deferral.id,
            "approval_reference": deferral.approval_reference,
            "ended_on": str(ended_on),
            "planned_end": str(planned),
            "reason": why,
        },
    )
    source = f"deferral {deferral.approval_reference} ended"
    _replay(session, case, policy, actor=actor, today=today, source=source)
    return deferral


def revoke_deferral(
    *,
    session: Session,
    actor: Actor,
    case_id: int,
    today: date,
    deferral_id: int,
    reason: str,
    policy: Policy | None = None,
) -> Deferral:
    """Revoke a deferral granted in error: it spares no day, and the late fee is as before."""
    doing = N_("revoke a deferral")
    case = acting_on(session, actor, case_id, doing=doing, roles=SUPERVISORS)
    deferral = _active_deferral(session, case_id, deferral_id)
    why = text("reason", reason)
    deferral.status = "revoked"
    session.add(deferral)
    log(
        session,
        case,
        kind="deferral_revoked",
        actor=actor,
        today=today,
        message=(
            f"{actor.username} revoked the deferral {deferral.approval_reference} "
            f"({deferral.starts_on} to {deferral.ends_on}): {why}"
        ),
        data={
            "deferral_id": deferral.id,
            "approval_reference": deferral.approval_reference,
            "reason": why,
        },
    )
    source = f"deferral {deferral.approval_reference} revoked"
    _replay(session, case, policy, actor=actor, today=today, source=source)
    return deferral


def _replay(
    session: Session,
    case: Case,
    policy: Policy | None,
    *,
    actor: Actor,
    today: date,
    source: str,
) -> None:
    """Apply the employer's payments again now that the fee-free days changed: a payment made
    during or after them owes less late fee, so its allocations change and a case the change
    settles closes as paid, as a payment file would leave them."""
    if policy is None:
        return
    locks.hold(session, locks.IMPORTS, holder=f"{actor.username} {source}")
    session.flush()
    books = load_books(session, [case.employer_id])
    rebuild_allocations(session, books.values(), policy.fee_rules)
    # As after a payment: promises now kept, a settled case closed, instalments settled.
    settle_employers(
        session,
        books,
        load_open_cases(session, books.keys()),
        today=today,
        policy=PolicyRef(name=policy.name, version=policy.version, fee_rules=policy.fee_rules),
        actor=actor.username,
        source=source,
    )
    session.refresh(case)  # reconciling may have closed it, by statements the ORM did not see


def _active_deferral(session: Session, case_id: int, deferral_id: int) -> Deferral:
    deferral = session.get(Deferral, deferral_id)
    if deferral is None or deferral.case_id != case_id:
        raise ActionRefused(
            "deferral",
            key=N_("case {case} has no deferral {deferral}"),
            case=case_id,
            deferral=deferral_id,
        )
    if deferral.status != "active":
        raise ActionRefused(
            "deferral",
            key=N_("the deferral {approval} is {status} already"),
            approval=deferral.approval_reference,
            status=Term("deferral", deferral.status, deferral.status),
        )
    return deferral


# --- what the nightly decision reads ------------------------------------------------------------


def load_challenge_facts(
    session: Session, case_ids: Iterable[int], as_of: date
) -> dict[int, ChallengeFact]:
    """Per case, the earliest challenge filed by ``as_of`` and still open at the end of that day
    (no outcome yet, or decided after ``as_of``); cases without one are left out."""
    facts: dict[int, ChallengeFact] = {}
    for part in chunked(sorted(set(case_ids))):
        rows = session.execute(
            select(
                col(LegalChallenge.case_id),
                col(LegalChallenge.kind),
                col(LegalChallenge.filed_on),
                col(LegalChallenge.reference),
            )
            .where(
                among(col(LegalChallenge.case_id), part),
                col(LegalChallenge.filed_on) <= as_of,
                or_(
                    col(LegalChallenge.outcome).is_(None),
                    col(LegalChallenge.decided_on) > as_of,
                ),
            )
            .order_by(col(LegalChallenge.filed_on), col(LegalChallenge.id))
        )
        for case_id, kind, filed_on, reference in rows:
            facts.setdefault(case_id, ChallengeFact(kind, filed_on, reference))
    return facts


def load_deferral_facts(
    session: Session, case_ids: Iterable[int], as_of: date
) -> dict[int, DeferralFact]:
    """Per case, the deferral covering ``as_of``, else the next one starting after it; a revoked
    deferral never counts, and cases without one are left out."""
    facts: dict[int, DeferralFact] = {}
    for part in chunked(sorted(set(case_ids))):
        rows = session.execute(
            select(
                col(Deferral.case_id),
                col(Deferral.starts_on),
                col(Deferral.ends_on),
                col(Deferral.approval_reference),
            )
            .where(
                among(col(Deferral.case_id), part),
                col(Deferral.status).in_(FEE_FREE_STATUSES),
                col(Deferral.ends_on) >= as_of,
            )
            .order_by(col(Deferral.starts_on), col(Deferral.id))
        )
        # Deferrals of a case do not overlap, so in date order the first one ending on or after
        # as_of is either the one covering it or the next one ahead.
        for case_id, starts_on, ends_on, approval in rows:
            facts.setdefault(case_id, DeferralFact(starts_on, ends_on, approval))
    return facts


# --- the list of holds --------------------------------------------------------------------------


@dataclass(frozen=True)
class HoldLine:
    """One open challenge or one deferral in force or ahead, as the holds list shows it."""

    case_id: int
    employer_code: str
    employer_name: str
    district: str
    what: str  # "reconsideration" | "lawsuit" | "deferral"
    record_id: int
    reference: str  # the challenge's case number or the deferral's approval
    starts_on: date  # filed on, for a challenge
    ends_on: date | None  # a deferral's last day
    detail: str  # the body or court, or the deferral's reason


def open_holds(
    session: Session, *, actor: Actor, today: date, district: str | None = None
) -> list[HoldLine]:
    """Open challenges and deferrals not yet over on ``today``, in the actor's districts."""
    actor.require(*OFFICERS, doing=N_("see the holds"))
    employer = (col(Employer.code), col(Employer.name), col(Employer.district))

    challenges = (
        select(
            col(LegalChallenge.case_id),
            *employer,
            col(LegalChallenge.kind),
            col(LegalChallenge.id),
            col(LegalChallenge.reference),
            col(LegalChallenge.filed_on),
            col(LegalChallenge.body),
        )
        .join(Case, col(Case.id) == col(LegalChallenge.case_id))
        .join(Employer, col(Employer.id) == col(Case.employer_id))
        .where(col(LegalChallenge.outcome).is_(None))
    )
    deferrals = (
        select(
            col(Deferral.case_id),
            *employer,
            col(Deferral.id),
            col(Deferral.approval_reference),
            col(Deferral.starts_on),
            col(Deferral.ends_on),
            col(Deferral.reason),
        )
        .join(Case, col(Case.id) == col(Deferral.case_id))
        .join(Employer, col(Employer.id) == col(Case.employer_id))
        # As the nightly run reads them: a deferral ended early still holds to its new last day.
        .where(col(Deferral.status).in_(FEE_FREE_STATUSES), col(Deferral.ends_on) >= today)
    )
    if district is not None:
        challenges = challenges.where(col(Employer.district) == district)
        deferrals = deferrals.where(col(Employer.district) == district)
    if not actor.every_district:
        mine = sorted(actor.districts)
        challenges = challenges.where(col(Employer.district).in_(mine))
        deferrals = deferrals.where(col(Employer.district).in_(mine))
    lines = [
        HoldLine(case_id, code, name, where, kind, rid, ref, filed, None, body)
        for case_id, code, name, where, kind, rid, ref, filed, body in session.execute(challenges)
    ]
    lines.extend(
        HoldLine(case_id, code, name, where, "deferral", rid, ref, start, end, why)
        for case_id, code, name, where, rid, ref, start, end, why in session.execute(deferrals)
    )
    return sorted(lines, key=lambda h: (h.district, h.employer_code, h.starts_on, h.record_id))
