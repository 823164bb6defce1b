"""Deferred-payment agreements at night: settling each running agreement's instalments as of the
night (``cases.agreement_standing``), logging the agreements that end (breached, completed) or
start again, and the facts the night's decisions read about them (``cases.decide``).
Settling the same night twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import or_, select
from sqlmodel import Session, col

from cases.accounts import chunked
from cases.agreement_standing import Standing, load_agreements, standing_of
from cases.bulk import among
from cases.decide import AgreementFact
from cases.models import (
    Case,
    CaseEvent,
    PaymentAgreement,
)
from cases.money import format_yuan

SYSTEM = "system:agreements"


# --------------------------------------------------------------------------- settling nightly


@dataclass
class AgreementCounts:
    """What settling did: agreements looked at, instalment rows changed, agreements that ended."""

    agreements: int = 0
    instalments_changed: int = 0
    breached: int = 0
    completed: int = 0
    reopened: int = 0  # ended on a later night than the one settled: active again for it
    cases: set[int] = field(default_factory=set)  # the cases whose agreement changed

    def add(self, other: AgreementCounts) -> None:
        self.agreements += other.agreements
        self.instalments_changed += other.instalments_changed
        self.breached += other.breached
        self.completed += other.completed
        self.reopened += other.reopened
        self.cases |= other.cases


def _agreements_on(
    session: Session, case_ids: Iterable[int], as_of: date
) -> list[PaymentAgreement]:
    """The agreements of these cases signed by ``as_of``, cancelled ones left alone."""
    found: list[PaymentAgreement] = []
    for part in chunked(sorted(set(case_ids))):
        found += session.execute(
            select(PaymentAgreement)
            .where(
                among(col(PaymentAgreement.case_id), part),
                col(PaymentAgreement.signed_on) <= as_of,
                col(PaymentAgreement.status) != "cancelled",
            )
            .order_by(col(PaymentAgreement.id))
        ).scalars()
    return found


def settle_instalments(
    session: Session, *, case_ids: Iterable[int], as_of: date
) -> AgreementCounts:
    """Bring these cases' agreements to where they stand at the end of ``as_of``.

    Writes each instalment's paid amount, status and settling day and each agreement's status and
    end; logs a breach (once per instalment missed) and a completion (once per agreement) on the
    day it happened. Settling the same night again changes nothing; settling an earlier night
    shows the agreements as they were then. The caller commits.
    """
    agreements = _agreements_on(session, case_ids, as_of)
    counts = AgreementCounts()
    if not agreements:
        return counts
    loaded = load_agreements(session, agreements)
    logged = _logged(session, [a.case_id for a in agreements])
    for agreement in agreements:
        counts.agreements += 1
        now = standing_of(loaded, agreement, as_of)
        changed = False
        for row, state in zip(loaded.schedules[agreement.id or 0], now.instalments, strict=True):
            if (row.paid_fen, row.status, row.settled_on) != (
                state.paid,
                state.status,
                state.settled_on,
            ):
                row.paid_fen, row.status, row.settled_on = (
                    state.paid,
                    state.status,
                    state.settled_on,
                )
                session.add(row)
                counts.instalments_changed += 1
                changed = True
        if (agreement.status, agreement.ended_on) != (now.status, now.ended_on):
            if agreement.status != "active" and now.status == "active":
                counts.reopened += 1
            agreement.status, agreement.ended_on = now.status, now.ended_on
            session.add(agreement)
            changed = True
        if changed:
            counts.cases.add(agreement.case_id)
        if _log_end(session, agreement, now, logged):
            counts.cases.add(agreement.case_id)
            if now.status == "breached":
                counts.breached += 1
            else:
                counts.completed += 1
    session.flush()
    return counts


def _logged(session: Session, case_ids: list[int]) -> set[tuple[str, int, int | None]]:
    """The agreement ends already logged: (kind, agreement id, instalment seq)."""
    seen: set[tuple[str, int, int | None]] = set()
    for part in chunked(sorted(set(case_ids))):
        for kind, data in session.execute(
            select(col(CaseEvent.kind), col(CaseEvent.data)).where(
                among(col(CaseEvent.case_id), part),
                col(CaseEvent.kind).in_(["agreement_breached", "agreement_completed"]),
            )
        ):
            seen.add((kind, int(data.get("agreement_id", 0)), data.get("seq")))
    return seen


def _log_end(
    session: Session,
    agreement: PaymentAgreement,
    now: Standing,
    logged: set[tuple[str, int, int | None]],
) -> bool:
    """Log the agreement's breach or completion unless it is on record already."""
    if now.status not in ("breached", "completed") or now.ended_on is None:
        return False
    agreement_id = agreement.id or 0
    data: dict[str, Any] = {"agreement_id": agreement_id, "signed_on": str(agreement.signed_on)}
    if now.status == "breached" and now.missed is not None:
        missed = now.missed
        key: tuple[str, int, int | None] = ("agreement_breached", agreement_id, missed.seq)
        short = missed.amount - missed.paid
        message = (
            f"deferred-payment agreement of {agreement.signed_on} breached: instalment "
            f"{missed.seq} of ¥{format_yuan(missed.amount)} due {missed.due_on} was not paid in "
            f"full (¥{format_yuan(short)} missing); escalation resumes"
        )
        data |= {
            "seq": missed.seq,
            "due_on": str(missed.due_on),
            "amount": format_yuan(missed.amount),
            "paid": format_yuan(missed.paid),
            "missing": format_yuan(short),
        }
    else:
        key = ("agreement_completed", agreement_id, None)
        every = all(i.settled_on for i in now.instalments)
        data["by"] = "instalments" if every else "case_paid"
        message = f"deferred-payment agreement of {agreement.signed_on} completed: " + (
            f"all {len(now.instalments)} instalment(s) paid, "
            f"¥{format_yuan(agreement.total_fen)} in all"
            if every
            else "the case's debt is paid"
        )
    if key in logged:
        return False
    logged.add(key)
    session.add(
        CaseEvent(
            case_id=agreement.case_id,
            on_date=now.ended_on,
            kind=key[0],
            actor=SYSTEM,
            message=message,
            data=data,
        )
    )
    return True


def agreements_night(session: Session, *, as_of: date) -> AgreementCounts:
    """Settle every agreement running on ``as_of`` (or that ended after it, for a replayed night),
    before the night decides its cases."""
    case_ids = session.execute(
        select(col(PaymentAgreement.case_id))
        .where(
            col(PaymentAgreement.signed_on) <= as_of,
            col(PaymentAgreement.status) != "cancelled",
            # Running (never ended), or ended after the night: a replayed night sees it running.
            or_(col(PaymentAgreement.ended_on).is_(None), col(PaymentAgreement.ended_on) > as_of),
        )
        .distinct()
    ).scalars()
    return settle_instalments(session, case_ids=case_ids, as_of=as_of)


def after_payments(
    session: Session, *, employer_ids: Iterable[int], as_of: date
) -> AgreementCounts:
    """Settle the agreements of these employers' cases once their payments were applied."""
    ids = sorted(set(employer_ids))
    case_ids: list[int] = []
    for part in chunked(ids):
        case_ids += session.execute(
            select(col(PaymentAgreement.case_id))
            .join(Case, col(Case.id) == col(PaymentAgreement.case_id))
            .where(among(col(Case.employer_id), part))
            .distinct()
        ).scalars()
    return settle_instalments(session, case_ids=case_ids, as_of=as_of)


# ------------------------------------------------------------------------- the night's facts


def load_agreement_facts(
    session: Session, case_ids: Iterable[int], as_of: date
) -> dict[int, AgreementFact]:
    """Each case's latest agreement signed by ``as_of``, as it stood at the end of that night.

    Computed from the schedule and the payments, not from the stored statuses, so a replayed
    night sees the agreement as it was then. A case without one is left out.
    """
    latest: dict[int, PaymentAgreement] = {}
    for part in chunked(sorted(set(case_ids))):
        for agreement in session.execute(
            select(PaymentAgreement)
            .where(
                among(col(PaymentAgreement.case_id), part),
                col(PaymentAgreement.signed_on) <= as_of,
            )
            .order_by(col(PaymentAgreement.signed_on), col(PaymentAgreement.id))
        ).scalars():
            latest[agreement.case_id] = agreement
    if not latest:
        return {}
    loaded = load_agreements(session, list(latest.values()))
    facts: dict[int, AgreementFact] = {}
    for case_id, agreement in latest.items():
        agreement_id = agreement.id or 0
        if agreement.status == "cancelled" and (
            agreement.ended_on is None or agreement.ended_on <= as_of
        ):
            facts[case_id] = AgreementFact(
                agreement_id, agreement.signed_on, "cancelled", None, None
            )
            continue
        now = standing_of(loaded, agreement, as_of)
        following = now.next_due if now.status != "completed" else None
        facts[case_id] = AgreementFact(
            agreement_id=agreement_id,
            signed_on=agreement.signed_on,
            status=now.status,
            next_due_on=following.due_on if following else None,
            missed_on=now.missed.due_on if now.missed else None,
        )
    return facts
