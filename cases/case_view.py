"""One case as its page shows it: employer, the arrears with the late fee to a date, what is
pending (promises, approvals, tasks) and the timeline. Amounts are int fen.

The reader must be allowed to see the case (``cases.access``): a case outside their districts is
``CaseNotFound``, like a case that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select
from sqlmodel import Session, SQLModel, col

from cases import ledger
from cases.access import Actor, visible_case
from cases.accounts import ItemLine, case_items, load_books
from cases.models import (
    ApprovalRequest,
    BankInquiry,
    Employer,
    EmployerStatement,
    OfficerTask,
    Payment,
    PromiseToPay,
    User,
)
from cases.queue import TimelineEntry, case_timeline
from cases.states import CLOSED, CaseStatus

M = TypeVar("M", bound=SQLModel)


@dataclass(frozen=True)
class CaseView:
    case_id: int
    employer_id: int
    employer_code: str
    employer_name: str
    district: str
    contact_name: str | None
    mobile: str | None
    address: str | None
    sms_opted_out: bool
    status: str
    closed: bool
    stage: int
    stage_step: str | None
    opened_on: date
    closed_on: date | None
    first_overdue_on: date
    policy: str
    officer: str | None
    officer_id: int | None
    uncooperative: bool
    malicious: bool
    as_of: date
    items: list[ItemLine]
    principal_outstanding: int
    fee_outstanding: int
    total_due: int
    credit: int
    payments: list[Payment]
    promises: list[PromiseToPay]
    approvals: list[ApprovalRequest]
    tasks: list[OfficerTask]
    inquiries: list[BankInquiry]
    statements: list[EmployerStatement]  # the employer's statements after the demand
    timeline: list[TimelineEntry]

    @property
    def open_promise(self) -> PromiseToPay | None:
        return next((p for p in self.promises if p.status == "open"), None)

    @property
    def pending_approvals(self) -> list[ApprovalRequest]:
        return [a for a in self.approvals if a.status == "pending"]

    @property
    def open_tasks(self) -> list[OfficerTask]:
        return [t for t in self.tasks if t.status == "open"]

    @property
    def unreviewed_statements(self) -> list[EmployerStatement]:
        return [s for s in self.statements if s.kind == "statement" and s.reviewed_on is None]

    @property
    def letters(self) -> list[TimelineEntry]:
        """The case's letters, newest first (for marking one served)."""
        return [e for e in self.timeline if e.channel == "letter" and e.notice_id is not None]


def case_view(
    session: Session, actor: Actor, case_id: int, *, as_of: date, rules: ledger.FeeRules
) -> CaseView:
    case = visible_case(session, actor, case_id)
    employer = session.get(Employer, case.employer_id)
    assert employer is not None and employer.id is not None and case.id is not None
    book = load_books(session, [employer.id])[employer.id]
    pos, items = case_items(book, case.id, as_of, rules)
    officer = session.get(User, case.officer_id) if case.officer_id else None

    def rows(model: type[M], where: ColumnElement[bool], *, order: ColumnElement[Any]) -> list[M]:
        return list(session.execute(select(model).where(where).order_by(order)).scalars())

    return CaseView(
        case_id=case.id,
        employer_id=employer.id,
        employer_code=employer.code,
        employer_name=employer.name,
        district=employer.district,
        contact_name=employer.contact_name,
        mobile=employer.mobile,
        address=employer.address,
        sms_opted_out=employer.sms_opted_out,
        status=case.status,
        closed=CaseStatus(case.status) in CLOSED,
        stage=case.stage,
        stage_step=case.stage_step,
        opened_on=case.opened_on,
        closed_on=case.closed_on,
        first_overdue_on=case.first_overdue_on,
        policy=f"{case.policy_name} {case.policy_version}",
        officer=officer.display_name if officer else None,
        officer_id=case.officer_id,
        uncooperative=case.uncooperative,
        malicious=case.malicious,
        as_of=as_of,
        items=items,
        principal_outstanding=pos.principal_outstanding,
        fee_outstanding=pos.fee_outstanding,
        total_due=pos.total_due,
        credit=pos.credit,
        payments=rows(
            Payment, col(Payment.employer_id) == employer.id, order=col(Payment.paid_on).desc()
        ),
        promises=rows(
            PromiseToPay, col(PromiseToPay.case_id) == case.id, order=col(PromiseToPay.id).desc()
        ),
        approvals=rows(
            ApprovalRequest,
            col(ApprovalRequest.case_id) == case.id,
            order=col(ApprovalRequest.id).desc(),
        ),
        tasks=rows(
            OfficerTask, col(OfficerTask.case_id) == case.id, order=col(OfficerTask.due_on).desc()
        ),
        inquiries=rows(
            BankInquiry,
            col(BankInquiry.case_id) == case.id,
            order=col(BankInquiry.inquired_on).desc(),
        ),
        statements=rows(
            EmployerStatement,
            col(EmployerStatement.case_id) == case.id,
            order=col(EmployerStatement.id).desc(),
        ),
        timeline=case_timeline(session, actor, case.id),
    )
