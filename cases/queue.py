"""Read side: case lists and one case in full, with figures as of a given date."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from cases import ledger
from cases.access import CaseNotFound
from cases.accounts import case_items, case_position, load_books
from cases.models import (
    ApprovalRequest,
    Case,
    Employer,
    Payment,
    PromiseToPay,
    User,
)
from cases.money import format_yuan
from cases.states import CLOSED, CaseStatus
from cases.timeline import case_events, case_notices


@dataclass(frozen=True)
class CaseSummary:
    case_id: int
    employer_code: str
    employer_name: str
    district: str
    status: str
    stage: int
    stage_step: str | None
    opened_on: date
    first_overdue_on: date
    officer: str | None
    principal_outstanding: int
    late_fee: int
    total_due: int
    days_overdue: int

    def as_json(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "employer_code": self.employer_code,
            "employer_name": self.employer_name,
            "district": self.district,
            "status": self.status,
            "stage": self.stage_step or "none",
            "stage_level": self.stage,
            "opened_on": str(self.opened_on),
            "first_overdue_on": str(self.first_overdue_on),
            "officer": self.officer,
            "principal_outstanding": format_yuan(self.principal_outstanding),
            "late_fee": format_yuan(self.late_fee),
            "total_due": format_yuan(self.total_due),
            "days_overdue": self.days_overdue,
        }


def list_cases(
    session: Session,
    *,
    as_of: date,
    rules: ledger.FeeRules,
    statuses: Sequence[str] | None = None,
    district: str | None = None,
    include_closed: bool = False,
) -> list[CaseSummary]:
    """Cases with their figures as of ``as_of``, largest total due first."""
    query = (
        select(
            Case, col(Employer.code), col(Employer.name), col(Employer.district), col(User.username)
        )
        .join(Employer, col(Employer.id) == col(Case.employer_id))
        .outerjoin(User, col(User.id) == col(Case.officer_id))
    )
    if statuses:
        query = query.where(col(Case.status).in_(list(statuses)))
    elif not include_closed:
        query = query.where(col(Case.status).not_in([s.value for s in CLOSED]))
    if district:
        query = query.where(col(Employer.district) == district)
    rows = session.execute(query).all()
    books = load_books(session, [case.employer_id for case, *_ in rows])
    summaries = []
    for case, code, name, district_name, officer in rows:
        book = books[case.employer_id]
        pos = case_position(book, case.id, as_of, rules)
        days = max((p.days_overdue for p in pos.items.values()), default=0)
        summaries.append(
            CaseSummary(
                case_id=case.id,
                employer_code=code,
                employer_name=name,
                district=district_name,
                status=case.status,
                stage=case.stage,
                stage_step=case.stage_step,
                opened_on=case.opened_on,
                first_overdue_on=case.first_overdue_on,
                officer=officer,
                principal_outstanding=pos.principal_outstanding,
                late_fee=pos.fee_outstanding,
                total_due=pos.total_due,
                days_overdue=days,
            )
        )
    summaries.sort(key=lambda s: (-s.total_due, s.employer_code))
    return summaries


def case_detail(
    session: Session, employer_code: str, *, as_of: date, rules: ledger.FeeRules
) -> dict[str, Any]:
    """The employer's current case (the open one, else the latest) as a JSON-ready dict."""
    employer = session.execute(
        select(Employer).where(col(Employer.code) == employer_code.strip().upper())
    ).scalar_one_or_none()
    if employer is None:
        raise CaseNotFound(f"no employer with code {employer_code} in the case store")
    case = session.execute(
        select(Case)
        .where(col(Case.employer_id) == employer.id)
        .order_by(col(Case.closed_on).is_not(None), col(Case.id).desc())
        .limit(1)
    ).scalar_one_or_none()
    if case is None:
        raise CaseNotFound(f"employer {employer_code} has no case")
    assert employer.id is not None and case.id is not None
    book = load_books(session, [employer.id])[employer.id]
    pos, lines = case_items(book, case.id, as_of, rules)
    items = [
        {
            "period": line.period,
            "insurance": line.insurance,
            "kind": line.kind,
            "due_date": str(line.due_date),
            "amount_due": format_yuan(line.amount_due),
            "principal_paid": format_yuan(line.principal_paid),
            "principal_outstanding": format_yuan(line.principal_outstanding),
            "late_fee_accrued": format_yuan(line.fee_accrued),
            "late_fee_paid": format_yuan(line.fee_paid),
            "late_fee": format_yuan(line.fee_outstanding),
            "total_due": format_yuan(line.total_outstanding),
            "days_overdue": line.days_overdue,
            "settled_on": str(line.settled_on) if line.settled_on else None,
        }
        for line in lines
    ]
    officer = session.get(User, case.officer_id) if case.officer_id else None
    return {
        "case_id": case.id,
        "employer_code": employer.code,
        "employer_name": employer.name,
        "district": employer.district,
        "contact_name": employer.contact_name,
        "mobile": employer.mobile,
        "address": employer.address,
        "sms_opted_out": employer.sms_opted_out,
        "status": case.status,
        "closed": CaseStatus(case.status) in CLOSED,
        "stage": case.stage_step or "none",
        "stage_level": case.stage,
        "opened_on": str(case.opened_on),
        "closed_on": str(case.closed_on) if case.closed_on else None,
        "first_overdue_on": str(case.first_overdue_on),
        "policy": f"{case.policy_name} {case.policy_version}",
        "officer": officer.username if officer else None,
        "flags": {"uncooperative": case.uncooperative, "malicious": case.malicious},
        "as_of": str(as_of),
        "principal_outstanding": format_yuan(pos.principal_outstanding),
        "late_fee": format_yuan(pos.fee_outstanding),
        "total_due": format_yuan(pos.total_due),
        "credit": format_yuan(pos.credit),
        "items": items,
        "payments": [
            {
                "reference": p.reference,
                "amount": format_yuan(p.amount_fen),
                "paid_on": str(p.paid_on),
            }
            for p in session.execute(
                select(Payment)
                .where(col(Payment.employer_id) == employer.id)
                .order_by(col(Payment.paid_on), col(Payment.id))
            ).scalars()
        ],
        "promises": [
            {
                "amount": format_yuan(p.amount_fen),
                "due_on": str(p.due_on),
                "made_on": str(p.made_on),
                "status": p.status,
            }
            for p in session.execute(
                select(PromiseToPay).where(col(PromiseToPay.case_id) == case.id)
            ).scalars()
        ],
        "approvals": [
            {"step": a.step, "status": a.status, "requested_on": str(a.requested_on)}
            for a in session.execute(
                select(ApprovalRequest).where(col(ApprovalRequest.case_id) == case.id)
            ).scalars()
        ],
        "notices": [
            {
                "id": n.id,
                "step": n.step,
                "channel": n.channel,
                "status": n.status,
                "document_number": n.document_number,
                "issued_on": str(n.issued_on),
                "served_on": str(n.served_on) if n.served_on else None,
                "pdf": bool(n.pdf),
            }
            for n in case_notices(session, case.id)
        ],
        "events": [
            {
                "on_date": str(e.on_date),
                "at": e.at.isoformat(),
                "kind": e.kind,
                "actor": e.actor,
                "message": e.message,
                "step": e.step,
                "policy_version": e.policy_version,
            }
            for e in case_events(session, case.id)
        ],
        "item_count": len(items),
        "open_items": sum(1 for i in items if i["principal_outstanding"] != "0.00"),
    }
