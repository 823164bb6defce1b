"""From the store to ``CaseFacts``: everything ``decide`` needs to know about a case, in bulk."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from cases import ledger
from cases.accounts import case_position, chunked, load_books
from cases.agreement_nights import load_agreement_facts
from cases.bulk import among
from cases.decide import CaseFacts, Decision, PromiseFact, StepRecord, decide
from cases.holds import load_challenge_facts, load_deferral_facts
from cases.models import (
    ApprovalRequest,
    BankInquiry,
    Case,
    CaseEvent,
    Employer,
    EmployerStatement,
    Guarantee,
    LegalChallenge,
    Notice,
    PaymentAgreement,
    PromiseToPay,
)
from cases.notices import FINE_STEP
from cases.policy import Policy
from cases.review import RESPONSE_EVENTS, due_for_review, keep_dates
from cases.statements import load_statement_facts
from cases.states import CLOSED

BATCH = 2000


@dataclass(frozen=True)
class CaseHead:
    case_id: int
    employer_id: int
    employer_code: str
    employer_name: str
    district: str
    status: str
    stage: int
    stage_step: str | None
    first_overdue_on: date
    uncooperative: bool
    malicious: bool
    opted_out: bool
    mobile: str | None
    officer_id: int | None

    @property
    def has_mobile(self) -> bool:
        return self.mobile is not None


def open_case_heads(
    session: Session,
    case_ids: Sequence[int] | None = None,
    district: str | None = None,
    *,
    review_by: date | None = None,
) -> list[CaseHead]:
    """Open cases (of one district, if given), in case order.

    ``review_by``: only the cases due for a decision that night, those whose review date has
    come or was cleared by a new fact (``cases.review``).
    """
    query = (
        select(
            col(Case.id),
            col(Case.employer_id),
            col(Employer.code),
            col(Employer.name),
            col(Employer.district),
            col(Case.status),
            col(Case.stage),
            col(Case.stage_step),
            col(Case.first_overdue_on),
            col(Case.uncooperative),
            col(Case.malicious),
            col(Employer.sms_opted_out),
            col(Employer.mobile),
            col(Case.officer_id),
        )
        .join(Employer, col(Employer.id) == col(Case.employer_id))
        .where(col(Case.status).not_in([s.value for s in CLOSED]))
        .order_by(col(Case.id))
    )
    if case_ids is not None:
        query = query.where(col(Case.id).in_(list(case_ids)))
    if district is not None:
        query = query.where(col(Employer.district) == district)
    if review_by is not None:
        query = query.where(due_for_review(review_by))
    return [CaseHead(*row) for row in session.execute(query)]


def build_facts(
    session: Session, heads: Sequence[CaseHead], *, as_of: date, rules: ledger.FeeRules
) -> list[CaseFacts]:
    """Facts for a batch of cases, as they stand at the end of ``as_of``."""
    case_ids = [h.case_id for h in heads]
    books = load_books(session, [h.employer_id for h in heads])
    steps: dict[int, dict[str, StepRecord]] = defaultdict(dict)
    responses: dict[int, date] = {}
    collateral: set[int] = set()
    promises: dict[int, PromiseToPay] = {}
    balances: dict[int, int] = {}
    approvals: dict[int, dict[str, str]] = defaultdict(dict)
    # Facts dated after as_of (entered ahead, or a replayed night): the decision may change then.
    upcoming: dict[int, date] = {}

    def ahead(case_id: int, on: date | None) -> None:
        if on is not None and on > as_of and (case_id not in upcoming or on < upcoming[case_id]):
            upcoming[case_id] = on

    for part in chunked(case_ids):
        for n in session.execute(
            select(
                col(Notice.case_id),
                col(Notice.step),
                col(Notice.level),
                col(Notice.issued_on),
                col(Notice.served_on),
            )
            .where(among(col(Notice.case_id), part), col(Notice.step) != FINE_STEP)
            .order_by(col(Notice.issued_on))
        ):
            ahead(n.case_id, n.served_on)
            if n.issued_on > as_of:
                ahead(n.case_id, n.issued_on)
                continue
            served = n.served_on if n.served_on and n.served_on <= as_of else None
            known = steps[n.case_id].get(n.step)
            if known is None:
                steps[n.case_id][n.step] = StepRecord(n.step, n.level, n.issued_on, served)
            elif served and (known.served_on is None or served < known.served_on):
                steps[n.case_id][n.step] = StepRecord(n.step, n.level, known.taken_on, served)
        fact_events = (
            among(col(CaseEvent.case_id), part),
            col(CaseEvent.kind).in_(sorted(RESPONSE_EVENTS)),
        )
        for case_id, first in session.execute(
            select(col(CaseEvent.case_id), func.min(col(CaseEvent.on_date)))
            .where(*fact_events, col(CaseEvent.on_date) > as_of)
            .group_by(col(CaseEvent.case_id))
        ):
            ahead(case_id, first)
        for case_id, last in session.execute(
            select(col(CaseEvent.case_id), func.max(col(CaseEvent.on_date)))
            .where(*fact_events, col(CaseEvent.on_date) <= as_of)
            .group_by(col(CaseEvent.case_id))
        ):
            responses[case_id] = last
        for promise in session.execute(
            select(PromiseToPay)
            .where(among(col(PromiseToPay.case_id), part), col(PromiseToPay.status) == "open")
            .order_by(col(PromiseToPay.id))
        ).scalars():
            promises[promise.case_id] = promise
            ahead(promise.case_id, promise.made_on)
        for case_id, registered_on in session.execute(
            select(col(Guarantee.case_id), col(Guarantee.registered_on)).where(
                among(col(Guarantee.case_id), part), col(Guarantee.status) == "active"
            )
        ):
            if registered_on <= as_of:
                collateral.add(case_id)
            else:
                ahead(case_id, registered_on)
        latest_per_account: dict[tuple[int, str], tuple[date, int, int]] = {}
        for inquiry in session.execute(
            select(BankInquiry).where(among(col(BankInquiry.case_id), part))
        ).scalars():
            if inquiry.inquired_on > as_of:
                ahead(inquiry.case_id, inquiry.inquired_on)
                continue
            key = (inquiry.case_id, inquiry.account_number)
            stamp = (inquiry.inquired_on, inquiry.id or 0, inquiry.balance_fen)
            if key not in latest_per_account or stamp > latest_per_account[key]:
                latest_per_account[key] = stamp
        for (case_id, _account), (_, _, balance) in latest_per_account.items():
            balances[case_id] = balances.get(case_id, 0) + balance
        for a in session.execute(
            select(
                col(ApprovalRequest.case_id), col(ApprovalRequest.step), col(ApprovalRequest.status)
            )
            .where(among(col(ApprovalRequest.case_id), part))
            .order_by(col(ApprovalRequest.id))
        ):
            approvals[a.case_id][a.step] = a.status  # the latest request per step counts
        # The enforcement track's records dated after as_of (a replayed night): the decision
        # may change on their day.
        for case_attr, date_attr in (
            (EmployerStatement.case_id, EmployerStatement.received_on),
            (EmployerStatement.case_id, EmployerStatement.reviewed_on),
            (LegalChallenge.case_id, LegalChallenge.filed_on),
            (LegalChallenge.case_id, LegalChallenge.decided_on),
            (PaymentAgreement.case_id, PaymentAgreement.signed_on),
        ):
            case_col, date_col = col(case_attr), col(date_attr)
            for case_id, first in session.execute(
                select(case_col, func.min(date_col))
                .where(among(case_col, part), date_col > as_of)
                .group_by(case_col)
            ):
                ahead(case_id, first)

    statements = load_statement_facts(session, case_ids, as_of)
    agreements = load_agreement_facts(session, case_ids, as_of)
    challenges = load_challenge_facts(session, case_ids, as_of)
    deferrals = load_deferral_facts(session, case_ids, as_of)
    for case_id, deferral in deferrals.items():
        ahead(case_id, deferral.starts_on)  # a deferral ahead holds the case from its first day
    facts = []
    for head in heads:
        book = books[head.employer_id]
        pos = case_position(book, head.case_id, as_of, rules)
        paid_dates = [p.paid_on for p in book.payments if p.paid_on <= as_of]
        promise = promises.get(head.case_id)
        for payment in book.payments:
            ahead(head.case_id, payment.paid_on)
        for item in book.items:
            if item.case_id == head.case_id:
                ahead(head.case_id, item.due_date + timedelta(days=1))  # overdue from then
        facts.append(
            CaseFacts(
                case_id=head.case_id,
                status=head.status,
                first_overdue_on=head.first_overdue_on,
                principal_outstanding=pos.principal_outstanding,
                total_due=pos.total_due,
                has_mobile=head.has_mobile,
                opted_out=head.opted_out,
                uncooperative=head.uncooperative,
                malicious=head.malicious,
                steps=tuple(sorted(steps[head.case_id].values(), key=lambda s: s.level)),
                last_response_on=responses.get(head.case_id),
                last_payment_on=max(paid_dates, default=None),
                promise=PromiseFact(
                    amount=promise.amount_fen,
                    due_on=promise.due_on,
                    made_on=promise.made_on,
                    paid_since=sum(
                        p.amount for p in book.payments if promise.made_on <= p.paid_on <= as_of
                    ),
                )
                if promise
                else None,
                bank_balance=balances.get(head.case_id),
                # A guarantee in force, unless the agreement it secured was broken: then the
                # court is the way left.
                collateral_provided=head.case_id in collateral
                and not (
                    head.case_id in agreements and agreements[head.case_id].status == "breached"
                ),
                approvals=dict(approvals.get(head.case_id, {})),
                upcoming_on=upcoming.get(head.case_id),
                statement=statements.get(head.case_id),
                agreement=agreements.get(head.case_id),
                challenge=challenges.get(head.case_id),
                deferral=deferrals.get(head.case_id),
            )
        )
    return facts


def decisions(
    session: Session,
    *,
    as_of: date,
    policy: Policy,
    batch: int = BATCH,
    district: str | None = None,
    due_only: bool = False,
) -> Iterator[tuple[CaseHead, CaseFacts, Decision]]:
    """Decide every open case (of one district, if given), a batch at a time, in case order.

    ``due_only``: only the cases due for review that night (``open_case_heads``'s ``review_by``).
    """
    heads = open_case_heads(session, district=district, review_by=as_of if due_only else None)
    for start in range(0, len(heads), batch):
        part = heads[start : start + batch]
        for head, facts in zip(
            part, build_facts(session, part, as_of=as_of, rules=policy.fee_rules), strict=True
        ):
            yield head, facts, decide(facts, as_of, policy)


def open_districts(session: Session) -> list[str]:
    """Districts with open cases: the units a night's work is spread over."""
    return list(
        session.execute(
            select(col(Employer.district))
            .join(Case, col(Case.employer_id) == col(Employer.id))
            .where(col(Case.status).not_in([s.value for s in CLOSED]))
            .distinct()
            .order_by(col(Employer.district))
        ).scalars()
    )


def decide_all(session: Session, *, as_of: date, policy: Policy) -> list[dict[str, Any]]:
    """Every open case's decision as a JSON-ready dict (the dry run's output)."""
    return [
        {
            "case_id": head.case_id,
            "employer_code": head.employer_code,
            "employer_name": head.employer_name,
            "district": head.district,
            "status": head.status,
            "stage": head.stage_step or "none",
            "action": d.action,
            "step": d.step.kind if d.step else None,
            "channel": d.channel,
            "level": d.step.level if d.step else None,
            "reason": d.reason,
            "due_on": str(d.due_on) if d.due_on else None,
            "deadline_on": str(d.deadline_on) if d.deadline_on else None,
            "missing_calendar_year": d.missing_calendar_year,
            "skipped": [{"step": s.kind, "why": why} for s, why in d.skipped],
        }
        for head, _, d in decisions(session, as_of=as_of, policy=policy)
    ]


def store_review_dates(
    session: Session, *, as_of: date, policy: Policy, batch: int = BATCH
) -> Counter[str]:
    """Decide every open case on ``as_of`` and keep only when each is next due for a decision.

    What a night leaves behind, without its steps: for a store whose cases were loaded or edited
    outside the nightly run. Returns how many cases got each kind of decision.
    """
    seen: Counter[str] = Counter()
    dates: dict[int, date | None] = {}
    for _head, _facts, decision in decisions(session, as_of=as_of, policy=policy, batch=batch):
        seen[decision.action] += 1
        dates[decision.case_id] = decision.review_on
    keep_dates(session, dates)
    return seen
